"""Shared set-up of the export tests: import records into a project, run an export."""

from __future__ import annotations

from pathlib import Path

from core.export.gold import GoldPolicy
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.export import ExportRequest, ExportSummary, export_project
from storage.importer import import_file
from storage.projects import get_project
from tests.converters import write_jsonl


def import_records(db, tmp_path: Path, template: str, records: list[dict], name: str) -> int:
    """Import ``records`` (nested JSONL form) into a new project; return its id."""
    import_file(db, write_jsonl(records, tmp_path / f"{name}.jsonl"), project_name=name,
                schema=TEMPLATES[template], actor=OPERATOR)
    with db.read() as session:
        return get_project(session=session, name=name).id


def export(db, tmp_path: Path, project: str, kind: str, fmt: str = "jsonl", *,
           policy: str = "majority", min_labels: int = 2, min_tau: float | None = None,
           **options) -> ExportSummary:
    """Export ``kind`` of ``project`` to ``tmp_path/<project>-<kind>.<fmt>``."""
    request = ExportRequest(kind=kind, fmt=fmt, policy=GoldPolicy(policy, min_labels, min_tau),
                            **options)
    return export_project(db, project_name=project, request=request,
                          path=tmp_path / f"{project}-{kind}.{fmt}", actor=OPERATOR)
