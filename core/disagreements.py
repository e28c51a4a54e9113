"""Disagreements: items where a judge and the human consensus differ, or the humans differ.

For one dimension (a :class:`~core.metrics.Ratings` of humans and judges) every item gets:

* ``distance``: the largest distance between a judge's label and the human consensus — 1 for
  any different label on a nominal scale, the number of label steps on an ordinal scale, the
  absolute difference on an interval scale;
* ``judges_against``: how many judges are further than ``tolerance`` from the consensus
  (0 on nominal and ordinal scales: any different label; one score unit on interval scales);
* ``human_split``: 1 − the share of the humans' most frequent label (0 = all humans agree;
  1/2 for a 1–1 split, 2/3 for 1–1–1); on an interval scale the range of the human scores;
* ``samples_split``: the same measure over each sampled judge's samples of the item (a judge
  run with ``--samples K``), the largest over the counted judges; NaN when none has two
  parsed samples. ``samples split`` names the judges whose samples disagree.

On a **ranking** dimension (each rater orders the item's responses) two orders *disagree* when
they put a different response first or their Kendall τ is below :data:`RANKING_MIN_TAU` (0.5:
more than a quarter of the response pairs in the opposite order; with four responses, two
adjacent swaps below the top). A judge is against the humans when its order disagrees with
the humans' Borda consensus; ``distance`` is 1 − τ with the consensus (0 = the same order,
2 = reversed); the humans split when two of them disagree, and ``human_split`` is 1 − the
lowest τ between two humans (0 = all gave one order); a judge's samples split when two of
them disagree. ``consensus`` is the Borda order and ``human labels`` each annotator's order
(``ann: 2,1,4,3 · bob: 2,1,3,4``).

The consensus is :func:`core.metrics.human_consensus` (majority; mean on interval scales;
Borda order on rankings). An item whose humans tie has no consensus: its ``distance`` and
``judges_against`` are missing (NaN), its ``consensus`` is ``"tie"``, and it is listed because
the humans split. Judges that did not label an item are left out of that item's measures. On a
pairwise-preference dimension a ``<judge>@swapped`` run has its A and B flipped first, as in
the metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from core.metrics.batch_ranking import code_order, kendall_tau_b
from core.metrics.consensus import human_consensus
from core.metrics.ratings import HUMAN, JUDGE, Categories, MetricsInputError, Ratings
from core.metrics.samples import label_counts
from core.metrics.views import align_swapped
from core.rank_order import format_order
from core.schema import format_number

DEFAULT_INTERVAL_TOLERANCE = 1.0
# Two orders of one item disagree below this Kendall τ (or with a different first response).
RANKING_MIN_TAU = 0.5
SEVERITIES = ("distance", "judges_against", "human_split")
SEVERITY_TITLES = {
    "distance": "distance to the human consensus",
    "judges_against": "number of judges against the humans",
    "human_split": "how split the humans are",
}
JUDGE_VS_HUMANS = "judge vs humans"
HUMANS_SPLIT = "humans split"
BOTH = "both"
SAMPLES_SPLIT = "judge's samples split"  # and nothing else: no judge against, humans agree
KINDS = (JUDGE_VS_HUMANS, HUMANS_SPLIT, BOTH, SAMPLES_SPLIT)
TIE = "tie"
BASE_COLUMNS = ["item", "group", "model", "dimension", "kind", "consensus", "human labels",
                "humans", "human_split", "judges_against", "distance", "against",
                "samples_split", "samples split"]


def _judge_names(ratings: Ratings, judges: Sequence[str] | None) -> list[str]:
    known = ratings.of_kind(JUDGE)
    if judges is None:
        return list(known)
    names = [j if j.startswith(f"{JUDGE}:") else f"{JUDGE}:{j}" for j in judges]
    for name in names:
        if name not in known:
            listed = ", ".join(k.split(":", 1)[1] for k in known) or "none"
            raise MetricsInputError(f"unknown judge {name.split(':', 1)[1]!r} (judges: {listed})")
    return list(dict.fromkeys(names))


def _show(ratings: Ratings, values: np.ndarray) -> np.ndarray:
    """Label text of each value (None for NaN), as an object array."""
    present = ~np.isnan(values)
    out = np.full(len(values), None, dtype=object)
    if ratings.dimension.is_ranking:
        out[present] = [format_order(code_order(v)) for v in values[present]]
    elif ratings.dimension.scale == "interval":
        out[present] = [format_number(float(v)) for v in values[present]]
    else:
        labels = np.array(ratings.dimension.label_values, dtype=object)
        out[present] = labels[values[present].astype(np.int64)]
    return out


def _by_pattern(rows: np.ndarray, describe: Callable[[np.ndarray], str]) -> list[str]:
    """``describe`` of each row, computed once per distinct row (there are few)."""
    if not len(rows):
        return []
    patterns, inverse = np.unique(rows, axis=0, return_inverse=True)
    texts = [describe(pattern) for pattern in patterns]
    return [texts[i] for i in inverse.ravel()]


def _human_summaries(ratings: Ratings, humans: np.ndarray) -> list[str]:
    """Per item, the human labels: ``"correct ×2 · incorrect"``, ``"3, 4, 5"`` (interval) or
    each annotator's order (``"ann: 2,1,3 · bob: 1,2,3"``, ranking)."""
    if ratings.dimension.is_ranking:
        names = [name.split(":", 1)[1] for name in ratings.of_kind(HUMAN)]
        # 0 for no order: NaN rows would not compare equal, so each would be its own pattern.
        return _by_pattern(np.nan_to_num(humans, nan=0.0), lambda row: " · ".join(
            f"{name}: {format_order(code_order(code))}"
            for name, code in zip(names, row, strict=True) if code))
    if ratings.dimension.scale == "interval":
        return [", ".join(format_number(float(v)) for v in sorted(row[~np.isnan(row)]))
                for row in humans]
    labels = ratings.dimension.label_values

    def describe(row: np.ndarray) -> str:
        return " · ".join(labels[k] + (f" ×{row[k]}" if row[k] > 1 else "")
                          for k in np.argsort(-row, kind="stable") if row[k])

    return _by_pattern(label_counts(humans, ratings.n_labels), describe)


