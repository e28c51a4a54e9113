"""Aggregate raters per item: the human consensus and user-defined juries of judges.

* nominal: majority vote. A tie for the top label (2 vs 2, or 1-1-1) gives *no* value for
  that item; the number of tied items is reported, not hidden.
* ordinal: human consensus by majority as above; a jury by the median label. With an even
  number of labels whose two middle labels differ (e.g. 2 and 3) the jury has no value for that
  item and it counts as a tie — picking the lower or upper one would bias the jury.
* interval: the mean of the available scores.
* ranking: the human consensus is the Borda count of the available orders
  (:func:`core.metrics.batch_ranking.borda_consensus`: a response gets n − rank points from
  each order; ties in points go to the response ranked first more often, then to the earlier
  response). Every item with an order gets one, so there are no tied items. Juries combine
  labels and are refused on a ranking (as :mod:`storage.juries` refuses storing one): each
  judge's order is compared with the humans' on its own.

A stored jury names its rule (:class:`Jury`): ``majority`` (nominal, ordinal), ``median``
(ordinal, interval) or ``mean`` (interval); a jury given as a bare member list uses the
scale's default above. A judge that answered several samples per item enters a jury (and the
metrics) with its per-item majority (mean for interval; the Borda order of its orders on a
ranking), see :mod:`storage.labels`.

Raters who did not label an item are left out of that item's vote; an item nobody labelled
has no value (and is not a tie).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.metrics.batch_ranking import borda_codes
from core.metrics.ratings import CONSENSUS, HUMAN, JUDGE, MetricsInputError, Ratings, rater_kind
from core.metrics.samples import label_counts

JURY_METHODS = {"nominal": "majority", "ordinal": "median", "interval": "mean"}
CONSENSUS_METHODS = {"nominal": "majority", "ordinal": "majority", "interval": "mean",
                     "ranking": "borda"}
# The scales each jury rule is defined on: a mean of label codes is no label, and a majority
# of free scores rarely exists.
RULE_SCALES = {"majority": ("nominal", "ordinal"), "median": ("ordinal", "interval"),
               "mean": ("interval",)}
JURY_RULES = tuple(RULE_SCALES)


@dataclass(frozen=True)
class Jury:
    """A jury's member judges (rater names with or without ``judge:``) and its rule (None: the
    scale's default, :data:`JURY_METHODS`)."""

    members: tuple[str, ...]
    rule: str | None = None

    def __post_init__(self) -> None:
        if self.rule is not None and self.rule not in RULE_SCALES:
            raise MetricsInputError(f"jury rule {self.rule!r} is not one of {', '.join(JURY_RULES)}")

    def method(self, scale: str) -> str:
        """The rule used on ``scale``; raises :class:`MetricsInputError` when the rule is not
        defined there (naming the scales it fits), and on a ranking, which no rule fits."""
        if scale == "ranking":
            raise MetricsInputError("juries combine the labels of nominal, ordinal and interval "
                                    "dimensions; on a ranking each judge's order is compared "
                                    "with the humans' on its own")
        if self.rule is None:
            return JURY_METHODS[scale]
        if scale not in RULE_SCALES[self.rule]:
            raise MetricsInputError(f"jury rule {self.rule!r} applies to "
                                    f"{' and '.join(RULE_SCALES[self.rule])} scales, not {scale}")
        return self.rule


def as_jury(value: Jury | Sequence[str]) -> Jury:
    """A :class:`Jury` from a stored jury or a bare member list (the scale's default rule)."""
    return value if isinstance(value, Jury) else Jury(tuple(value))


@dataclass(frozen=True, eq=False)
class Aggregate:
    """Per-item aggregate of several raters: ``values`` (NaN = none), with the number of items
    that got a value and the number left without one because the raters tied."""

    values: np.ndarray
    method: str
    items: int
    ties: int


@dataclass(frozen=True, eq=False)
class TopLabel:
    """The rule "majority wins; a tie decides nothing" applied to label counts (items x
    labels), shared by the human consensus, juries, a judge's samples and the gold export:
    ``top`` votes of the most frequent label, ``decided`` where exactly one label has them,
    ``tied`` where several do, and ``code`` the winning label (-1 where undecided)."""

    code: np.ndarray
    top: np.ndarray
    decided: np.ndarray
    tied: np.ndarray


