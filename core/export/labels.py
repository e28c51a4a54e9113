"""The long-format labels export: one row per item x rater x dimension (x judge sample).

Columns: ``id`` (the item's id), ``dimension``, ``rater_kind`` (human, judge, jury),
``rater``, ``label``, ``sample_index`` (judges), ``blind`` (humans: whether the judges'
verdicts were hidden when they labelled; empty when unknown, e.g. imported), ``revision``
(humans: 1 for a label never changed), ``comment``, ``confidence``, ``rationale`` (judges),
``source`` (ui or import; a jury's member judges), ``created_at``, ``updated_at``,
``error_tags`` (judges: the error-taxonomy categories an admin tagged the verdict with, empty
when none; null for humans and juries).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.export.writers import Column
from core.schema import Dimension, format_number

LABEL_COLUMNS = [Column("id"), Column("dimension"), Column("rater_kind"), Column("rater"),
                 Column("label"), Column("sample_index", "int"), Column("blind", "bool"),
                 Column("revision", "int"), Column("comment"), Column("confidence", "float"),
                 Column("rationale"), Column("source"), Column("created_at", "timestamp"),
                 Column("updated_at", "timestamp"), Column("error_tags", "texts")]


def jury_label_rows(name: str, members: Sequence[str], dimension: Dimension,
                    item_ids: Sequence[str], values: np.ndarray) -> list[dict[str, Any]]:
    """Rows of one jury's verdicts on ``dimension``: ``values`` are label codes (nominal,
    ordinal) or scores (interval) per item, NaN where the jury had no verdict (left out)."""
    rows = []
    source = "jury of " + ", ".join(members)
    for item_id, value in zip(item_ids, values, strict=True):
        if np.isnan(value):
            continue
        label = (format_number(float(value)) if dimension.scale == "interval"
                 else dimension.label_values[int(value)])
        rows.append({"id": item_id, "dimension": dimension.name, "rater_kind": "jury",
                     "rater": name, "label": label, "sample_index": None, "blind": None,
                     "revision": None, "comment": None, "confidence": None, "rationale": None,
                     "source": source, "created_at": None, "updated_at": None,
                     "error_tags": None})
    return rows
