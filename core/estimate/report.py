"""The estimate report of one dimension and one judge: the sampling design the labels came
from, the estimates per slice, and every judge's label budget (the CLI's JSON document and
the dashboard's Estimates tab)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.estimate.budget import DEFAULT_TARGET, budget_sentence
from core.estimate.design import ACTIVE, UNIFORM
from core.estimate.ppi import EstimateError, MeanEstimate
from core.estimate.slices import (
    ALL,
    Design,
    JudgeBudget,
    SliceEstimate,
    estimate_slices,
    judge_budgets,
    prediction_values,
    prepared,
    target_values,
)
from core.metrics.consensus import Jury, jury_verdict
from core.metrics.ratings import HUMAN, JUDGE, JURY, MetricsInputError, NotApplicableError, Ratings
from core.metrics.results import NotApplicable
from core.metrics.slices import item_mask, select_items, select_raters

BY_OPTIONS = ("model", "group")
QUEUE = "queue"
IMPORT = "import"


class NoDesignError(EstimateError):
    """No labelled item was drawn with a known probability: an estimate would be biased."""


@dataclass(frozen=True)
class QueueSlot:
    """An item's place in a design-ordered queue: its rank, its draw share, and whether every
    annotator who held it skipped it."""

    position: int
    share: float
    skipped: bool


@dataclass(frozen=True)
class EstimateReport:
    """Everything ``cli.py estimate`` prints and the Estimates tab shows."""

    project: str
    dimension: str
    judge: str
    target: float
    design_kind: str
    design_source: str
    design_note: str
    labelled: int
    refused: int
    estimates: tuple[SliceEstimate, ...]
    judges: tuple[JudgeBudget, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The issue's JSON document (``slice`` is ``all`` without a split)."""
        return {
            "project": self.project, "dimension": self.dimension, "judge": self.judge,
            "target": self.target,
            "design": {"kind": self.design_kind, "source": self.design_source,
                       "labelled": self.labelled, "refused": self.refused,
                       "note": self.design_note},
            "estimates": [_slice_dict(s) for s in self.estimates],
            "judges": [{"rater": b.rater, "kappa": b.value, "ci95_halfwidth": b.halfwidth,
                        "labels_needed": b.labels_needed} for b in self.judges],
        }


def _interval(result: MeanEstimate | None, with_lambda: bool) -> dict[str, Any] | None:
    if result is None:
        return None
    data: dict[str, Any] = {"estimate": result.estimate, "ci95": list(result.ci)}
    if with_lambda:
        data["lambda"] = result.lam
    return data


