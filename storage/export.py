"""Read a project for export and write the file: gold, all labels, preference pairs, report.

One code path for the Export page and ``python cli.py export``: :func:`export_project` takes
an :class:`ExportRequest`, reads the project inside one read transaction (a consistent
snapshot: SQLite's WAL snapshot; PostgreSQL at REPEATABLE READ), and streams rows to
:mod:`core.export.writers` in batches of :data:`BATCH_ROWS` items, so the item texts are never
all in memory at once. Only admins export: :func:`export_project` checks its actor inside
that transaction. The gold rows come from :mod:`storage.export_gold`, the cursor reading from
:mod:`storage.export_sql`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session

from core import DOCKET_VERSION
from core.audit import AuditOptions, AuditReport, audit_dimension
from core.charts.model import DEFAULT_MIN_PAIR_ITEMS
from core.export.gold import GoldPolicy, gold_columns
from core.export.labels import label_columns
from core.export.preferences import (
    PREFERENCE_COLUMNS,
    PairStats,
    preference_pairs,
    preference_source,
)
from core.export.registry import check_request
from core.export.report import write_report
from core.export.writers import ExportError, WrittenFile, columns_of, write_table
from core.metrics import compare_dimension
from core.metrics.ratings import JUDGE
from core.schema import schema_to_dict
from storage.audit import load_answered, load_audit_inputs
from storage.authz import ADMIN, Actor, authorize
from storage.database import Database
from storage.error_tags import error_taxonomy
from storage.export_gold import gold_batches, gold_rows
from storage.export_images import IMAGE_FOLDER, ImageExport
from storage.export_labels import label_batches
from storage.export_sql import BATCH_ROWS
from storage.juries import jury_map, list_juries, usable_juries
from storage.labels import load_ratings_and_samples
from storage.probes import probe_items
from storage.projects import ProjectInfo, get_project

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    """The export's timestamp when the caller gives none (tests replace it to compare files)."""
    return datetime.now(UTC)


class ExportDenied(PermissionError):
    """The user may not export (not an admin, or deactivated)."""


@dataclass(frozen=True)
class ExportRequest:
    """What to export: ``kind`` (gold, labels, preferences, report) as ``fmt``.

    ``policy`` decides gold (gold and preferences). ``dimension``/``margin`` pick the rating
    pairs of preferences; ``pairs`` (``all`` or ``adjacent``) the pairs a gold ranking gives.
    ``juries`` (name -> judges) add jury rows to labels and the report, besides the project's
    stored juries (:mod:`storage.juries`), which are always included.
    ``n_resamples``/``seed`` are the report's bootstrap settings; ``min_pair_items`` the
    items an annotator pair must share to count in its human range.
    """

    kind: str
    fmt: str
    policy: GoldPolicy = field(default_factory=GoldPolicy)
    dimension: str | None = None
    margin: float = 1.0
    pairs: str = "all"
    juries: Mapping[str, Sequence[str]] = field(default_factory=dict)
    n_resamples: int = 1000
    seed: int = 0
    min_pair_items: int = DEFAULT_MIN_PAIR_ITEMS


@dataclass(frozen=True)
class ExportSummary:
    """A finished export: the file and its sidecar, and what was left out and why.

    ``images``: the image files written beside a JSONL/CSV export (``images/<name>``), by name.
    """

    written: WrittenFile
    skipped: dict[str, int]
    images: tuple[str, ...] = ()

    def line(self) -> str:
        """One line for the CLI and the page: rows, size, checksum, skipped counts."""
        rows = self.written.rows
        what = ("the report" if self.written.metadata.get("rows") is None
                else f"{rows:,} row" + ("" if rows == 1 else "s"))
        text = (f"exported {what} to {self.written.path} "
                f"({self.written.bytes:,} bytes, sha256 {self.written.sha256[:16]}…)")
        if self.images:
            text += f"; {len(self.images):,} image file(s) in {IMAGE_FOLDER}/ beside it"
        if self.skipped:
            text += "; left out: " + ", ".join(f"{count:,} {reason}"
                                               for reason, count in sorted(self.skipped.items()))
        return text


def export_project(db: Database, *, project_name: str, request: ExportRequest,
                   path: Path | str, actor: Actor, now: datetime | None = None) -> ExportSummary:
    """Write the export ``request`` of project ``project_name`` to ``path``; return its summary.

    Exports are for admins: ``actor`` is checked in the export's own read transaction.
    Raises :class:`~storage.authz.NotAllowed` for anyone else,
    :class:`storage.projects.ProjectError` for an unknown project and
    :class:`~core.export.writers.ExportError` for a kind/format/policy that does not apply
    (the message says which). Nothing is left at ``path`` when it fails.
    """
    check_request(request.kind, request.fmt)
    if request.min_pair_items < 1:
        raise ExportError(f"min_pair_items must be at least 1, got {request.min_pair_items}")
    with db.read() as session:
        _snapshot(session)
        authorize(session, actor, role=ADMIN, action="export")
        project = get_project(session=session, name=project_name)
        metadata = _metadata(project, request, now or utc_now())
        stored = list_juries(session=session, project_id=project.id)
        jury_map(session=session, project_id=project.id, extra=request.juries)  # name clashes
        if stored:
            metadata["juries"] = {jury.name: {"members": list(jury.members), "rule": jury.rule}
                                  for jury in stored} | metadata.get("juries", {})
        if request.kind == "gold":
            return _export_gold(session, project, request, path, metadata)
        if request.kind == "labels":
            return _export_labels(session, project, request, path, metadata)
        if request.kind == "preferences":
            return _export_preferences(session, project, request, path, metadata)
        return _export_report(session, project, request, path, metadata)


