"""Read a project's items, judge verdicts and human labels back as DataFrames.

These are the read models the dashboard, exports and round-trip tests share: plain pandas
frames keyed by the item's external id, never ORM objects.
"""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from storage.models import Annotation, Item, Judge, UserAccount, Verdict


def items_frame(*, session: Session, project_id: int) -> pd.DataFrame:
    """Return one row per item: ``id``, ``fields`` (dict), ``model``, ``group``, ``metadata``."""
    query = (select(Item.external_id, Item.fields_json, Item.model, Item.group_name,
                    Item.metadata_json)
             .where(Item.project_id == project_id).order_by(Item.id))
    rows = [
        (external_id, json.loads(fields), model, group, json.loads(meta) if meta else None)
        for external_id, fields, model, group, meta in session.execute(query)
    ]
    return pd.DataFrame(rows, columns=["id", "fields", "model", "group", "metadata"])


def verdicts_frame(*, session: Session, project_id: int) -> pd.DataFrame:
    """Return one row per verdict: ``id``, ``judge``, ``sample_index``, ``dimension``,
    ``label``, ``rationale``, ``raw_output``."""
    query = (select(Item.external_id, Judge.name, Verdict.sample_index, Verdict.dimension,
                    Verdict.label, Verdict.rationale, Verdict.raw_output)
             .join(Item, Item.id == Verdict.item_id).join(Judge, Judge.id == Verdict.judge_id)
             .where(Item.project_id == project_id)
             .order_by(Item.id, Judge.name, Verdict.sample_index, Verdict.dimension))
    return pd.DataFrame(session.execute(query).all(),
                        columns=["id", "judge", "sample_index", "dimension", "label",
                                 "rationale", "raw_output"])


def human_labels_frame(*, session: Session, project_id: int) -> pd.DataFrame:
    """Return one row per human label: ``id``, ``annotator``, ``dimension``, ``label``,
    ``comment``, ``source``, ``revision``."""
    query = (select(Item.external_id, UserAccount.name, Annotation.dimension, Annotation.label,
                    Annotation.comment, Annotation.source, Annotation.revision)
             .join(Item, Item.id == Annotation.item_id)
             .join(UserAccount, UserAccount.id == Annotation.user_id)
             .where(Item.project_id == project_id)
             .order_by(Item.id, UserAccount.name, Annotation.dimension))
    return pd.DataFrame(session.execute(query).all(),
                        columns=["id", "annotator", "dimension", "label", "comment", "source",
                                 "revision"])
