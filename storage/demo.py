"""Demo projects: one per built-in template, loaded through the regular import path.

The images of a template with image fields (``image_scoring``) are drawn at load time
(:mod:`storage.demo_images`): the demo file names them by path, the paths are drawn into an
in-memory zip, and the import reads them from it like an uploaded images zip.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from core.importing import ImageSource, check_policy, read_import_file, validate_table
from core.templates import TEMPLATES
from storage.authz import Actor
from storage.database import Database
from storage.demo_images import demo_archive
from storage.importer import ImportSummary, ProgressFn, write_import

DEMO_DIR = Path(__file__).with_name("demo_data")


def demo_files() -> dict[str, Path]:
    """Return ``{template name: demo JSONL file}`` for every built-in template."""
    return {name: DEMO_DIR / f"{name}.jsonl" for name in TEMPLATES}


def load_demo(db: Database, *, actor: Actor, progress: ProgressFn | None = None
              ) -> list[ImportSummary]:
    """Import every demo file into a project named after its template; return the summaries.

    All files are read and validated before the first write, so a broken file (a bug, caught
    by tests) leaves the database untouched. Idempotent: loading twice reports every item
    unchanged. ``actor`` must be an admin or the command line's operator
    (:class:`~storage.authz.NotAllowed` otherwise). Raises
    :class:`core.importing.ImportFileError` or :class:`core.importing.ImportRejected` for a
    broken demo file.
    """
    batches = []
    summaries = []
    # The writes read the images again from the zips: they stay open until the last one.
    with contextlib.ExitStack() as archives:
        for template, path in demo_files().items():
            schema = TEMPLATES[template]
            raw = read_import_file(path)
            names = [value for spec in schema.image_fields
                     for value in raw.columns.get(spec.name, [])]
            archive = archives.enter_context(demo_archive(names))
            batch = validate_table(raw, schema, images=ImageSource(archive=archive))
            check_policy(batch, "strict")
            batches.append((template, batch))
        for index, (template, batch) in enumerate(batches):
            if progress is not None:
                progress(index / len(batches), f"loading demo project {template}")
            summaries.append(write_import(db, project_name=template,
                                          schema=TEMPLATES[template], batch=batch, actor=actor))
    if progress is not None:
        progress(1.0, "demo loaded")
    return summaries
