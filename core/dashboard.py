"""What the judge dashboard shows for one dimension, computed from the labels (pure).

A :class:`DashboardRequest` holds the dashboard's filters (hashable, so the UI can key its
cache on it). :func:`dashboard_report` applies them — items by group, model and number of
human labels; which annotators and judges take part (a left-out annotator is left out of
the human consensus too); the binarised view; juries — and returns a typed report: the
:func:`core.metrics.compare_dimension` comparison plus per-group and per-model agreement of
every judge and jury with the human consensus.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from core.metrics.compare import binarized_juries, compare_dimension, with_derived_raters
from core.metrics.comparison import DashboardReport, PairComparison
from core.metrics.consensus import Jury
from core.metrics.ratings import CONSENSUS, JUDGE, JURY, MetricsInputError, Ratings
from core.metrics.slices import SLICE_KINDS, filter_items, select_raters, slice_agreement
from core.metrics.views import align_swapped, binarize

DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class DashboardRequest:
    """The dashboard's filters for one dimension.

    ``raters`` lists the annotators and judges that take part (``human:<name>``,
    ``judge:<name>``; None: all). ``groups``/``models`` keep items of those groups/models
    (None: all items). ``juries`` are ``(name, Jury)`` pairs (the project's stored juries).
    """

    dimension: str
    raters: tuple[str, ...] | None = None
    groups: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None
    min_human_labels: int = 0
    binarize_at: str | None = None
    juries: tuple[tuple[str, Jury], ...] = ()
    n_resamples: int = DEFAULT_RESAMPLES
    seed: int = 0


def active_juries(request: DashboardRequest, judges: tuple[str, ...]) -> dict[str, Jury]:
    """The request's juries whose members are all among ``judges`` (``judge:<name>``), by name;
    a jury needs two of them."""
    present = {name.split(":", 1)[1] for name in judges}
    return {name: jury for name, jury in request.juries
            if len(set(jury.members)) >= 2 and set(jury.members) <= present}


def _sample_rows(samples: Mapping[str, np.ndarray], full: Ratings, chosen: Ratings
                 ) -> dict[str, np.ndarray]:
    """The samples of the items left after the filters, in ``chosen``'s item order."""
    if not samples:
        return {}
    position = {item: row for row, item in enumerate(full.item_ids.tolist())}
    rows = np.fromiter((position[item] for item in chosen.item_ids.tolist()), dtype=np.int64,
                       count=len(chosen.item_ids))
    return {rater: values[rows] for rater, values in samples.items()}


def dashboard_report(ratings: Ratings, request: DashboardRequest,
                     samples: Mapping[str, np.ndarray] | None = None) -> DashboardReport:
    """Everything the dashboard draws for ``request``.

    A :class:`~core.metrics.comparison.DashboardReport`: ``document`` (the comparison),
    ``slices`` (``group``/``model`` -> entries of :func:`core.metrics.slices.slice_agreement`;
    empty without a human consensus or with fewer than two groups/models), ``items`` (after
    the item filters), ``items_total`` and ``juries_dropped`` (jury names left out because a
    member judge is not taking part). ``samples`` are the multi-sample judges' samples (items x K, in
    ``ratings``' item order) for the document's ``self_consistency``, on the filtered items.
    Raises :class:`MetricsInputError` for a bad rater, threshold or
    bootstrap setting.
    """
    if ratings.dimension.name != request.dimension:
        raise MetricsInputError(f"ratings are of dimension {ratings.dimension.name!r}, the request "
                                f"asks for {request.dimension!r}")
    chosen = ratings if request.raters is None else select_raters(ratings, request.raters)
    chosen = filter_items(chosen, groups=request.groups, models=request.models,
                          min_human_labels=request.min_human_labels)
    juries = active_juries(request, chosen.of_kind(JUDGE))
    document = compare_dimension(chosen, juries=juries, binarize_at=request.binarize_at,
                                 n_resamples=request.n_resamples, seed=request.seed,
                                 samples=_sample_rows(samples or {}, ratings, chosen))
    view = chosen
    if request.binarize_at is not None:
        view, juries = binarize(chosen, request.binarize_at), binarized_juries(juries)
    derived, _, _ = with_derived_raters(align_swapped(view), juries)
    slices: dict[str, tuple[PairComparison, ...]] = {by: () for by in SLICE_KINDS}
    scored = [*derived.of_kind(JUDGE), *derived.of_kind(JURY)]
    if CONSENSUS in derived.raters and scored:
        for by in SLICE_KINDS:
            categories = derived.models if by == "model" else derived.groups
            if len(categories.names) >= 2:
                slices[by] = tuple(slice_agreement(
                    derived, by=by, reference=CONSENSUS, raters=scored,
                    n_resamples=request.n_resamples, seed=request.seed))
    return DashboardReport(document, slices, len(chosen.item_ids), len(ratings.item_ids),
                           tuple(name for name, _ in request.juries if name not in juries))
