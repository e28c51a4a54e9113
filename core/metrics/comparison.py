"""Typed result of :func:`core.metrics.compare_dimension` and its parts.

Every type has ``to_dict()`` giving the JSON that ``cli.py metrics --json`` prints (key order
included; tests/golden/comparison.json pins it). Readers use the attributes; the JSON form is
for output only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.metrics.consistency import SelfConsistency
from core.metrics.results import ConfusionMatrix, MetricResult


def result_fields(results: Mapping[str, MetricResult]) -> dict[str, Any]:
    """Metric values under their names, plus ``ci95`` and ``undefined`` maps (the JSON form
    of a pair, slice or group entry)."""
    fields: dict[str, Any] = {name: result.value for name, result in results.items()}
    fields["ci95"] = {name: list(r.ci95) for name, r in results.items() if r.ci95 is not None}
    fields["undefined"] = {name: r.undefined_reason for name, r in results.items()
                           if r.undefined_reason is not None}
    return fields


_PAIR_FIELDS = {"slice", "a", "b", "n", "ci95", "undefined", "confusion_matrix"}
_GROUP_FIELDS = {"name", "raters", "alpha_level", "n", "ci95", "undefined"}


def _flat_results(data: Mapping[str, Any], structural: set[str], n: int
                  ) -> dict[str, MetricResult]:
    """The metrics of a JSON pair or group entry (every key that is not ``structural``)."""
    ci95, undefined = data.get("ci95") or {}, data.get("undefined") or {}
    return {name: MetricResult.from_parts(value, n, undefined.get(name), ci95.get(name))
            for name, value in data.items() if name not in structural}


@dataclass(frozen=True)
class Measured:
    """Metric results by name, with lookups that return None for a metric not measured."""

    results: Mapping[str, MetricResult]

    def has(self, metric: str) -> bool:
        """Whether ``metric`` was measured (it applies to the scale)."""
        return metric in self.results

    def value(self, metric: str) -> float | None:
        """The value of ``metric``; None when undefined or not measured."""
        result = self.results.get(metric)
        return None if result is None else result.value

    def ci95(self, metric: str) -> tuple[float, float] | None:
        """The 95 % CI of ``metric``; None when none was computed."""
        result = self.results.get(metric)
        return None if result is None else result.ci95

    def undefined(self, metric: str) -> str | None:
        """Why ``metric`` is undefined; None when defined or not measured."""
        result = self.results.get(metric)
        return None if result is None else result.undefined_reason

    def reasons(self) -> dict[str, str]:
        """Metric name -> reason, for the undefined metrics."""
        return {name: r.undefined_reason for name, r in self.results.items()
                if r.undefined_reason is not None}


@dataclass(frozen=True)
class PairComparison(Measured):
    """Agreement of raters ``a`` and ``b`` on the ``n`` items both labelled; ``slice`` names
    the group or model of a slice entry (None for the whole dimension)."""

    a: str = ""
    b: str = ""
    n: int = 0
    confusion_matrix: ConfusionMatrix | None = None
    slice: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: (``slice``), ``a``, ``b``, ``n``, each metric, ``ci95``, ``undefined``
        and (label scales) ``confusion_matrix``."""
        data: dict[str, Any] = {} if self.slice is None else {"slice": self.slice}
        data.update({"a": self.a, "b": self.b, "n": self.n})
        data.update(result_fields(self.results))
        if self.confusion_matrix is not None:
            data["confusion_matrix"] = self.confusion_matrix.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairComparison:
        """The pair of its JSON form (a non-finite value reads as undefined)."""
        n = int(data["n"])
        matrix = data.get("confusion_matrix")
        return cls(_flat_results(data, _PAIR_FIELDS, n), a=data["a"], b=data["b"], n=n,
                   confusion_matrix=None if matrix is None else ConfusionMatrix.from_dict(matrix),
                   slice=data.get("slice"))


@dataclass(frozen=True)
class GroupComparison(Measured):
    """Agreement within a group of raters (Fleiss' κ, Krippendorff's α at ``alpha_level``)."""

    name: str = ""
    raters: tuple[str, ...] = ()
    alpha_level: str = ""
    n: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``name``, ``raters``, each metric, ``alpha_level``, ``n``, ``ci95``,
        ``undefined``."""
        fields = result_fields(self.results)
        data: dict[str, Any] = {"name": self.name, "raters": list(self.raters)}
        data.update({metric: fields[metric] for metric in self.results})
        data.update({"alpha_level": self.alpha_level, "n": self.n, "ci95": fields["ci95"],
                     "undefined": fields["undefined"]})
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GroupComparison:
        """The group of its JSON form."""
        n = int(data["n"])
        return cls(_flat_results(data, _GROUP_FIELDS, n), name=data["name"],
                   raters=tuple(data["raters"]), alpha_level=data.get("alpha_level", ""), n=n)


@dataclass(frozen=True)
class AggregateInfo:
    """How a derived rater (the human consensus, a jury) was formed: its rule, the items it
    has a value for and the tied items (left out)."""

    method: str
    items: int
    ties: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``method``, ``items``, ``ties``."""
        return {"method": self.method, "items": self.items, "ties": self.ties}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AggregateInfo:
        """The aggregate of its JSON form."""
        return cls(data["method"], int(data["items"]), int(data["ties"]))


