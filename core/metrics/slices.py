"""Parts of a :class:`Ratings`: chosen items or raters, and agreement per group or model.

The dashboard's filters (groups, models, "at least k human labels", which raters take part)
and its per-``group``/per-``model`` breakdowns are built from these. A breakdown compares
each rater with a reference rater (the human consensus) on the items of one slice at a time;
the consensus of an item does not depend on other items, so it is computed once on all items
(:func:`core.metrics.compare.with_derived_raters`) and then sliced.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.metrics.agreement import check_bootstrap, pair_agreement
from core.metrics.batch_ranking import agreement_of_codes
from core.metrics.comparison import PairComparison
from core.metrics.ratings import HUMAN, Categories, MetricsInputError, Ratings, rater_kind
from core.metrics.samples import pair_sample

SLICE_KINDS = ("group", "model")


def select_items(ratings: Ratings, mask: np.ndarray) -> Ratings:
    """The items where ``mask`` is true (same raters); groups and models are re-encoded so
    only the names still present remain."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (len(ratings.item_ids),):
        raise MetricsInputError(f"item mask has shape {mask.shape}, expected "
                                f"({len(ratings.item_ids)},)")
    rows = np.flatnonzero(mask)
    models = [ratings.models.names[c] if c >= 0 else None for c in ratings.models.codes[rows]]
    groups = [ratings.groups.names[c] if c >= 0 else None for c in ratings.groups.codes[rows]]
    return Ratings(ratings.dimension, ratings.raters, ratings.values[rows], ratings.item_ids[rows],
                   Categories.of(models, len(rows)), Categories.of(groups, len(rows)),
                   ratings.unparseable[rows])


def _in(categories: Categories, names: Sequence[str]) -> np.ndarray:
    codes = [categories.names.index(name) for name in names if name in categories.names]
    return np.isin(categories.codes, codes)


def item_mask(ratings: Ratings, *, groups: Sequence[str] | None = None,
              models: Sequence[str] | None = None) -> np.ndarray:
    """A boolean mask over ``ratings``' items: in one of ``groups`` and one of ``models``
    (None: any, including none)."""
    mask = np.ones(len(ratings.item_ids), dtype=bool)
    if groups is not None:
        mask &= _in(ratings.groups, groups)
    if models is not None:
        mask &= _in(ratings.models, models)
    return mask


def filter_items(ratings: Ratings, *, groups: Sequence[str] | None = None,
                 models: Sequence[str] | None = None, min_human_labels: int = 0) -> Ratings:
    """The items in one of ``groups`` and one of ``models`` (None: any, including none) with
    at least ``min_human_labels`` human labels. Raises :class:`MetricsInputError` for a
    negative ``min_human_labels``."""
    if min_human_labels < 0:
        raise MetricsInputError(f"min_human_labels must be 0 or more, got {min_human_labels}")
    mask = item_mask(ratings, groups=groups, models=models)
    if min_human_labels:
        humans = [i for i, name in enumerate(ratings.raters) if rater_kind(name) == HUMAN]
        mask &= (~np.isnan(ratings.values[:, humans])).sum(axis=1) >= min_human_labels
    return ratings if mask.all() else select_items(ratings, mask)


def select_raters(ratings: Ratings, raters: Sequence[str]) -> Ratings:
    """Only ``raters`` (in the matrix's order). Raises :class:`MetricsInputError` naming an
    unknown rater."""
    for name in raters:
        if name not in ratings.raters:
            raise MetricsInputError(f"unknown rater {name!r} (raters: {', '.join(ratings.raters)})")
    keep = [i for i, name in enumerate(ratings.raters) if name in set(raters)]
    return Ratings(ratings.dimension, tuple(ratings.raters[i] for i in keep),
                   ratings.values[:, keep], ratings.item_ids, ratings.models, ratings.groups,
                   ratings.unparseable[:, keep])


def slice_agreement(ratings: Ratings, *, by: str, reference: str, raters: Sequence[str],
                    n_resamples: int = 0, seed: int = 0, confidence: float = 0.95
                    ) -> list[PairComparison]:
    """Agreement of each rater with ``reference`` within each ``group`` or ``model``.

    One :class:`~core.metrics.comparison.PairComparison` per (slice, rater), slices sorted by
    name, raters in the given order, with ``slice`` set, ``a`` the reference, ``b`` the rater
    and every pair metric of the scale (the four ranking metrics on a ranking dimension; no
    confusion matrix). Items without a value for ``by`` are in no slice.
    Raises :class:`MetricsInputError` for an unknown ``by`` or rater.
    """
    if by not in SLICE_KINDS:
        raise MetricsInputError(f"slice by one of {', '.join(SLICE_KINDS)}, got {by!r}")
    check_bootstrap(n_resamples, confidence)
    categories = ratings.models if by == "model" else ratings.groups
    base = ratings.column(reference)
    columns = {rater: ratings.column(rater) for rater in raters}
    scale, k = ratings.dimension.scale, ratings.n_labels
    labels = ratings.dimension.label_values
    entries = []
    for code, name in enumerate(categories.names):
        rows = categories.codes == code
        for rater, column in columns.items():
            rng = np.random.default_rng([seed, 2_000_000 + len(entries)])
            if ratings.dimension.is_ranking:
                found = agreement_of_codes(base[rows], column[rows], n_resamples=n_resamples,
                                           rng=rng, confidence=confidence)
                entries.append(PairComparison(found.results(), a=reference, b=rater,
                                              n=found.kendall_tau_b.n, slice=name))
                continue
            sample = pair_sample(base[rows], column[rows], scale, k)
            results = pair_agreement(sample, names=(reference, rater), labels=labels,
                                     n_resamples=n_resamples, confidence=confidence, rng=rng)
            entries.append(PairComparison(
                results, a=reference, b=rater,
                n=round(sample.n[0]) if sample.weights.size else 0, slice=name))
    return entries