def _named(hits: np.ndarray, judges: Sequence[str]) -> list[str]:
    """Per row of ``hits`` (items x judges), the judges hit, comma-separated."""
    return _by_pattern(hits.reshape(len(hits), len(judges)), lambda row: ", ".join(
        name for name, hit in zip(judges, row, strict=True) if hit))


def _names(categories: Categories, codes: np.ndarray) -> np.ndarray:
    names = np.array([*categories.names, None], dtype=object)
    return names[np.where(codes >= 0, codes, len(categories.names))]


def human_split(ratings: Ratings, humans: np.ndarray, *, at_least: int = 1) -> np.ndarray:
    """Per item: 1 − the majority share of the labels in ``humans`` (items x raters; interval:
    their range); NaN for an item with fewer than ``at_least`` labels."""
    present = ~np.isnan(humans)
    n = present.sum(axis=1)
    enough = n >= max(at_least, 1)
    if ratings.dimension.scale == "interval":
        high = np.where(present, humans, -np.inf).max(axis=1, initial=-np.inf)
        low = np.where(present, humans, np.inf).min(axis=1, initial=np.inf)
        return np.where(enough, high - low, np.nan)
    top = label_counts(humans, ratings.n_labels).max(axis=1, initial=0)
    return np.where(enough, 1.0 - top / np.where(n > 0, n, 1), np.nan)