def _snapshot(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _metadata(project: ProjectInfo, request: ExportRequest, now: datetime) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "docket_version": DOCKET_VERSION, "exported_at": now.isoformat(),
        "kind": request.kind, "format": request.fmt, "project": project.name,
        "template": project.template, "schema": schema_to_dict(project.schema)}
    if request.kind in ("gold", "preferences"):
        metadata["policy"] = {"name": request.policy.name, "min_labels": request.policy.min_labels,
                              "description": request.policy.describe()}
        if any(dimension.is_ranking for dimension in project.schema.dimensions):
            metadata["policy"].update(min_tau=request.policy.min_tau,
                                      rankings=request.policy.describe_rankings())
    if request.kind == "preferences":
        metadata["margin"] = request.margin
    if request.juries:
        metadata["juries"] = {name: {"members": list(members), "rule": None}
                              for name, members in request.juries.items()}
    if request.kind == "report":
        metadata["bootstrap"] = {"resamples": request.n_resamples, "seed": request.seed}
        metadata["human_range"] = {"min_pair_items": request.min_pair_items}
    return metadata


def _export_gold(session: Session, project: ProjectInfo, request: ExportRequest,
                 path: Path | str, metadata: dict[str, Any]) -> ExportSummary:
    skipped: dict[str, int] = {}
    columns = gold_columns(project.schema)
    batches = gold_batches(session, project, request.policy, skipped, request.fmt)
    if not project.schema.image_fields:
        return ExportSummary(write_table(path, request.fmt, columns, batches, metadata), skipped)
    images = ImageExport(session, columns, request.fmt)
    if request.fmt != "parquet":
        metadata["images"] = (f"image columns hold {IMAGE_FOLDER}/<sha256>.<ext>, paths relative "
                              "to this file")
    written = write_table(path, request.fmt, columns, images.batches(batches), metadata)
    images.write_files(Path(path).parent)
    names = tuple(sorted(f"{digest}.{ext}" for digest, ext in images.named.items()))
    return ExportSummary(written, skipped, names)


# --- preferences -----------------------------------------------------------------------------

def _export_preferences(session: Session, project: ProjectInfo, request: ExportRequest,
                        path: Path | str, metadata: dict[str, Any]) -> ExportSummary:
    skipped: dict[str, int] = {}
    stats = PairStats()
    if preference_source(project.schema, request.dimension)[0] == "ranking":
        metadata["pairs"] = request.pairs
    rows = gold_rows(session, project, request.policy, skipped)
    pairs = preference_pairs(rows, project.schema, stats, dimension=request.dimension,
                             margin=request.margin, pairs=request.pairs)
    written = write_table(path, request.fmt, PREFERENCE_COLUMNS,
                          (columns_of(batch, PREFERENCE_COLUMNS) for batch in _batched(pairs)),
                          metadata)
    for reason, count in stats.skipped.items():
        skipped[reason] = skipped.get(reason, 0) + count
    return ExportSummary(written, skipped)


def _batched(rows: Iterator[dict[str, Any]], size: int = BATCH_ROWS
             ) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- all labels ------------------------------------------------------------------------------

def _export_labels(session: Session, project: ProjectInfo, request: ExportRequest,
                   path: Path | str, metadata: dict[str, Any]) -> ExportSummary:
    stored = {jury.name: jury.jury for jury in list_juries(session=session, project_id=project.id)}
    written = write_table(path, request.fmt, label_columns(project.schema),
                          label_batches(session, project, request.juries, stored=stored), metadata)
    return ExportSummary(written, {})


# --- report ----------------------------------------------------------------------------------

def report_documents(session: Session, project: ProjectInfo, request: ExportRequest
                     ) -> list[dict[str, Any]]:
    """The comparison document of every dimension of the project (as ``cli.py metrics``), with
    the dimension's error taxonomy (``error_taxonomy``) added."""
    documents = []
    every = jury_map(session=session, project_id=project.id, extra=request.juries)
    for dimension in project.schema.dimensions:
        ratings, samples = load_ratings_and_samples(session=session, project_id=project.id,
                                                    dimension=dimension)
        juries, _ = usable_juries(every, ratings.of_kind(JUDGE))
        documents.append({"project": project.name,
                          **compare_dimension(ratings, juries=juries,
                                              n_resamples=request.n_resamples, seed=request.seed,
                                              samples=samples).to_dict(),
                          "error_taxonomy": error_taxonomy(session=session, project_id=project.id,
                                                           dimension=dimension.name).to_dict()})
    return documents


def report_audits(session: Session, project: ProjectInfo, request: ExportRequest
                  ) -> list[AuditReport]:
    """The judge audit of every dimension of the project (as ``cli.py audit``)."""
    audits = []
    for dimension in project.schema.dimensions:
        inputs = load_audit_inputs(session=session, project_id=project.id, dimension=dimension)
        answered = load_answered(session=session, project_id=project.id,
                                 item_ids=[str(i) for i in inputs.ratings.item_ids],
                                 raters=inputs.ratings.raters)
        probes = probe_items(session=session, project_id=project.id, dimension=dimension.name)
        audits.append(audit_dimension(inputs.ratings, inputs.facts, AuditOptions(
            request.n_resamples, request.seed, inputs.families, answered, probes=probes)))
    return audits


def _export_report(session: Session, project: ProjectInfo, request: ExportRequest,
                   path: Path | str, metadata: dict[str, Any]) -> ExportSummary:
    documents = report_documents(session, project, request)
    audits = report_audits(session, project, request)
    return ExportSummary(write_report(path, request.fmt, documents, metadata,
                                      min_pair_items=request.min_pair_items, audits=audits), {})


__all__ = ["BATCH_ROWS", "ExportDenied", "ExportError", "ExportRequest", "ExportSummary",
           "export_project", "gold_rows", "label_batches", "report_audits", "report_documents"]
