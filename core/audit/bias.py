"""The bias card of one judge against the human consensus (pure; every figure with a CI).

All functions take ratings already prepared by :func:`prepare` (``@swapped`` runs aligned so
A and B mean the same for every rater, and the ``human:consensus`` column added) and compare
the judge with the consensus on the items both labelled.

* Position (pairwise A/B): *consistency* — share of items on which the judge and its
  ``@swapped`` run agree; *first_position_rate* — share of the decisive (A or B) verdicts of
  both runs that chose the response shown first (0.5 = no position preference); *flip_rate* —
  on items where the humans' majority says A or B, share where the judge's verdict changed
  when the order was swapped.
* Length (pairwise): *longer_rate* — on items where the human consensus is a tie or the
  shorter response, how often the judge picks the longer one; *human_longer_rate* — how often
  the individual annotators did on the same items; *difference* = judge − humans. Scales:
  *length_correlation* — Spearman's ρ of (judge − consensus) with the response length.
* Self-preference: on pairwise items where exactly one response comes from the judge's model
  family, the win rate the judge gives that response (tie = half) against the consensus's
  (*self_preference* = judge − humans). On scales: the judge's mean score minus the
  consensus's on its own family's responses, less the same difference on other responses (so
  plain leniency does not count as self-preference).
* Leniency (positive-label rate of the judge − of the consensus; mean difference on ordinal
  and interval scales) and error rates (false-positive and false-negative rates, two-label
  scales) against the consensus.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from core.audit.data import ItemFacts, in_family
from core.audit.figures import Bootstrap, Figure, difference, ratio, spearman_figure, sum_figures
from core.metrics.compare import with_derived_raters
from core.metrics.ratings import CONSENSUS, HUMAN, Ratings
from core.metrics.views import SWAPPED_SUFFIX, align_swapped, is_preference, positive_label

NO_CONSENSUS = "no human labels: there is no human consensus to compare with"


def prepare(ratings: Ratings) -> Ratings:
    """``ratings`` with ``@swapped`` runs aligned and the human consensus added (when there
    are human labels)."""
    return with_derived_raters(align_swapped(ratings), {})[0]


class _Figures:
    """to_dict for a dataclass of figures (and plain values)."""

    def to_dict(self) -> dict[str, Any]:
        """Each figure as :meth:`Figure.to_dict`; other fields as they are."""
        return {f.name: (v.to_dict() if isinstance(v := getattr(self, f.name), Figure) else v)
                for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class PositionBias(_Figures):
    """Position figures of a judge and its ``@swapped`` run."""

    consistency: Figure
    first_position_rate: Figure
    flip_rate: Figure


@dataclass(frozen=True)
class LengthBias(_Figures):
    """Length figures: pairwise (the first three) or scales (``length_correlation``)."""

    longer_rate: Figure
    human_longer_rate: Figure
    difference: Figure
    length_correlation: Figure


@dataclass(frozen=True)
class SelfPreference(_Figures):
    """Self-preference: ``family`` (None: the judge has none), the judge's and the humans'
    win rate or mean score for own-family responses, and the excess."""

    family: str | None
    judge_own: Figure
    humans_own: Figure
    self_preference: Figure


@dataclass(frozen=True)
class Leniency(_Figures):
    """Positive-label rate difference and mean difference (judge − consensus)."""

    leniency: Figure
    mean_difference: Figure


@dataclass(frozen=True)
class ErrorRates(_Figures):
    """False-positive and false-negative rates of the judge against the consensus."""

    false_positive_rate: Figure
    false_negative_rate: Figure


def _all_missing(cls: type, reason: str, **values: Any) -> Any:
    return cls(**{f.name: values.get(f.name, Figure.missing(reason)) for f in fields(cls)})


def _both(*columns: np.ndarray) -> np.ndarray:
    return np.logical_and.reduce([~np.isnan(c) for c in columns])


def position_bias(ratings: Ratings, judge: str, boot: Bootstrap) -> PositionBias:
    """Position figures of ``judge`` from its ``@swapped`` run (see the module docstring)."""
    if not is_preference(ratings.dimension):
        return _all_missing(PositionBias, "position bias needs a pairwise A/B dimension")
    swapped = judge + SWAPPED_SUFFIX
    if swapped not in ratings.raters:
        return _all_missing(PositionBias, f"no {swapped} run: import or run the judge with the "
                                          "order swapped")
    a, b = ratings.dimension.rank("A"), ratings.dimension.rank("B")
    first, second = ratings.column(judge), ratings.column(swapped)  # second is aligned
    both = _both(first, second)
    f, s = first[both], second[both]
    empty = f"no item labelled by both {judge} and {swapped}"
    # In the swapped run the first-shown response is B once aligned.
    rows = np.column_stack([f == s, np.ones(len(f)), (f == a).astype(float) + (s == b),
                            np.isin(f, (a, b)).astype(float) + np.isin(s, (a, b))])
    found = sum_figures(rows, {"consistency": ratio(0, 1)}, len(f), empty, boot)
    found |= sum_figures(rows, {"first_position_rate": ratio(2, 3)}, len(f),
                         "no A or B verdict in either order (only ties)", boot)
    if CONSENSUS in ratings.raters:
        consensus = ratings.column(CONSENSUS)
        decided = both & np.isin(consensus, (a, b))
        flips = np.column_stack([first[decided] != second[decided], np.ones(decided.sum())])
        found |= sum_figures(flips, {"flip_rate": ratio(0, 1)}, int(decided.sum()),
                             "no item with a human A or B majority labelled in both orders", boot)
    else:
        found["flip_rate"] = Figure.missing(NO_CONSENSUS)
    return PositionBias(**found)


def length_bias(ratings: Ratings, judge: str, facts: ItemFacts, boot: Bootstrap) -> LengthBias:
    """Length figures of ``judge`` (see the module docstring)."""
    if CONSENSUS not in ratings.raters:
        return _all_missing(LengthBias, NO_CONSENSUS)
    judged, consensus = ratings.column(judge), ratings.column(CONSENSUS)
    if is_preference(ratings.dimension):
        scale = "length_correlation is for single-answer scales; this dimension is pairwise"
        a, b = ratings.dimension.rank("A"), ratings.dimension.rank("B")
        la, lb = facts.length_a, facts.length_b
        if np.isnan(la).all() or np.isnan(lb).all():
            return _all_missing(LengthBias, "the items have no response_a/response_b texts",
                                length_correlation=Figure.missing(scale))
        longer = np.where(la > lb, a, np.where(lb > la, b, np.nan))
        eligible = _both(judged, consensus, longer) & (consensus != longer)
        humans = [i for i, name in enumerate(ratings.raters)
                  if name.startswith(f"{HUMAN}:") and name != CONSENSUS]
        human = ratings.values[eligible][:, humans]
        rows = np.column_stack([judged[eligible] == longer[eligible], np.ones(eligible.sum()),
                                (human == longer[eligible][:, None]).sum(axis=1),
                                (~np.isnan(human)).sum(axis=1)])
        judge_rate, human_rate = ratio(0, 1), ratio(2, 3)
        found = sum_figures(rows, {"longer_rate": judge_rate, "human_longer_rate": human_rate,
                                   "difference": difference(judge_rate, human_rate)},
                            int(eligible.sum()), "no item of different lengths where the human "
                            "consensus is a tie or the shorter response", boot)
        return LengthBias(**found, length_correlation=Figure.missing(scale))
    pairwise = "longer/shorter rates are for pairwise A/B dimensions"
    score = item_scores(ratings, judge), item_scores(ratings, CONSENSUS)
    if score[0] is None or score[1] is None:
        correlation = Figure.missing("a nominal scale without a positive label has no score")
    elif np.isnan(facts.length).all():
        correlation = Figure.missing("the items have no response text to measure")
    else:
        correlation = spearman_figure(score[0] - score[1], facts.length, boot)
    return _all_missing(LengthBias, pairwise, length_correlation=correlation)


def item_scores(ratings: Ratings, rater: str) -> np.ndarray | None:
    """A rater's per-item score: the value (interval), the scale position (ordinal), 1 for
    the positive label and 0 otherwise (two-label nominal); None for other nominal scales."""
    column = ratings.column(rater)
    dimension = ratings.dimension
    if dimension.scale != "nominal":
        return column
    positive = positive_label(dimension)
    if positive is None:
        return None
    return np.where(np.isnan(column), np.nan, (column == dimension.rank(positive)).astype(float))


def self_preference(ratings: Ratings, judge: str, family: str | None, facts: ItemFacts,
                    boot: Bootstrap) -> SelfPreference:
    """Self-preference figures of ``judge`` whose model family is ``family``."""
    if family is None:
        return _all_missing(SelfPreference, "no family: the judge's definition names no model "
                                            "family (imported judges have none)", family=None)
    if CONSENSUS not in ratings.raters:
        return _all_missing(SelfPreference, NO_CONSENSUS, family=family)
    judged, consensus = ratings.column(judge), ratings.column(CONSENSUS)
    if is_preference(ratings.dimension):
        a, b = ratings.dimension.rank("A"), ratings.dimension.rank("B")
        own_a = np.array([in_family(m, family) for m in facts.model_a.values()], dtype=bool)
        own_b = np.array([in_family(m, family) for m in facts.model_b.values()], dtype=bool)
        if facts.model_a.codes.max(initial=-1) < 0:
            return _all_missing(SelfPreference, "the items have no model_a/model_b",
                                family=family)
        mine = np.where(own_a & ~own_b, a, np.where(own_b & ~own_a, b, np.nan))
        used = _both(judged, consensus, mine)
        other = np.where(mine == a, b, a)[used]

        def won(column: np.ndarray) -> np.ndarray:
            return np.where(column[used] == mine[used], 1.0,
                            np.where(column[used] == other, 0.0, 0.5))

        rows = np.column_stack([won(judged), won(consensus), np.ones(used.sum())])
        judge_rate, human_rate = ratio(0, 2), ratio(1, 2)
        found = sum_figures(rows, {"judge_own": judge_rate, "humans_own": human_rate,
                                   "self_preference": difference(judge_rate, human_rate)},
                            int(used.sum()), f"no item comparing a {family!r} response with "
                            "another family's, labelled by the judge and the humans", boot)
        return SelfPreference(family, **found)
    scores = item_scores(ratings, judge), item_scores(ratings, CONSENSUS)
    if scores[0] is None or scores[1] is None:
        return _all_missing(SelfPreference, "a nominal scale without a positive label has no "
                                            "score", family=family)
    if ratings.models.codes.max(initial=-1) < 0:
        return _all_missing(SelfPreference, "the items have no model", family=family)
    own = np.array([in_family(m, family) for m in ratings.models.values()], dtype=bool)
    has_model = ratings.models.codes >= 0
    used = _both(scores[0], scores[1]) & has_model
    j, c, o = scores[0][used], scores[1][used], own[used].astype(float)
    rows = np.column_stack([o * j, o * c, o, (1 - o) * (j - c), 1 - o])
    judge_own, humans_own = ratio(0, 2), ratio(1, 2)

    def excess(sums: np.ndarray) -> np.ndarray:
        return judge_own(sums) - humans_own(sums) - ratio(3, 4)(sums)

    found = sum_figures(rows, {"judge_own": judge_own, "humans_own": humans_own},
                        int(used.sum()), f"no {family!r} response labelled by the judge and "
                        "the humans", boot)
    found |= sum_figures(rows, {"self_preference": excess}, int(used.sum()),
                         f"needs responses of the {family!r} family and of others, labelled "
                         "by the judge and the humans", boot)
    return SelfPreference(family, **found)


def leniency(ratings: Ratings, judge: str, boot: Bootstrap) -> Leniency:
    """Leniency of ``judge`` against the consensus (see the module docstring)."""
    if CONSENSUS not in ratings.raters:
        return _all_missing(Leniency, NO_CONSENSUS)
    judged, consensus = ratings.column(judge), ratings.column(CONSENSUS)
    used = _both(judged, consensus)
    empty = f"no item labelled by both {judge} and the human consensus"
    dimension = ratings.dimension
    positive = positive_label(dimension)
    if positive is None:
        rate = Figure.missing("the scale has no positive label (e.g. A/B/tie)")
    else:
        code = dimension.rank(positive) if dimension.scale != "interval" else None
        rows = np.column_stack([judged[used] == code, consensus[used] == code, np.ones(used.sum())])
        rate = sum_figures(rows, {"x": difference(ratio(0, 2), ratio(1, 2))}, int(used.sum()),
                           empty, boot)["x"]
    if dimension.scale in ("ordinal", "interval"):
        rows = np.column_stack([judged[used] - consensus[used], np.ones(used.sum())])
        mean = sum_figures(rows, {"x": ratio(0, 1)}, int(used.sum()), empty, boot)["x"]
    else:
        mean = Figure.missing("a nominal scale has no mean difference")
    return Leniency(rate, mean)


def error_rates(ratings: Ratings, judge: str, boot: Bootstrap) -> ErrorRates:
    """False-positive rate (positive where the consensus says negative) and false-negative
    rate of ``judge``; two-label nominal scales only (binarise others first)."""
    dimension = ratings.dimension
    if dimension.scale != "nominal" or len(dimension.labels) != 2:
        return _all_missing(ErrorRates, "error rates need a two-label scale (binarise it)")
    if CONSENSUS not in ratings.raters:
        return _all_missing(ErrorRates, NO_CONSENSUS)
    judged, consensus = ratings.column(judge), ratings.column(CONSENSUS)
    used = _both(judged, consensus)
    j, c = judged[used], consensus[used]
    # Code 0 is the positive label of a two-label nominal scale.
    fp = sum_figures(np.column_stack([(j == 0) & (c == 1), c == 1]), {"x": ratio(0, 1)},
                     int((c == 1).sum()), "the human consensus gave no pairable item the "
                     "negative label", boot)["x"]
    fn = sum_figures(np.column_stack([(j == 1) & (c == 0), c == 0]), {"x": ratio(0, 1)},
                     int((c == 0).sum()), "the human consensus gave no pairable item the "
                     "positive label", boot)["x"]
    return ErrorRates(fp, fn)