def top_label(counts: np.ndarray) -> TopLabel:
    """Apply "majority wins; a tie decides nothing" to ``counts`` (items x labels)."""
    top = counts.max(axis=1) if counts.shape[1] else np.zeros(len(counts), dtype=np.int64)
    winners = (counts == top[:, None]).sum(axis=1)
    decided = (top > 0) & (winners == 1)
    code = np.where(decided, counts.argmax(axis=1) if counts.shape[1] else -1, -1)
    return TopLabel(code, top, decided, (top > 0) & (winners > 1))


def majority(values: np.ndarray, n_labels: int) -> Aggregate:
    """Majority label per item (codes, NaN or ``n_labels`` = missing); ties for the top label
    give no value and are counted."""
    found = top_label(label_counts(values, n_labels))
    result = np.where(found.decided, found.code, np.nan)
    return Aggregate(result, "majority", int(found.decided.sum()), int(found.tied.sum()))


def median_label(values: np.ndarray) -> Aggregate:
    """Median label code per item; an even count whose two middle labels differ is a tie."""
    m = (~np.isnan(values)).sum(axis=1)
    ordered = np.sort(np.where(np.isnan(values), np.inf, values), axis=1)
    rows = np.arange(len(values))
    has = m > 0
    low = np.where(has, ordered[rows, np.maximum(m - 1, 0) // 2], np.nan)
    high = np.where(has, ordered[rows, np.minimum(m // 2, values.shape[1] - 1)], np.nan)
    decided = has & (low == high)
    tied = has & (low != high)
    return Aggregate(np.where(decided, low, np.nan), "median", int(decided.sum()), int(tied.sum()))


def mean_score(values: np.ndarray) -> Aggregate:
    """Mean of the available scores per item."""
    present = ~np.isnan(values)
    m = present.sum(axis=1)
    totals = np.where(present, values, 0.0).sum(axis=1)
    result = np.where(m > 0, totals / np.where(m > 0, m, 1), np.nan)
    return Aggregate(result, "mean", int((m > 0).sum()), 0)


def borda(values: np.ndarray) -> Aggregate:
    """The Borda order per item of an items x raters matrix of order codes (NaN = none); an
    item with at least one order always gets one (the tie rule decides), so none is tied."""
    result = borda_codes(values)
    return Aggregate(result, "borda", int((~np.isnan(result)).sum()), 0)


def _aggregate(values: np.ndarray, method: str, n_labels: int) -> Aggregate:
    if method == "borda":
        return borda(values)
    if method == "majority":
        return majority(values, n_labels)
    if method == "median":
        return median_label(values)
    return mean_score(values)


def human_consensus(ratings: Ratings) -> Aggregate:
    """The humans' consensus per item: majority (nominal/ordinal), mean (interval) or Borda
    order (ranking).

    Raises :class:`MetricsInputError` when an annotator is literally called ``consensus``
    (their rater name would be the consensus rater's).
    """
    if CONSENSUS in ratings.raters:
        raise MetricsInputError(
            f"an annotator named 'consensus' clashes with the derived rater {CONSENSUS!r}; "
            "rename the annotator")
    humans = [i for i, name in enumerate(ratings.raters) if rater_kind(name) == HUMAN]
    method = CONSENSUS_METHODS[ratings.dimension.scale]
    source = ratings.codes if method == "majority" else ratings.values
    return _aggregate(source[:, humans], method, ratings.n_labels)


def jury_verdict(ratings: Ratings, members: Sequence[str] | Jury) -> Aggregate:
    """A jury's verdict per item from its member judges (``judge:<name>`` or bare names), by
    the jury's rule, or for a bare member list: majority (nominal), median (ordinal) or mean
    (interval); no jury on a ranking.

    Raises :class:`MetricsInputError` naming an unknown judge (and listing the known ones),
    a jury with fewer than two distinct judges, or a rule not defined on the scale.
    """
    jury = as_jury(members)
    method = jury.method(ratings.dimension.scale)
    members = jury.members
    names = [m if m.startswith(f"{JUDGE}:") else f"{JUDGE}:{m}" for m in members]
    if len(set(names)) < 2:
        raise MetricsInputError(f"a jury needs at least two different judges, got {list(members)}")
    judges = ratings.of_kind(JUDGE)
    for name in names:
        if name not in judges:
            known = ", ".join(j.split(":", 1)[1] for j in judges) or "none"
            raise MetricsInputError(f"unknown judge {name.split(':', 1)[1]!r} in jury (judges: {known})")
    columns = [ratings.raters.index(name) for name in dict.fromkeys(names)]
    source = ratings.codes if method == "majority" else ratings.values
    return _aggregate(source[:, columns], method, ratings.n_labels)
