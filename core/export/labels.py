"""The long-format labels export: one row per item x rater x dimension (x judge sample).

Columns: ``id`` (the item's id), ``dimension``, ``rater_kind`` (human, judge, jury),
``rater``, ``label``, ``sample_index`` (judges), ``blind`` (humans: whether the judges'
verdicts were hidden when they labelled; empty when unknown, e.g. imported), ``revision``
(humans: 1 for a label never changed), ``comment``, ``confidence``, ``rationale`` (judges),
``source`` (ui or import; a jury's member judges), ``created_at``, ``updated_at``, on a
pairwise A/B dimension ``chosen_model``/``rejected_model``: the item's ``model_a``/``model_b``
in the order the label puts them (empty for a tie or when the item names no models), and
``error_tags`` (judges: the error-taxonomy categories an admin tagged the verdict with, empty
when none; null for humans and juries). A task with a ranking dimension gets ``order`` after
``label``: on that dimension's rows the ranking as an ``order`` column (a list of ints in JSONL
and Parquet, ``"2,1,4,3"`` in CSV), null on other rows; ``label`` holds the stored text
``"2,1,4,3"`` on every row alike, so the column keeps one type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from core.export.writers import Column
from core.schema import Dimension, TaskSchema, format_number

LABEL_COLUMNS = [Column("id"), Column("dimension"), Column("rater_kind"), Column("rater"),
                 Column("label"), Column("sample_index", "int"), Column("blind", "bool"),
                 Column("revision", "int"), Column("comment"), Column("confidence", "float"),
                 Column("rationale"), Column("source"), Column("created_at", "timestamp"),
                 Column("updated_at", "timestamp"), Column("chosen_model"),
                 Column("rejected_model"), Column("error_tags", "texts")]


ORDER_COLUMN = Column("order", "order")


def label_columns(schema: TaskSchema) -> list[Column]:
    """The labels export's columns for ``schema``: :data:`LABEL_COLUMNS`, with
    :data:`ORDER_COLUMN` after ``label`` when a dimension is a ranking."""
    if not any(dimension.is_ranking for dimension in schema.dimensions):
        return list(LABEL_COLUMNS)
    at = [column.name for column in LABEL_COLUMNS].index("label") + 1
    return [*LABEL_COLUMNS[:at], ORDER_COLUMN, *LABEL_COLUMNS[at:]]


def chosen_rejected(label: str | None, models: tuple[str | None, str | None]
                    ) -> tuple[str | None, str | None]:
    """``(chosen_model, rejected_model)`` of an A/B label given ``(model_a, model_b)``; both
    None for any other label."""
    if label == "A":
        return models
    if label == "B":
        return models[1], models[0]
    return None, None


def jury_label_rows(name: str, members: Sequence[str], dimension: Dimension,
                    item_ids: Sequence[str], values: np.ndarray,
                    pair_models: Sequence[tuple[str | None, str | None]] | None = None
                    ) -> list[dict[str, Any]]:
    """Rows of one jury's verdicts on ``dimension``: ``values`` are label codes (nominal,
    ordinal) or scores (interval) per item, NaN where the jury had no verdict (left out);
    ``pair_models`` the items' ``(model_a, model_b)`` (None: unknown)."""
    rows = []
    source = "jury of " + ", ".join(members)
    models = pair_models or [(None, None)] * len(item_ids)
    for item_id, value, pair in zip(item_ids, values, models, strict=True):
        if np.isnan(value):
            continue
        label = (format_number(float(value)) if dimension.scale == "interval"
                 else dimension.label_values[int(value)])
        rows.append({"id": item_id, "dimension": dimension.name, "rater_kind": "jury",
                     "rater": name, "label": label, "sample_index": None, "blind": None,
                     "revision": None, "comment": None, "confidence": None, "rationale": None,
                     "source": source, "created_at": None, "updated_at": None,
                     **dict(zip(("chosen_model", "rejected_model"),
                                chosen_rejected(label, pair), strict=True)),
                     "error_tags": None})
    return rows
