"""Labels of many raters on many items, encoded for the metrics.

A :class:`Ratings` is an items x raters matrix of numbers: nominal and ordinal labels become
their 0-based position in the schema's label list (``Dimension.label_values``), interval
labels their value, ranking labels (orders of an item's responses) their order code
(``"2,1,4,3"`` -> ``2143``, :func:`core.metrics.batch_ranking.order_code`), and a missing
label is NaN. Encoding over the schema's list, not over the
labels that happen to occur, keeps ordinal distances right and lets Krippendorff's alpha and
Gwet's AC1 see the whole scale.

Rater names carry their kind: ``human:<annotator>``, ``judge:<judge>``, and the derived
raters ``human:consensus`` and ``jury:<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from core.metrics.batch_ranking import encode_orders, is_order_code
from core.metrics.results import NotApplicable
from core.rank_order import Order, RankingError, order_of
from core.schema import Dimension

HUMAN = "human"
JUDGE = "judge"
JURY = "jury"
CONSENSUS = "human:consensus"
RATER_KINDS = (HUMAN, JUDGE, JURY)


class MetricsInputError(ValueError):
    """Labels or options cannot be scored as given; the message names the rater/label/option."""


def stored_order(label: str, dimension: str) -> Order:
    """The order a stored label of ranking ``dimension`` holds (``"2,1,4,3"`` -> ``(2, 1, 4,
    3)``). Raises :class:`MetricsInputError` naming the label and the dimension when it is not
    an order (the database was written by hand, or by a broken import)."""
    try:
        return order_of(label)
    except RankingError as exc:
        raise MetricsInputError(f"stored label {label!r} of ranking dimension {dimension!r} is "
                                f"not an order: {exc}") from None


class NotApplicableError(MetricsInputError):
    """An analysis asked for on a dimension whose scale it is not defined on; ``not_applicable``
    says which and why (:meth:`~core.metrics.results.NotApplicable.sentence` is the message)."""

    def __init__(self, not_applicable: NotApplicable) -> None:
        super().__init__(not_applicable.sentence())
        self.not_applicable = not_applicable


def rater_kind(name: str) -> str:
    """Return ``human``, ``judge`` or ``jury`` for a prefixed rater name; raises
    :class:`MetricsInputError` for a name without a known prefix."""
    kind = name.split(":", 1)[0]
    if kind not in RATER_KINDS or ":" not in name:
        raise MetricsInputError(f"rater {name!r} must start with one of "
                                f"{', '.join(k + ':' for k in RATER_KINDS)}")
    return kind


@dataclass(frozen=True, eq=False)
class Categories:
    """A text column stored as codes: item ``i`` has ``names[codes[i]]``, or nothing if -1."""

    names: tuple[str, ...]
    codes: np.ndarray

    @classmethod
    def of(cls, values: Sequence[str | None] | None, n_items: int) -> Categories:
        """Encode ``values`` (None = no value) with the distinct names sorted; all -1 if None.

        Raises :class:`MetricsInputError` when the length is not ``n_items``."""
        if values is None:
            return cls((), np.full(n_items, -1, dtype=np.int64))
        if len(values) != n_items:
            raise MetricsInputError(f"got {len(values)} values for {n_items} items")
        seen: dict[str, int] = {}
        first = np.fromiter((-1 if v is None else seen.setdefault(v, len(seen)) for v in values),
                            dtype=np.int64, count=n_items)
        names = sorted(seen)
        position = {name: i for i, name in enumerate(names)}
        remap = np.array([position[name] for name in seen] + [-1], dtype=np.int64)
        return cls(tuple(names), remap[first])

    def values(self) -> list[str | None]:
        """The decoded column."""
        return [self.names[c] if c >= 0 else None for c in self.codes.tolist()]


@dataclass(frozen=True, eq=False)
class Ratings:
    """Items x raters label matrix of one dimension, with each item's id, model and group.

    ``values[i, r]`` is rater ``r``'s label on item ``i`` (a label code for nominal/ordinal,
    the number for interval, the order code for ranking) or NaN when that rater did not label
    that item. ``models`` and ``groups`` are the items' ``model`` and ``group`` (none when not
    given). ``unparseable`` (items x raters, bool; default all False) marks a judge verdict
    that exists but did not parse to a label: its value is NaN (never counted as a label), and
    it is counted apart.
    """

    dimension: Dimension
    raters: tuple[str, ...]
    values: np.ndarray
    item_ids: np.ndarray
    models: Categories = field(default=None)  # type: ignore[assignment]
    groups: Categories = field(default=None)  # type: ignore[assignment]
    unparseable: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        n_items = len(self.item_ids)
        if self.values.shape != (n_items, len(self.raters)):
            raise MetricsInputError(
                f"values have shape {self.values.shape}, expected ({n_items}, {len(self.raters)}) "
                "(items x raters)")
        if self.unparseable is None:
            object.__setattr__(self, "unparseable", np.zeros(self.values.shape, dtype=bool))
        elif self.unparseable.shape != self.values.shape or self.unparseable.dtype != bool:
            raise MetricsInputError(f"unparseable must be a bool matrix of shape {self.values.shape}")
        elif (self.unparseable & ~np.isnan(self.values)).any():
            raise MetricsInputError("a verdict cannot be both a label and unparseable")
        if len(set(self.raters)) != len(self.raters):
            raise MetricsInputError(f"duplicate rater names in {list(self.raters)}")
        for name in self.raters:
            rater_kind(name)
        for attribute in ("models", "groups"):
            column = getattr(self, attribute)
            if column is None:
                object.__setattr__(self, attribute, Categories.of(None, n_items))
            elif not isinstance(column, Categories):
                object.__setattr__(self, attribute, Categories.of(column, n_items))
            elif len(column.codes) != n_items:
                raise MetricsInputError(f"{attribute} has {len(column.codes)} entries for "
                                        f"{n_items} items")
        if self.dimension.is_ranking:
            codes = np.unique(self.values[~np.isnan(self.values)])
            wrong = [code for code in codes.tolist() if not is_order_code(code)]
            if wrong:
                raise MetricsInputError(f"ranking labels of dimension {self.dimension.name!r} "
                                        f"must be order codes (2143 for 2,1,4,3), got {wrong[0]!r}")
        elif self.dimension.scale != "interval" and self.values.size:
            k = len(self.dimension.labels)
            with np.errstate(invalid="ignore"):
                whole = np.isnan(self.values) | (np.rint(self.values) == self.values)
            low, high = np.nanmin(self.values, initial=0), np.nanmax(self.values, initial=0)
            if low < 0 or high > k - 1 or not whole.all():
                raise MetricsInputError(
                    f"label codes of dimension {self.dimension.name!r} must be integers 0..{k - 1}")

    @property
    def n_labels(self) -> int:
        """Number of labels on the scale (0 for an interval or ranking dimension)."""
        return len(self.dimension.labels)

    @cached_property
    def codes(self) -> np.ndarray:
        """Integer label codes (items x raters) with a missing label as ``n_labels``: the
        input of the table and count builders, computed once (nominal/ordinal only; raises
        :class:`MetricsInputError` otherwise)."""
        if self.dimension.scale == "interval":
            raise MetricsInputError("an interval dimension has scores, not label codes")
        if self.dimension.is_ranking:
            raise MetricsInputError("a ranking dimension has orders, not label codes")
        return np.where(np.isnan(self.values), self.n_labels, self.values).astype(np.int64)

    def column(self, rater: str) -> np.ndarray:
        """Return one rater's labels (a view); raises KeyError naming the known raters."""
        try:
            return self.values[:, self.raters.index(rater)]
        except ValueError:
            raise KeyError(f"unknown rater {rater!r} (raters: {', '.join(self.raters)})") from None

    def of_kind(self, kind: str) -> tuple[str, ...]:
        """The raters of one kind (``human``, ``judge``, ``jury``), in matrix order."""
        return tuple(name for name in self.raters if rater_kind(name) == kind)

    def unparseable_count(self, rater: str) -> int:
        """How many of ``rater``'s verdicts did not parse to a label (KeyError if unknown)."""
        self.column(rater)
        return int(self.unparseable[:, self.raters.index(rater)].sum())

    def replace(self, *, dimension: Dimension | None = None, values: np.ndarray | None = None
                ) -> Ratings:
        """Return a copy with another dimension and/or value matrix (same raters and items)."""
        return Ratings(dimension or self.dimension, self.raters,
                       self.values if values is None else values, self.item_ids, self.models,
                       self.groups, self.unparseable)