def _slice_dict(estimate: SliceEstimate) -> dict[str, Any]:
    data = {"slice": estimate.slice, "n_labelled": estimate.n_labelled,
            "n_total": estimate.n_total, "classical": _interval(estimate.classical, False),
            "ppi": _interval(estimate.ppi, True), "effective_labels": estimate.effective_labels,
            "labels_needed": estimate.labels_needed}
    if estimate.reason:
        data["reason"] = estimate.reason
    return data


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def design_of(item_ids: Sequence[str], labelled: np.ndarray, *,
              queue: Mapping[str, QueueSlot], imported_uniform: set[str],
              dimension: str) -> tuple[Design, str]:
    """The design the labels of one dimension came from, and its source (``queue`` or
    ``import``).

    A design-ordered queue wins: its usable labels are the unbroken labelled prefix of the
    order (items every holder skipped are passed over, assumed skipped for reasons unrelated
    to the answer). Otherwise labels imported with ``--sampled uniform`` form a simple random
    sample. Raises :class:`NoDesignError`, in one sentence, when neither exists.
    """
    n = len(item_ids)
    labelled = np.asarray(labelled, dtype=bool)
    index = {external: i for i, external in enumerate(item_ids)}
    notes = []
    if queue:
        population = np.zeros(n, dtype=bool)
        shares = np.full(n, np.nan)
        for external, slot in queue.items():
            if external in index:
                population[index[external]] = True
                shares[index[external]] = slot.share
        usable = np.zeros(n, dtype=bool)
        skipped = waiting = 0
        for external, slot in sorted(queue.items(), key=lambda pair: pair[1].position):
            i = index.get(external)
            if i is None:
                continue
            if labelled[i]:
                usable[i] = True
            elif slot.skipped:
                skipped += 1
            else:
                break
        waiting = int((labelled & population & ~usable).sum())
        outside = int((labelled & ~population).sum())
        present = shares[population]
        kind = (UNIFORM if present.size and np.ptp(present) <= 1e-12 * present.max()
                else ACTIVE)
        if waiting:
            notes.append(f"{_plural(waiting, 'labelled item')} wait for earlier items of the "
                         "sample order to be labelled (an estimate uses only the unbroken "
                         "labelled start of the order).")
        if skipped:
            notes.append(f"{_plural(skipped, 'skipped item')} left out, assuming skipping does "
                         "not depend on the answer.")
        if outside:
            notes.append(f"{_plural(outside, 'labelled item')} outside the sampling order "
                         "(added after the queues were built, or labelled under another "
                         "order) are not used for the estimate; agreement metrics still use "
                         "them.")
        added = int((~population).sum()) - outside
        if added:
            notes.append(f"{_plural(added, 'item')} added after the queues were built "
                         f"{'is' if added == 1 else 'are'} not in the sample, so the estimate "
                         "is about the other items only: rebuild the queues (Projects) to draw "
                         "them in; the labels already given stay usable.")
        design = Design(kind, usable, int(usable.sum()),
                        np.where(population, shares, 0.0) if kind == ACTIVE else None,
                        waiting + outside, " ".join(notes), population)
        return design, QUEUE
    if imported_uniform:
        sampled = np.array([external in imported_uniform for external in item_ids], dtype=bool)
        usable = labelled & sampled
        refused = int((labelled & ~sampled).sum())
        if refused:
            notes.append(f"{_plural(refused, 'labelled item')} without a known sampling "
                         "probability (not part of the import declared --sampled uniform) are "
                         "not used for the estimate; agreement metrics still use them.")
        return Design(UNIFORM, usable, int(usable.sum()), None, refused, " ".join(notes)), IMPORT
    raise NoDesignError(
        f"No label on dimension {dimension!r} can be used for an estimate: none of its "
        f"{_plural(int(labelled.sum()), 'labelled item')} was drawn with a known probability "
        "(set the queue order to estimation or active and rebuild the queues, or import "
        "human labels with --sampled uniform).")


def _slices(ratings: Ratings, by: str | None) -> dict[str, np.ndarray]:
    if by is None:
        return {ALL: np.ones(len(ratings.item_ids), dtype=bool)}
    if by not in BY_OPTIONS:
        raise MetricsInputError(f"--by must be one of {', '.join(BY_OPTIONS)}, got {by!r}")
    column = ratings.models if by == "model" else ratings.groups
    slices = {name: column.codes == code for code, name in enumerate(column.names)}
    if not slices:
        raise MetricsInputError(f"no item has a {by}; estimate without --by")
    return {ALL: np.ones(len(ratings.item_ids), dtype=bool), **slices}


ESTIMATES = "PPI++ estimate"
RANKING_REASON = ("PPI++ estimates the mean of one number per item (the share of a label, a "
                  "mean score) from the expert labels and a judge's predictions, and the label "
                  "budgets rest on the same interval; an order of several responses is no such "
                  "number. The judges' agreement with the humans' rankings (Kendall τ-b, "
                  "Spearman ρ, top-1 agreement, normalised Levenshtein) is on the Dashboard and "
                  "in `cli.py metrics`.")


def estimates_not_applicable(dimension: str, scale: str) -> NotApplicable | None:
    """Why estimates and label budgets do not apply to ``dimension`` of ``scale`` (a
    ranking), or None when they do."""
    if scale != "ranking":
        return None
    return NotApplicable(ESTIMATES, dimension, scale, RANKING_REASON)


