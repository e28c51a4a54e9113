"""What can be exported and in which formats: the one table the CLI, the page and the docs read.

``KINDS`` maps each export kind to its description and allowed formats (the first is the
default). Table formats are written by :mod:`core.export.writers`; the report's ``html`` and
``json`` are whole documents (:mod:`core.export.report`).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.export.writers import ExportError


@dataclass(frozen=True)
class ExportKind:
    """One kind of export: its name, a one-line description and its formats (default first)."""

    name: str
    description: str
    formats: tuple[str, ...]


KINDS: dict[str, ExportKind] = {kind.name: kind for kind in (
    ExportKind("gold", "gold label per dimension and gold reference answer, one row per item",
               ("jsonl", "csv", "parquet")),
    ExportKind("labels", "every human label, judge verdict and jury verdict, long format",
               ("jsonl", "csv", "parquet")),
    ExportKind("preferences", "chosen/rejected pairs for DPO (TRL layout) from the gold",
               ("jsonl", "csv", "parquet")),
    ExportKind("report", "the dashboard's agreement numbers: offline HTML, or JSON/CSV tables",
               ("html", "json", "csv")),
)}
FORMATS: tuple[str, ...] = tuple(dict.fromkeys(f for kind in KINDS.values() for f in kind.formats))
EXTENSIONS = {"jsonl": ".jsonl", "csv": ".csv", "parquet": ".parquet", "html": ".html",
              "json": ".json"}


def check_request(kind: str, fmt: str) -> ExportKind:
    """Return the :class:`ExportKind` of ``kind`` if ``fmt`` is one of its formats.

    Raises :class:`~core.export.writers.ExportError` naming the allowed kinds or formats.
    """
    if kind not in KINDS:
        raise ExportError(f"unknown export {kind!r} (exports: {', '.join(KINDS)})")
    spec = KINDS[kind]
    if fmt not in spec.formats:
        raise ExportError(f"export {kind!r} cannot be written as {fmt!r} "
                          f"(formats: {', '.join(spec.formats)})")
    return spec


def default_file_name(project: str, kind: str, fmt: str) -> str:
    """A file name for an export: ``<project>-<kind>.<ext>`` with unsafe characters replaced."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in project).strip("._") or "project"
    return f"{safe}-{kind}{EXTENSIONS[fmt]}"