def samples_split(ratings: Ratings, judge_names: Sequence[str],
                  samples: Mapping[str, np.ndarray], *, tolerance: float = 0.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per item: the largest split (:func:`human_split`'s measure) among the samples of each
    judge of ``judge_names`` that has ``samples`` (items x K, NaN = none), NaN where no judge
    has two parsed samples; and items x judges whether that judge's samples differ by more
    than ``tolerance``."""
    splits = np.full((len(ratings.item_ids), len(judge_names)), np.nan)
    for index, name in enumerate(judge_names):
        if name in samples:
            splits[:, index] = human_split(ratings, samples[name], at_least=2)
    has_split = (~np.isnan(splits)).any(axis=1)
    largest = np.where(has_split, np.where(np.isnan(splits), -np.inf, splits)
                       .max(axis=1, initial=-np.inf), np.nan)
    return largest, np.nan_to_num(splits, nan=0.0) > tolerance


def judge_distances(ratings: Ratings, judges: np.ndarray, consensus: np.ndarray) -> np.ndarray:
    """Items x judges distance of each judge's label to the consensus (NaN if either is
    missing): 0/1 on a nominal scale, label steps on an ordinal one, |difference| otherwise."""
    difference = np.abs(judges - consensus[:, None])
    if ratings.dimension.scale == "nominal":
        return np.where(np.isnan(difference), np.nan, (difference > 0).astype(float))
    return difference


def order_agreement(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elementwise Kendall τ of two arrays of order codes (NaN where either is missing) and
    whether the orders disagree: a different first response or τ below
    :data:`RANKING_MIN_TAU` (False where either is missing). Each distinct pair of orders is
    scored once."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    tau = np.full(a.shape, np.nan)
    differ = np.zeros(a.shape, dtype=bool)
    both = ~(np.isnan(a) | np.isnan(b))
    if both.any():
        cells, inverse = np.unique(np.column_stack([a[both], b[both]]), axis=0,
                                   return_inverse=True)
        scored = [(kendall_tau_b(x, y), x[0] != y[0])
                  for x, y in ((code_order(p), code_order(q)) for p, q in cells)]
        taus = np.array([t for t, _ in scored])[inverse.ravel()]
        firsts = np.array([f for _, f in scored])[inverse.ravel()]
        tau[both] = taus
        differ[both] = firsts | (taus < RANKING_MIN_TAU)
    return tau, differ


def order_split(orders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of an items x raters matrix of order codes: 1 − the lowest Kendall τ between
    two of its orders (0 with one order, NaN with none), and whether two of them disagree
    (:func:`order_agreement`)."""
    n_items, n_raters = orders.shape
    present = (~np.isnan(orders)).sum(axis=1)
    lowest = np.where(present >= 1, 1.0, np.nan)
    differ = np.zeros(n_items, dtype=bool)
    for i in range(n_raters):
        for j in range(i + 1, n_raters):
            tau, disagree = order_agreement(orders[:, i], orders[:, j])
            lowest = np.fmin(lowest, tau)
            differ |= disagree
    return 1.0 - lowest, differ


def _ranking_measures(ratings: Ratings, humans: np.ndarray, consensus: np.ndarray,
                      judge_values: np.ndarray, judge_names: Sequence[str],
                      samples: Mapping[str, np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                 np.ndarray]:
    """The ranking form of find_disagreements' measures: human split and whether the humans
    differ, each judge's distance 1 − τ and whether it is against the consensus, the largest
    samples split and items x judges whether a judge's samples differ."""
    split, humans_differ = order_split(humans)
    tau, against = order_agreement(judge_values, consensus[:, None])
    splits = np.full((len(ratings.item_ids), len(judge_names)), np.nan)
    hits = np.zeros(splits.shape, dtype=bool)
    for index, name in enumerate(judge_names):
        if name in samples:
            values = np.asarray(samples[name], dtype=float)
            spread, hits[:, index] = order_split(values)
            splits[:, index] = np.where((~np.isnan(values)).sum(axis=1) >= 2, spread, np.nan)
    has_split = (~np.isnan(splits)).any(axis=1)
    largest = np.where(has_split, np.where(np.isnan(splits), -np.inf, splits)
                       .max(axis=1, initial=-np.inf), np.nan)
    return split, humans_differ, 1.0 - tau, against, largest, hits


def find_disagreements(ratings: Ratings, *, judges: Sequence[str] | None = None,
                       groups: Sequence[str] | None = None, tolerance: float | None = None,
                       min_human_labels: int = 1,
                       samples: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Return one row per disagreeing item of the dimension (unsorted; see
    :func:`sort_disagreements`).

    ``judges`` (names with or without ``judge:``) limits which judges count: an item is listed
    when one of them is against the consensus, or when the humans split (on an interval scale:
    their range exceeds ``tolerance``). ``groups`` keeps items of those groups;
    ``min_human_labels`` keeps items with at least that many human labels. ``samples``
    (``judge:<name>`` -> items x K, as :func:`storage.labels.load_ratings_and_samples` gives)
    also lists the items where a counted judge's samples disagree among themselves. On a
    ranking dimension orders disagree as the module docstring says (``tolerance`` does not
    apply). Columns:
    :data:`BASE_COLUMNS`, then one column per counted judge (``judge:<name>``) with its label.
    Raises :class:`~core.metrics.MetricsInputError` for an unknown judge or a negative
    tolerance.
    """
    scale = ratings.dimension.scale
    if tolerance is None:
        tolerance = DEFAULT_INTERVAL_TOLERANCE if scale == "interval" else 0.0
    if tolerance < 0:
        raise MetricsInputError(f"tolerance must be 0 or more, got {tolerance}")
    ratings = align_swapped(ratings)
    judge_names = _judge_names(ratings, judges)
    human_columns = [ratings.raters.index(h) for h in ratings.of_kind(HUMAN)]
    humans = ratings.values[:, human_columns]
    n_humans = (~np.isnan(humans)).sum(axis=1)
    consensus = (human_consensus(ratings).values if human_columns
                 else np.full(len(ratings.item_ids), np.nan))
    judge_values = ratings.values[:, [ratings.raters.index(j) for j in judge_names]]
    if ratings.dimension.is_ranking:
        split, humans_differ, distances, against, sampled, sample_hits = _ranking_measures(
            ratings, humans, consensus, judge_values, judge_names, samples or {})
    else:
        split = human_split(ratings, humans)
        distances = judge_distances(ratings, judge_values, consensus)
        against = np.nan_to_num(distances, nan=0.0) > tolerance
        humans_differ = np.nan_to_num(split, nan=0.0) > (tolerance if scale == "interval"
                                                         else 0.0)
        sampled, sample_hits = samples_split(ratings, judge_names, samples or {},
                                             tolerance=tolerance if scale == "interval" else 0.0)
    decided = ~np.isnan(consensus)
    count_against = np.where(decided, against.sum(axis=1), np.nan)
    has_distance = (~np.isnan(distances)).any(axis=1)
    distance = np.where(has_distance, np.where(np.isnan(distances), -np.inf, distances)
                        .max(axis=1, initial=-np.inf), np.nan)
    judge_differs = against.any(axis=1)
    samples_differ = sample_hits.any(axis=1)
    keep = (n_humans >= max(min_human_labels, 1)) & (judge_differs | humans_differ
                                                      | samples_differ)
    if groups is not None:
        wanted = [ratings.groups.names.index(g) for g in groups if g in ratings.groups.names]
        keep &= np.isin(ratings.groups.codes, wanted)
    rows = np.flatnonzero(keep)

    kind = np.where(judge_differs & humans_differ, BOTH,
                    np.where(judge_differs, JUDGE_VS_HUMANS,
                             np.where(humans_differ, HUMANS_SPLIT, SAMPLES_SPLIT)))[rows]
    consensus_text = _show(ratings, consensus[rows])
    consensus_text[pd.isna(consensus_text) & (n_humans[rows] >= 2)] = TIE
    short = [j.split(":", 1)[1] for j in judge_names]
    frame = pd.DataFrame({
        "item": ratings.item_ids[rows].astype(str),
        "group": pd.array(_names(ratings.groups, ratings.groups.codes[rows]), dtype="str"),
        "model": pd.array(_names(ratings.models, ratings.models.codes[rows]), dtype="str"),
        "dimension": ratings.dimension.name,
        "kind": kind,
        "consensus": pd.array(consensus_text, dtype="str"),
        "human labels": _human_summaries(ratings, humans[rows]),
        "humans": n_humans[rows],
        "human_split": split[rows],
        "judges_against": count_against[rows],
        "distance": distance[rows],
        "against": _named(against[rows], short),
        "samples_split": sampled[rows],
        "samples split": _named(sample_hits[rows], short),
    }, columns=BASE_COLUMNS)
    for index, name in enumerate(judge_names):
        frame[name] = pd.array(_show(ratings, judge_values[rows, index]), dtype="str")
    return frame


def sort_disagreements(frame: pd.DataFrame, by: str = "distance") -> pd.DataFrame:
    """Return ``frame`` most severe first by ``by`` (one of :data:`SEVERITIES`), ties broken
    by the other severities in that order, then by item; missing values last.

    Raises ValueError for an unknown ``by``.
    """
    if by not in SEVERITIES:
        raise ValueError(f"sort by one of {', '.join(SEVERITIES)}, got {by!r}")
    keys = [by, *(s for s in SEVERITIES if s != by), "item"]
    return frame.sort_values(keys, ascending=[False, False, False, True], na_position="last",
                             kind="stable").reset_index(drop=True)