def build_report(ratings: Ratings, *, project: str, judge: str,
                 queue: Mapping[str, QueueSlot], imported_uniform: set[str],
                 judge_samples: Sequence[np.ndarray] = (), binarize_at: str | None = None,
                 by: str | None = None, target: float = DEFAULT_TARGET,
                 n_resamples: int = 1000, seed: int = 0,
                 juries: Mapping[str, Sequence[str] | Jury] | None = None,
                 groups: Sequence[str] | None = None,
                 models: Sequence[str] | None = None,
                 raters: Sequence[str] | None = None) -> EstimateReport:
    """Estimate the human mean of ``ratings``' dimension with ``judge``'s predictions.

    ``judge`` is a judge's name (``judge:`` optional) or the name of one of ``juries``
    (name -> member judges; majority, median or mean per item); ``judge_samples`` are the
    judge's label codes on further samples, averaged in. Every judge and jury gets a label
    budget. ``groups``/``models`` restrict the estimate and budgets to those items (a domain
    of the sample: the design stays the whole queue's, so the inclusion probabilities stay
    right). ``raters`` (``human:<name>``, ``judge:<name>``; None: all) keeps only those
    annotators in the consensus and those judges in the budgets (the powering judge stays).
    Raises :class:`NoDesignError` when no label has a known design,
    :class:`MetricsInputError` for an unknown judge or jury member, a bad ``by`` or threshold,
    and its :class:`~core.metrics.ratings.NotApplicableError` on a ranking dimension
    (:func:`estimates_not_applicable`).
    """
    not_applicable = estimates_not_applicable(ratings.dimension.name, ratings.dimension.scale)
    if not_applicable is not None:
        raise NotApplicableError(not_applicable)
    if not target > 0:
        raise MetricsInputError(f"the target half-width must be positive, got {target}")
    juries = dict(juries or {})
    bare = judge.removeprefix(f"{JUDGE}:").removeprefix(f"{JURY}:")
    # "jury:<name>" or "judge:<name>" say which; a bare name is a jury's when one has it.
    on_jury = judge.startswith(f"{JURY}:") or (bare in juries and not judge.startswith(f"{JUDGE}:"))
    if on_jury and bare not in juries:
        raise MetricsInputError(f"unknown jury {bare!r} (juries: {', '.join(juries) or 'none'})")
    rater = f"{JURY}:{bare}" if on_jury else f"{JUDGE}:{bare}"
    if raters is not None:
        kept = {*raters, rater}
        ratings = select_raters(ratings, [name for name in ratings.raters if name in kept])
    judges = ratings.of_kind(JUDGE)
    if not on_jury and rater not in judges:
        known = ", ".join(name.removeprefix(f"{JUDGE}:") for name in judges) or "none"
        raise MetricsInputError(f"unknown judge {bare!r} on dimension "
                                f"{ratings.dimension.name!r} (judges: {known}"
                                f"{'; juries: ' + ', '.join(juries) if juries else ''})")
    if on_jury:
        judge_samples = ()  # a jury has one verdict per item
    # Further samples ride along as extra columns, so a binarised view binarises them alike.
    extra = tuple(f"{rater}#sample{k}" for k in range(1, len(judge_samples) + 1))
    if extra:
        values = np.column_stack([ratings.values,
                                  *[np.asarray(s, dtype=float) for s in judge_samples]])
        unparseable = np.zeros(values.shape, dtype=bool)
        unparseable[:, :len(ratings.raters)] = ratings.unparseable
        ratings = Ratings(ratings.dimension, ratings.raters + extra, values, ratings.item_ids,
                          ratings.models, ratings.groups, unparseable)
    view = prepared(ratings, binarize_at)
    samples = [view.column(name) for name in extra]
    if juries:
        verdicts = {f"{JURY}:{name}": jury_verdict(view, members).values
                    for name, members in juries.items()}
        values = np.column_stack([view.values, *verdicts.values()])
        unparseable = np.zeros(values.shape, dtype=bool)
        unparseable[:, :len(view.raters)] = view.unparseable
        view = Ratings(view.dimension, view.raters + tuple(verdicts), values, view.item_ids,
                       view.models, view.groups, unparseable)
    y = target_values(view)
    f = prediction_values(view, rater, samples)
    humans = [view.raters.index(name) for name in view.of_kind(HUMAN)]
    labelled = (~np.isnan(view.values[:, humans])).any(axis=1) if humans else np.zeros(
        len(view.item_ids), dtype=bool)
    design, source = design_of(list(view.item_ids), labelled, queue=queue,
                               imported_uniform=imported_uniform, dimension=ratings.dimension.name)
    domain = item_mask(view, groups=groups, models=models)
    if not domain.any():
        raise MetricsInputError("no item is in the chosen groups and models")
    slices = {name: mask & domain for name, mask in _slices(view, by).items()}
    estimates = estimate_slices(y, f, design, target=target,
                                slices={name: mask for name, mask in slices.items()
                                        if name == ALL or mask.any()})
    budgets = judge_budgets(view if domain.all() else select_items(view, domain),
                            [*judges, *view.of_kind(JURY)], target=target,
                            n_resamples=n_resamples, seed=seed) if humans else []
    return EstimateReport(project, ratings.dimension.name, rater if on_jury else bare,
                          target, design.kind, source, design.note, int(labelled.sum()),
                          design.refused, tuple(estimates), tuple(budgets))


