"""Demo projects: one per built-in template, loaded through the regular import path."""

from __future__ import annotations

from pathlib import Path

from core.templates import TEMPLATES
from storage.database import Database
from storage.importer import ImportSummary, ProgressFn, import_file

DEMO_DIR = Path(__file__).with_name("demo_data")


def demo_files() -> dict[str, Path]:
    """Return ``{template name: demo JSONL file}`` for every built-in template."""
    return {name: DEMO_DIR / f"{name}.jsonl" for name in TEMPLATES}


def load_demo(db: Database, *, progress: ProgressFn | None = None) -> list[ImportSummary]:
    """Import every demo file into a project named after its template; return the summaries.

    Idempotent: loading twice reports every item unchanged. Raises the import errors of
    :func:`storage.importer.import_file` if a demo file is broken (a bug, caught by tests).
    """
    files = demo_files()
    summaries = []
    for index, (template, path) in enumerate(files.items()):
        if progress is not None:
            progress(index / len(files), f"loading demo project {template}")
        _, summary = import_file(db, path, project_name=template, schema=TEMPLATES[template])
        summaries.append(summary)
    if progress is not None:
        progress(1.0, "demo loaded")
    return summaries