@dataclass(frozen=True)
class JuryInfo:
    """A jury (``jury:<name>``), its member judges (without ``judge:``) and its aggregate."""

    name: str
    members: tuple[str, ...]
    aggregate: AggregateInfo

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``name``, ``members``, ``method``, ``items``, ``ties``."""
        return {"name": self.name, "members": list(self.members), **self.aggregate.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JuryInfo:
        """The jury of its JSON form."""
        return cls(data["name"], tuple(data["members"]), AggregateInfo.from_dict(data))


@dataclass(frozen=True)
class VerdictCount:
    """A judge's parsed verdicts and its unparseable outputs (left out of every metric)."""

    rater: str
    parsed: int
    unparseable: int

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``rater``, ``parsed``, ``unparseable``."""
        return {"rater": self.rater, "parsed": self.parsed, "unparseable": self.unparseable}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VerdictCount:
        """The counts of their JSON form."""
        return cls(data["rater"], int(data["parsed"]), int(data["unparseable"]))


@dataclass(frozen=True)
class RaterBias:
    """One rater's leniency and error rates against the reference on ``n`` shared items.

    ``measures`` (in output order): ``positive_rate``, ``reference_positive_rate``,
    ``leniency`` (scales with a positive label), ``false_positive_rate``,
    ``false_negative_rate`` (two-label nominal), ``mean_difference`` (ordinal, interval).
    """

    rater: str
    n: int
    measures: Mapping[str, MetricResult]
    positive_label: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``rater``, ``n``, (``positive_label``) and each measure's result."""
        data: dict[str, Any] = {"rater": self.rater, "n": self.n}
        if self.positive_label is not None:
            data["positive_label"] = self.positive_label
        data.update({name: result.to_dict() for name, result in self.measures.items()})
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RaterBias:
        """The bias of its JSON form."""
        measures = {name: MetricResult.from_dict(value) for name, value in data.items()
                    if isinstance(value, Mapping)}
        return cls(data["rater"], int(data["n"]), measures, data.get("positive_label"))


