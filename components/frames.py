"""Pure builders of the tables the pages show (no Streamlit): previews, problems, summaries.

Every cell that comes from a user's file is turned into plain text here, so ``st.dataframe``
shows it verbatim and never has to guess a type for mixed JSON values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.importing import ImportProblem, RawTable
from core.schema import TaskSchema, dimension_values_text
from storage.importer import ImportSummary
from storage.projects import ProjectSummary

PREVIEW_ROWS = 20
PREVIEW_CHARS = 200
MAX_PROBLEM_ROWS = 10_000


def plural(count: int, word: str) -> str:
    """Return ``"1 record"`` / ``"2 records"``: the count and the word, with an s unless 1."""
    return f"{count:,} {word}" if count == 1 else f"{count:,} {word}s"


def truncate(text: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` characters, ending in "…" when something was cut."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def display_value(value: Any, *, limit: int = PREVIEW_CHARS) -> str | None:
    """Return a cell as display text: None stays None, strings as is, anything else as JSON."""
    if value is None:
        return None
    if isinstance(value, str):
        return truncate(value, limit)
    return truncate(json.dumps(value, ensure_ascii=False, default=str), limit)


def preview_frame(raw: RawTable, *, rows: int = PREVIEW_ROWS, limit: int = PREVIEW_CHARS
                  ) -> pd.DataFrame:
    """Return the first ``rows`` records of ``raw`` as text, one column per wide column.

    The index is each record's location in the file ("line 3", "row 3"), as in the problems.
    Every column has pandas' string dtype (absent values are missing, not the text "None");
    long values are cut to ``limit`` characters. Records that could not be parsed at all are
    not in ``raw.columns`` and so not in the preview (they are in the problem report).
    """
    shown = min(rows, raw.n_rows)
    data = {column: [display_value(v, limit=limit) for v in values[:shown]]
            for column, values in raw.columns.items()}
    index = pd.Index([raw.line_of(row) for row in range(shown)], dtype="str", name="location")
    return pd.DataFrame(data, index=index, columns=list(raw.columns), dtype="str")


def problems_frame(problems: Sequence[ImportProblem], *, limit: int = MAX_PROBLEM_ROWS
                   ) -> pd.DataFrame:
    """Return the first ``limit`` problems as a table: ``location``, ``field``, ``reason``."""
    shown = problems[:limit]
    return pd.DataFrame(
        {"location": [p.location for p in shown], "field": [p.field for p in shown],
         "reason": [p.reason for p in shown]},
        columns=["location", "field", "reason"], dtype="str",
    )


def projects_frame(summaries: Sequence[ProjectSummary]) -> pd.DataFrame:
    """Return the project list: ``project``, ``template``, ``items``, ``judges``, ``human labels``."""
    return pd.DataFrame(
        [(s.name, s.template, s.items, s.judges, s.human_labels) for s in summaries],
        columns=["project", "template", "items", "judges", "human labels"],
    )


def schema_frame(schema: TaskSchema) -> pd.DataFrame:
    """Return one row per dimension: ``dimension``, ``scale``, ``labels`` (values, in order)."""
    rows = [(dimension.name, dimension.scale, dimension_values_text(dimension))
            for dimension in schema.dimensions]
    return pd.DataFrame(rows, columns=["dimension", "scale", "labels"])


def summary_counts(summary: ImportSummary) -> dict[str, int]:
    """Return the counts an import reports, in display order, keyed by their label."""
    return {
        "added": summary.added,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "skipped": summary.skipped,
        "verdicts": summary.verdicts,
        "human labels": summary.human_labels,
    }
