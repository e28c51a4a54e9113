"""Pure builders of the Projects page's tables (no Streamlit): progress and flagged items."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from storage.queues import AnnotatorProgress, FlaggedItem

PROGRESS_COLUMNS = ["annotator", "labelled", "skipped", "to label", "flagged", "queue", "done %"]


def _percent(done: int, total: int) -> float:
    return round(100 * done / total, 1) if total else 0.0


def progress_frame(rows: Sequence[AnnotatorProgress]) -> pd.DataFrame:
    """Return one row per annotator plus a last row "all annotators" with the project's totals.

    "done %" counts labelled and skipped items against the queue.
    """
    records = [(p.name, p.done, p.skipped, p.pending, p.flagged, p.total,
                _percent(p.done + p.skipped, p.total)) for p in rows]
    if records:
        done, skipped, pending, flagged = (sum(p.done for p in rows), sum(p.skipped for p in rows),
                                           sum(p.pending for p in rows),
                                           sum(p.flagged for p in rows))
        total = done + skipped + pending
        records.append(("all annotators", done, skipped, pending, flagged, total,
                        _percent(done + skipped, total)))
    return pd.DataFrame(records, columns=PROGRESS_COLUMNS)


def flagged_frame(rows: Sequence[FlaggedItem]) -> pd.DataFrame:
    """Return the flagged items: item id, annotator, queue status, note, when."""
    return pd.DataFrame([(f.external_id, f.annotator, f.status, f.note or "", f.updated_at)
                         for f in rows], columns=["item", "annotator", "status", "note", "flagged at"])
