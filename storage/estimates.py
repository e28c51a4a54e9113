"""Read what an estimate needs: a dimension's labels, a judge's further samples, the sampling
design of the labelled items (queue slots with draw shares, labels imported as a uniform
sample) and the project's target half-width; :func:`estimate` assembles the report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import case, func, select
from sqlmodel import Session

from core.estimate.report import EstimateReport, QueueSlot, build_report, estimates_not_applicable
from core.estimate.slices import judge_budgets
from core.metrics.consensus import Jury
from core.metrics.ratings import HUMAN, JUDGE, MetricsInputError
from storage.labels import load_ratings
from storage.models import Annotation, Assignment, Item, Judge, Project, Verdict
from storage.projects import ProjectInfo, project_by_id

UNIFORM_IMPORT = "uniform"


def queue_design(*, session: Session, project_id: int) -> dict[str, QueueSlot]:
    """Every item with a draw share in the project's queues (``estimation``/``active``
    orders), by external id: its rank, share, and whether every holder skipped it."""
    query = (select(Item.external_id, func.min(Assignment.position), func.max(Assignment.draw_share),
                    func.sum(case((Assignment.status != "skipped", 1), else_=0)))
             .join(Item, Item.id == Assignment.item_id)
             .where(Assignment.project_id == project_id, Assignment.draw_share.is_not(None))
             .group_by(Item.external_id))
    return {external: QueueSlot(int(position), float(share), int(not_skipped or 0) == 0)
            for external, position, share, not_skipped in session.execute(query)}


def imported_uniform(*, session: Session, project_id: int, dimension: str) -> set[str]:
    """External ids of items whose human label on ``dimension`` came from an import that
    declared its labelled items a uniform random sample (``--sampled uniform``)."""
    query = (select(Item.external_id).join(Annotation, Annotation.item_id == Item.id)
             .where(Item.project_id == project_id, Annotation.dimension == dimension,
                    Annotation.sampled == UNIFORM_IMPORT).distinct())
    return set(session.execute(query).scalars())


def target_halfwidth(*, session: Session, project_id: int) -> float:
    """The project's target CI half-width for label budgets."""
    return float(session.execute(select(Project.target_halfwidth)
                                 .where(Project.id == project_id)).scalar_one())


def judge_sample_count(*, session: Session, project_id: int, judge: str, dimension: str) -> int:
    """How many samples (1 + the highest sample index) ``judge`` has on ``dimension``; 0 if
    none."""
    found = session.execute(
        select(func.max(Verdict.sample_index)).join(Judge, Judge.id == Verdict.judge_id)
        .where(Judge.project_id == project_id, Judge.name == judge,
               Verdict.dimension == dimension)).scalar()
    return 0 if found is None else int(found) + 1


def estimate(*, session: Session, project: ProjectInfo, judge: str, dimension: str | None = None,
             binarize_at: str | None = None, by: str | None = None,
             target: float | None = None, n_resamples: int = 1000, seed: int = 0,
             juries: Mapping[str, Sequence[str] | Jury] | None = None,
             groups: Sequence[str] | None = None,
             models: Sequence[str] | None = None,
             raters: Sequence[str] | None = None) -> EstimateReport:
    """The estimate report of ``judge`` on ``dimension`` (default: the schema's first).

    ``target`` None uses the project's setting; ``judge`` may name one of ``juries``;
    ``groups``/``models`` restrict it to those items and ``raters`` to those annotators and
    judges (None: all; :func:`core.estimate.report.build_report`). Raises
    :class:`core.metrics.MetricsInputError` for an unknown dimension or judge, and
    :class:`core.estimate.report.NoDesignError` when no label was drawn with a known
    probability, and :class:`core.metrics.ratings.NotApplicableError` on a ranking dimension.
    """
    schema = project.schema
    name = dimension or schema.dimension_names[0]
    if name not in schema.dimension_names:
        raise MetricsInputError(f"project {project.name!r} has no dimension {name!r} "
                                f"(dimensions: {', '.join(schema.dimension_names)})")
    bare = judge.removeprefix("judge:")  # a jury ("jury:<name>") has no samples to count
    dim = schema.dimension(name)
    ratings = load_ratings(session=session, project_id=project.id, dimension=dim)
    count = judge_sample_count(session=session, project_id=project.id, judge=bare, dimension=name)
    samples = []
    for index in range(1, count):
        extra = load_ratings(session=session, project_id=project.id, dimension=dim,
                             sample_index=index)
        column = f"judge:{bare}"
        if column in extra.raters:
            samples.append(extra.column(column))
    return build_report(
        ratings, project=project.name, judge=judge,
        queue=queue_design(session=session, project_id=project.id),
        imported_uniform=imported_uniform(session=session, project_id=project.id, dimension=name),
        judge_samples=samples, binarize_at=binarize_at, by=by,
        target=target if target is not None else target_halfwidth(session=session,
                                                                   project_id=project.id),
        n_resamples=n_resamples, seed=seed, juries=juries, groups=groups, models=models,
        raters=raters)


def project_budget(*, session: Session, project_id: int, n_resamples: int = 200
                   ) -> tuple[int | None, float]:
    """``(labels to go, target)`` for the project's first dimension: the most further labels
    any judge's κ (or main metric) needs to reach the project's target half-width; None
    before there are a judge and enough human labels for an interval, and on a dimension
    estimates do not apply to (a ranking, :func:`core.estimate.report.estimates_not_applicable`)."""
    project = project_by_id(session=session, project_id=project_id)
    target = target_halfwidth(session=session, project_id=project_id)
    dimension = project.schema.dimension(project.schema.dimension_names[0])
    if estimates_not_applicable(dimension.name, dimension.scale) is not None:
        return None, target
    ratings = load_ratings(session=session, project_id=project_id, dimension=dimension)
    if not ratings.of_kind(HUMAN) or not ratings.of_kind(JUDGE):
        return None, target
    needs = [b.labels_needed for b in judge_budgets(ratings, ratings.of_kind(JUDGE),
                                                    target=target, n_resamples=n_resamples)
             if b.labels_needed is not None]
    return (max(needs) if needs else None), target