def encode_labels(dimension: Dimension, labels: Sequence[str | None], *, rater: str = "?"
                  ) -> np.ndarray:
    """Return labels as floats: label codes (nominal/ordinal), numbers (interval) or order
    codes (ranking, e.g. ``"2,1,4,3"`` -> 2143), NaN if None.

    Labels must be canonical (as stored after import). Raises :class:`MetricsInputError`
    naming the rater and the first unknown label.
    """
    if dimension.is_ranking:
        try:
            return encode_orders([None if label is None else order_of(label) for label in labels])
        except RankingError as exc:
            raise MetricsInputError(f"rater {rater!r}: {exc} (dimension {dimension.name!r} is "
                                    "a ranking)") from None
    out = np.full(len(labels), np.nan)
    if dimension.scale == "interval":
        for index, label in enumerate(labels):
            if label is not None:
                try:
                    out[index] = float(label)
                except ValueError:
                    raise MetricsInputError(
                        f"rater {rater!r}: {label!r} is not a number (dimension "
                        f"{dimension.name!r} is interval)") from None
        return out
    lookup = {value: code for code, value in enumerate(dimension.label_values)}
    codes = [lookup.get(label, -1) if label is not None else -2 for label in labels]
    array = np.asarray(codes, dtype=float)
    unknown = np.flatnonzero(array == -1)
    if unknown.size:
        raise MetricsInputError(
            f"rater {rater!r}: unknown label {labels[unknown[0]]!r} for dimension "
            f"{dimension.name!r} (labels: {', '.join(dimension.label_values)})")
    array[array == -2] = np.nan
    return array


def ratings_from_columns(dimension: Dimension, item_ids: Sequence[str],
                         columns: Mapping[str, Sequence[str | None]], *,
                         models: Sequence[str | None] | None = None,
                         groups: Sequence[str | None] | None = None) -> Ratings:
    """Build :class:`Ratings` from one label list per rater (None = no label).

    Raises :class:`MetricsInputError` for an unknown label or a column of the wrong length.
    """
    n_items = len(item_ids)
    for rater, labels in columns.items():
        if len(labels) != n_items:
            raise MetricsInputError(f"rater {rater!r} has {len(labels)} labels for {n_items} items")
    values = np.column_stack([encode_labels(dimension, labels, rater=rater)
                              for rater, labels in columns.items()]) if columns else (
        np.empty((n_items, 0)))
    return Ratings(dimension, tuple(columns), values, np.asarray(item_ids, dtype=object),
                   Categories.of(models, n_items), Categories.of(groups, n_items))