def _bounds(result: MeanEstimate | None) -> str:
    if result is None:
        return "—"
    return f"{result.estimate:.3f} [{result.ci[0]:.3f}, {result.ci[1]:.3f}]"


def assumption_sentence(report: EstimateReport) -> str:
    """What the interval means and what it assumes, in plain words (CLI and dashboard)."""
    how = ("a uniform random sample" if report.design_kind == UNIFORM else
           "a random sample drawn with known, unequal probabilities (weighted back)")
    return (f"In 95 of 100 samples drawn this way, the PPI++ interval contains the mean "
            f"{report.dimension} the experts would give if they labelled every item: it combines "
            f"the expert labels, which are {how}, with {report.judge}'s verdicts on every item, and "
            "stays valid however good or bad the judge is (a poor judge only makes it as wide "
            "as the classical one); it assumes the labelled items were drawn as recorded and "
            "that the experts' consensus is the truth you want.")


SMALL_SAMPLE = 30


def small_sample_warning(report: EstimateReport) -> str | None:
    """A warning naming the slices whose interval rests on fewer than :data:`SMALL_SAMPLE`
    labels, below the smallest sample the intervals were checked on, else None."""
    small = [s.slice for s in report.estimates if s.ppi is not None
             and s.n_labelled < SMALL_SAMPLE]
    if not small:
        return None
    return (f"{', '.join(small[:5])}{' …' if len(small) > 5 else ''}: fewer than "
            f"{SMALL_SAMPLE} labels; the intervals were checked by simulation on real data "
            f"from {SMALL_SAMPLE} labels on (95 % intervals covered the truth 94–98 % of the "
            "time), below that they may cover it less often.")


def format_report(report: EstimateReport) -> str:
    """The report as plain text: the design, one line per slice, the judges' budgets."""
    lines = [f"{report.project} · {report.dimension} · judge {report.judge} · target "
             f"±{report.target:g}",
             f"design: {report.design_kind} ({report.design_source}), {report.labelled} "
             f"labelled items"]
    if report.design_note:
        lines.append(report.design_note)
    lines += ["", "slice  n/N  classical [95% CI]  PPI++ [95% CI]  lambda  effective labels  "
              "labels to go"]
    for s in report.estimates:
        if s.ppi is None:
            lines.append(f"{s.slice}  {s.n_labelled}/{s.n_total}  {s.reason}")
            continue
        worth = "—" if s.effective_labels is None else f"{s.effective_labels:.0f}"
        lines.append(f"{s.slice}  {s.n_labelled}/{s.n_total}  {_bounds(s.classical)}  "
                     f"{_bounds(s.ppi)}  {s.ppi.lam:.2f}  {worth}  "
                     f"{budget_sentence(s.labels_needed, report.target)}")
    if report.judges:
        lines += ["", "judges vs human consensus (metric, 95% half-width, budget)"]
        for b in report.judges:
            value = "—" if b.value is None else f"{b.value:.3f}"
            width = "—" if b.halfwidth is None else f"±{b.halfwidth:.3f}"
            lines.append(f"{b.rater}  {b.metric} {value}  {width}  n={b.n}  "
                         f"{budget_sentence(b.labels_needed, report.target)}")
    lines += ["", assumption_sentence(report)]
    warning = small_sample_warning(report)
    if warning:
        lines.append(warning)
    return "\n".join(lines)