@dataclass(frozen=True)
class BiasReport:
    """Label distributions of every rater (label -> count, or ``n``/``mean``/``sd`` on an
    interval scale) and each judge's and jury's bias against ``reference``."""

    reference: str
    positive_label: str | None
    distributions: Mapping[str, Mapping[str, Any]]
    raters: tuple[RaterBias, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``reference``, ``positive_label``, ``distributions``, ``raters``."""
        return {"reference": self.reference, "positive_label": self.positive_label,
                "distributions": {k: dict(v) for k, v in self.distributions.items()},
                "raters": [entry.to_dict() for entry in self.raters]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BiasReport:
        """The report of its JSON form."""
        return cls(data["reference"], data.get("positive_label"),
                   dict(data.get("distributions") or {}),
                   tuple(RaterBias.from_dict(entry) for entry in data.get("raters") or ()))


@dataclass(frozen=True)
class RankingReport:
    """Model scores (``score`` names the measure) of the reference and every rater, and each
    rater's Kendall τ-b with the reference's ranking."""

    score: str
    reference: str
    models: tuple[str, ...]
    scores: Mapping[str, Mapping[str, float | None]]
    kendall_tau: Mapping[str, MetricResult]

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``score``, ``reference``, ``models``, ``scores``, ``kendall_tau``."""
        return {"score": self.score, "reference": self.reference, "models": list(self.models),
                "scores": {rater: dict(s) for rater, s in self.scores.items()},
                "kendall_tau": {rater: tau.to_dict() for rater, tau in self.kendall_tau.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RankingReport:
        """The report of its JSON form."""
        return cls(data["score"], data["reference"], tuple(data["models"]),
                   {rater: dict(scores) for rater, scores in data["scores"].items()},
                   {rater: MetricResult.from_dict(tau) for rater, tau
                    in data["kendall_tau"].items()})


@dataclass(frozen=True)
class SwappedConsistency:
    """A judge's position consistency: percent agreement with its ``@swapped`` run."""

    swapped: str
    result: MetricResult

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``swapped`` and the result's ``value``, ``n``, ``ci95``, ``undefined``."""
        return {"swapped": self.swapped, **self.result.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SwappedConsistency:
        """The consistency of its JSON form."""
        return cls(data["swapped"], MetricResult.from_dict(data))


@dataclass(frozen=True)
class PreferenceReport:
    """Pairwise preference: each judge's and jury's accuracy against the human consensus and
    each judge's position consistency."""

    accuracy: Mapping[str, MetricResult]
    position_consistency: Mapping[str, SwappedConsistency]

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``accuracy`` and ``position_consistency`` by rater."""
        return {"accuracy": {rater: r.to_dict() for rater, r in self.accuracy.items()},
                "position_consistency": {judge: entry.to_dict() for judge, entry
                                         in self.position_consistency.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PreferenceReport:
        """The report of its JSON form."""
        return cls({rater: MetricResult.from_dict(r) for rater, r in data["accuracy"].items()},
                   {judge: SwappedConsistency.from_dict(entry) for judge, entry
                    in data["position_consistency"].items()})


@dataclass(frozen=True)
class Comparison:
    """Everything :func:`core.metrics.compare_dimension` measures on one dimension.

    ``scale`` is ``nominal`` after binarising (``binarized_at`` the threshold label);
    ``raters`` in output order (humans, ``human:consensus``, judges, juries); ``consensus``
    is None without human labels; ``bias`` and ``ranking`` need a consensus (``ranking``
    also two models and a score); ``preference`` is for A/B preference dimensions only.
    On a ``ranking`` scale (orders of each item's responses) every pair's results are the
    four of :data:`~core.metrics.batch_ranking.RANKING_METRICS` (each with ``n`` and its CI),
    ``consensus`` is the Borda order, and ``groups``, ``labels``, ``bias``, ``ranking``,
    ``preference`` and ``self_consistency`` are empty (they are defined on labels).
    """

    dimension: str
    scale: str
    binarized_at: str | None
    raters: tuple[str, ...]
    pairs: tuple[PairComparison, ...]
    groups: tuple[GroupComparison, ...]
    labels: tuple[str, ...]
    consensus: AggregateInfo | None
    juries: tuple[JuryInfo, ...] = ()
    bias: BiasReport | None = None
    ranking: RankingReport | None = None
    preference: PreferenceReport | None = None
    verdicts: tuple[VerdictCount, ...] = ()
    self_consistency: tuple[SelfConsistency, ...] = ()

    def pair(self, a: str, b: str) -> PairComparison | None:
        """The pair of raters ``a`` and ``b`` (either order), or None."""
        for pair in self.pairs:
            if {pair.a, pair.b} == {a, b}:
                return pair
        return None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document ``cli.py metrics --json`` prints (without ``project``)."""
        return {
            "dimension": self.dimension,
            "scale": self.scale,
            "binarized_at": self.binarized_at,
            "raters": list(self.raters),
            "pairs": [pair.to_dict() for pair in self.pairs],
            "groups": [group.to_dict() for group in self.groups],
            "labels": list(self.labels),
            "consensus": None if self.consensus is None else self.consensus.to_dict(),
            "juries": [jury.to_dict() for jury in self.juries],
            "bias": None if self.bias is None else self.bias.to_dict(),
            "ranking": None if self.ranking is None else self.ranking.to_dict(),
            "preference": None if self.preference is None else self.preference.to_dict(),
            "verdicts": [entry.to_dict() for entry in self.verdicts],
            "self_consistency": [entry.to_dict() for entry in self.self_consistency],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        """The comparison of its JSON form (``cli.py metrics --json``; a ``project`` or other
        extra key is ignored, a missing optional part is empty). A non-finite value reads as
        undefined. Raises KeyError for a missing required key (``dimension``, ``scale``,
        ``raters``, ``pairs``, ``groups``)."""
        def optional(key: str, parse: Any) -> Any:
            value = data.get(key)
            return None if value is None else parse(value)

        return cls(
            dimension=data["dimension"], scale=data["scale"],
            binarized_at=data.get("binarized_at"), raters=tuple(data["raters"]),
            pairs=tuple(PairComparison.from_dict(p) for p in data["pairs"]),
            groups=tuple(GroupComparison.from_dict(g) for g in data["groups"]),
            labels=tuple(data.get("labels") or ()),
            consensus=optional("consensus", AggregateInfo.from_dict),
            juries=tuple(JuryInfo.from_dict(j) for j in data.get("juries") or ()),
            bias=optional("bias", BiasReport.from_dict),
            ranking=optional("ranking", RankingReport.from_dict),
            preference=optional("preference", PreferenceReport.from_dict),
            verdicts=tuple(VerdictCount.from_dict(v) for v in data.get("verdicts") or ()),
            self_consistency=tuple(_self_consistency(entry)
                                   for entry in data.get("self_consistency") or ()))


def _self_consistency(data: Mapping[str, Any]) -> SelfConsistency:
    return SelfConsistency(data["rater"], int(data["samples"]), int(data["items"]),
                           {name: MetricResult.from_dict(value) for name, value in data.items()
                            if isinstance(value, Mapping)})


@dataclass(frozen=True)
class DashboardReport:
    """What the dashboard draws for one request: the ``document`` (comparison), the per-slice
    agreement (``slices``: ``group``/``model`` -> entries), the ``items`` left after the item
    filters of ``items_total``, and the juries left out (a member judge not taking part)."""

    document: Comparison
    slices: Mapping[str, tuple[PairComparison, ...]] = field(default_factory=dict)
    items: int = 0
    items_total: int = 0
    juries_dropped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form: ``document``, ``slices``, ``items``, ``items_total``, ``juries_dropped``."""
        return {"document": self.document.to_dict(),
                "slices": {by: [e.to_dict() for e in entries] for by, entries in self.slices.items()},
                "items": self.items, "items_total": self.items_total,
                "juries_dropped": list(self.juries_dropped)}
