"""Ranking agreement: do a judge and the humans rank the evaluated models alike?

Each rater scores each model (the ``model`` of the items) from the items it labelled: the
rate of the positive label on a two-label nominal scale (accuracy, for ``correctness``), the
mean scale position (1 = lowest label) on an ordinal scale, the mean score on an interval
scale. Kendall's τ-b between a rater's model scores and the reference's (the human consensus)
says whether the judge would pick the same winner: a judge can have a low κ yet rank models
well, and the reverse.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import kendalltau

from core.metrics.comparison import RankingReport
from core.metrics.ratings import Ratings
from core.metrics.results import MetricResult
from core.metrics.views import positive_label


def score_name(ratings: Ratings) -> str | None:
    """What a model's score is on this dimension, or None when models cannot be ranked
    (a nominal scale without a positive label, e.g. A/B/tie)."""
    dimension = ratings.dimension
    if dimension.scale == "interval":
        return "mean score"
    if dimension.scale == "ordinal":
        return "mean scale position (1 = lowest label)"
    positive = positive_label(dimension)
    return None if positive is None else f"rate of {positive!r}"


def model_scores(ratings: Ratings, rater: str, models: Sequence[str], index: np.ndarray
                 ) -> dict[str, float | None]:
    """The rater's score of each model (None where it labelled none of that model's items);
    ``index`` gives each item's position in ``models`` (-1: no model)."""
    column = ratings.column(rater)
    if ratings.dimension.scale == "nominal":
        column = np.where(np.isnan(column), np.nan, (column == 0).astype(float))
    elif ratings.dimension.scale == "ordinal":
        column = column + 1
    used = (index >= 0) & ~np.isnan(column)
    counts = np.bincount(index[used], minlength=len(models))
    totals = np.bincount(index[used], weights=column[used], minlength=len(models))
    return {model: (float(totals[i] / counts[i]) if counts[i] else None)
            for i, model in enumerate(models)}


def ranking_tau(scores: dict[str, float | None], reference: dict[str, float | None]
                ) -> MetricResult:
    """Kendall's τ-b between two model-score maps over the models both scored."""
    common = [m for m in scores if scores[m] is not None and reference.get(m) is not None]
    n = len(common)
    if n < 2:
        return MetricResult.undefined(n, f"fewer than 2 models scored by both (n = {n})")
    mine = np.array([scores[m] for m in common])
    theirs = np.array([reference[m] for m in common])
    if np.all(mine == mine[0]) or np.all(theirs == theirs[0]):
        return MetricResult.undefined(n, "every model got the same score from one of the raters")
    return MetricResult(float(kendalltau(mine, theirs).statistic), n)


def ranking_report(ratings: Ratings, raters: Sequence[str], reference: str
                   ) -> RankingReport | None:
    """Model scores of the reference and every rater, and each rater's τ-b against the
    reference; None when the items carry fewer than two models or the scale has no score."""
    score = score_name(ratings)
    if score is None:
        return None
    models, index = list(ratings.models.names), ratings.models.codes
    if len(models) < 2:
        return None
    reference_scores = model_scores(ratings, reference, models, index)
    scores = {reference: reference_scores}
    taus = {}
    for rater in raters:
        scores[rater] = model_scores(ratings, rater, models, index)
        taus[rater] = ranking_tau(scores[rater], reference_scores)
    return RankingReport(score, reference, tuple(models), scores, taus)
