"""Result types of the metrics: a value that knows its n and why it may be undefined, and an
analysis that does not apply to a dimension's scale, with the reason."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NOT_FINITE = "not a finite number"


@dataclass(frozen=True)
class MetricResult:
    """One metric value.

    ``value`` is None exactly when the metric is undefined on this data, and then
    ``undefined_reason`` says why (never a bare NaN, never a silent 0). ``n`` is the number of
    items the value rests on (pairable items for a pair, items with two or more labels for a
    group). ``ci95`` is the bootstrap percentile interval, when one was computed.
    """

    value: float | None
    n: int
    undefined_reason: str | None = None
    ci95: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"a metric value must be finite or None, got {self.value!r}")
        if (self.value is None) != (self.undefined_reason is not None):
            raise ValueError("a metric is either defined (value) or undefined (reason), not both")

    @classmethod
    def undefined(cls, n: int, reason: str) -> MetricResult:
        """An undefined result with its reason."""
        return cls(None, n, reason)

    @classmethod
    def from_parts(cls, value: Any, n: Any, reason: str | None = None,
                   ci95: Any = None) -> MetricResult:
        """A result read back from JSON: a missing or non-finite value is undefined (with
        ``reason``, else :data:`NOT_FINITE` or "no value given"); a defined value drops a
        reason."""
        interval = None if not ci95 else (ci95[0], ci95[1])
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return cls(float(value), int(n), None, interval)
        if reason is None:
            reason = NOT_FINITE if value is not None else "no value given"
        return cls(None, int(n), reason, interval)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricResult:
        """The result of its :meth:`to_dict` form (``value``, ``n``, ``ci95``, ``undefined``)."""
        return cls.from_parts(data.get("value"), data.get("n", 0), data.get("undefined"),
                              data.get("ci95"))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form: value, n, and ci95/undefined when present."""
        data: dict[str, Any] = {"value": self.value, "n": self.n}
        if self.ci95 is not None:
            data["ci95"] = list(self.ci95)
        if self.undefined_reason is not None:
            data["undefined"] = self.undefined_reason
        return data


@dataclass(frozen=True)
class ConfusionMatrix:
    """Counts of (label of a, label of b) over the pairable items; rows are ``a``'s labels."""

    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form: ``{"labels": [...], "counts": [[...], ...]}``."""
        return {"labels": list(self.labels), "counts": [list(row) for row in self.counts]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConfusionMatrix:
        """The matrix of its :meth:`to_dict` form."""
        return cls(tuple(data["labels"]), tuple(tuple(int(c) for c in row)
                                                for row in data["counts"]))


@dataclass(frozen=True)
class NotApplicable:
    """An analysis (``estimates``, ``judge audit``) that is not defined on a dimension's
    scale, and why: what the dashboard, the CLI and the report say instead of its figures."""

    analysis: str
    dimension: str
    scale: str
    reason: str

    def sentence(self) -> str:
        """One sentence for people: "The judge audit does not apply to 'ranking' (a ranking
        dimension): <reason>"."""
        return (f"The {self.analysis} does not apply to {self.dimension!r} (a {self.scale} "
                f"dimension): {self.reason}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form: ``analysis``, ``dimension``, ``scale``, ``reason``."""
        return {"analysis": self.analysis, "dimension": self.dimension, "scale": self.scale,
                "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NotApplicable:
        """The entry of its :meth:`to_dict` form."""
        return cls(data["analysis"], data["dimension"], data["scale"], data["reason"])
