"""Agreement of each judge with the human consensus within each value of an item key:
``group``, ``model`` or any metadata key (``meta.KEY``). Items without a value are in no
stratum. Every metric of the scale, each as a :class:`~core.audit.figures.Figure`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.audit.figures import Figure
from core.metrics.agreement import check_bootstrap, pair_agreement
from core.metrics.ratings import CONSENSUS, Categories, Ratings
from core.metrics.results import MetricResult
from core.metrics.samples import pair_sample

METADATA_PREFIX = "meta."


def figure_of(result: MetricResult) -> Figure:
    """A metric result as an audit figure."""
    if result.value is None:
        return Figure.missing(result.undefined_reason or "undefined", result.n)
    return Figure(result.value, result.n, result.ci95)


@dataclass(frozen=True)
class StratumAgreement:
    """One rater against the consensus within one stratum (``value`` of the key)."""

    value: str
    rater: str
    n: int
    metrics: dict[str, Figure]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``value``, ``rater``, ``n``, ``metrics`` (name -> figure)."""
        return {"value": self.value, "rater": self.rater, "n": self.n,
                "metrics": {name: f.to_dict() for name, f in self.metrics.items()}}


@dataclass(frozen=True)
class Stratified:
    """Agreement per stratum of ``by`` (``group``, ``model`` or ``meta.KEY``)."""

    by: str
    strata: tuple[StratumAgreement, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``by`` and ``strata``."""
        return {"by": self.by, "strata": [s.to_dict() for s in self.strata]}


def stratified_agreement(ratings: Ratings, categories: Categories, *, by: str,
                         raters: Sequence[str], n_resamples: int = 0, seed: int = 0
                         ) -> Stratified:
    """Each of ``raters`` against ``human:consensus`` (prepared ratings) within each value of
    ``categories`` (values sorted by name). Raises :class:`MetricsInputError` for a bad
    bootstrap setting or a missing consensus (KeyError naming the raters)."""
    check_bootstrap(n_resamples, 0.95)
    base = ratings.column(CONSENSUS)
    scale, k = ratings.dimension.scale, ratings.n_labels
    strata = []
    for code, name in enumerate(categories.names):
        rows = categories.codes == code
        for rater in raters:
            sample = pair_sample(base[rows], ratings.column(rater)[rows], scale, k)
            results = pair_agreement(sample, names=(CONSENSUS, rater),
                                     labels=ratings.dimension.label_values,
                                     n_resamples=n_resamples,
                                     rng=np.random.default_rng([seed, 3_000_000 + len(strata)]))
            strata.append(StratumAgreement(name, rater, round(sample.n[0]) if sample.weights.size
                                           else 0,
                                           {m: figure_of(r) for m, r in results.items()}))
    return Stratified(by, tuple(strata))
