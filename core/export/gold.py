"""Decide the gold label of each item and dimension under an export policy, and lay out rows.

Policies (``GoldPolicy.name``):

* ``adjudicated`` — only labels an admin set on the Disagreements page;
* ``unanimous`` — adjudicated, else every human label on the item agrees, with at least
  ``min_labels`` of them;
* ``majority`` — adjudicated, else the most frequent human label when it is the only one
  with that count, with at least ``min_labels`` labels (2-1 of 3 passes; 1-1 and 1-1-1 do
  not: a tie is no decision, the same rule as the dashboard's human consensus).

Human decisions are made for every item at once from the items x annotators label matrix
(:func:`decide_counts`, numpy), not item by item. A gold row says how each label was decided
(``method``), how many humans labelled the item (``annotators``) and how many of them gave the
gold label (``agreeing``), and for an adjudicated label who decided and when. The gold
reference answer (tasks with ``gold_reference``) is decided by :func:`decide_reference`: the
adjudicated one; under the other policies, when there is none, the answers annotators wrote
or edited, if they all say the same (after trimming spaces), marked ``annotators``; when no
annotator wrote or edited one, the item's own reference that annotators kept as given,
marked ``item`` (such a kept answer fills the column of an item exported for its gold
labels, but does not put an item into the export by itself).

Column names are flat and lower-case so that ``datasets.load_dataset("json" | "parquet" |
"csv", data_files=...)`` loads an export as it is: ``id``, the template's fields, ``model``,
``group``, ``metadata``, then per dimension ``gold_<dim>``, ``gold_<dim>_method``,
``gold_<dim>_annotators``, ``gold_<dim>_agreeing``, ``gold_<dim>_decided_by``,
``gold_<dim>_decided_at``, then ``gold_reference_answer`` (+ ``_source``) and ``gold_note``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from core.export.writers import Column, ExportError
from core.metrics.consensus import top_label
from core.schema import TaskSchema

POLICIES = ("adjudicated", "unanimous", "majority")
DEFAULT_POLICY = "majority"
DEFAULT_MIN_LABELS = 2
ADJUDICATED = "adjudicated"
FROM_ANNOTATORS = "annotators"
FROM_ITEM = "item"


@dataclass(frozen=True)
class GoldPolicy:
    """How gold is decided: ``name`` in :data:`POLICIES`; ``min_labels`` human labels needed
    for a unanimous or majority decision."""

    name: str = DEFAULT_POLICY
    min_labels: int = DEFAULT_MIN_LABELS

    def __post_init__(self) -> None:
        if self.name not in POLICIES:
            raise ExportError(f"unknown gold policy {self.name!r} (policies: {', '.join(POLICIES)})")
        if self.min_labels < 1:
            raise ExportError(f"min_labels must be at least 1, got {self.min_labels}")

    def describe(self) -> str:
        """A short human-readable statement of the policy (for metadata and the UI)."""
        if self.name == ADJUDICATED:
            return "adjudicated labels only"
        return f"adjudicated, else {self.name} of at least {self.min_labels} human labels"


@dataclass(frozen=True)
class Adjudicated:
    """An admin's gold on one item and dimension (label may be None: reference answer only)."""

    label: str | None
    reference_answer: str | None
    note: str | None
    decided_by: str | None
    decided_at: datetime | None


@dataclass(frozen=True, eq=False)
class HumanGold:
    """The gold the humans decide on one dimension, per item (row of the label matrix).

    ``label``: the label code, -1 where undecided; ``unanimous``: every label agrees;
    ``annotators``: human labels on the item; ``agreeing``: how many gave the decided label;
    ``counts``: items x labels, how many humans gave each label (for adjudicated labels).
    """

    label: np.ndarray
    unanimous: np.ndarray
    annotators: np.ndarray
    agreeing: np.ndarray
    counts: np.ndarray


def decide_counts(counts: np.ndarray, policy: GoldPolicy) -> HumanGold:
    """Return the gold decided from the humans' labels under ``policy`` for every item at once.

    ``counts`` is items x labels: how many humans gave each label. An item is decided when it
    has at least ``policy.min_labels`` labels and one label has more votes than any other
    (``majority``) or all votes (``unanimous``); never under ``adjudicated``.
    """
    total = counts.sum(axis=1)
    found = top_label(counts)  # the same rule as the human consensus of the metrics
    unanimous = (total > 0) & (found.top == total)
    decided = (total >= policy.min_labels) & found.decided
    if policy.name == "unanimous":
        decided &= unanimous
    elif policy.name == ADJUDICATED:
        decided[:] = False
    label = np.where(decided, found.code, -1)
    return HumanGold(label, unanimous, total, np.where(decided, found.top, 0), counts)


def proposed_reference(proposals: Sequence[str]) -> str | None:
    """The annotators' proposed reference answer when they all wrote the same (trimmed) text;
    None when there is none or they differ."""
    texts = {text.strip() for text in proposals if text and text.strip()}
    return texts.pop() if len(texts) == 1 else None


def decide_reference(adjudicated: str | None, proposed: Sequence[str], kept: Sequence[str]
                     ) -> tuple[str, str] | None:
    """Return ``(gold reference answer, source)`` of one item, or None when there is none.

    ``adjudicated``: the admin's answer; ``proposed``: the answers annotators wrote or edited;
    ``kept``: the item's own reference as annotators kept it untouched. The admin's answer
    wins (``adjudicated``); else the proposals when they all agree (``annotators``: a kept
    answer is no proposal and no vote against one); else, with no proposal at all, the kept
    answer (``item``). Proposals that differ decide nothing.
    """
    if adjudicated:
        return adjudicated, ADJUDICATED
    if any(text and text.strip() for text in proposed):
        text = proposed_reference(proposed)
        return (text, FROM_ANNOTATORS) if text is not None else None
    text = proposed_reference(kept)
    return (text, FROM_ITEM) if text is not None else None


def item_columns(schema: TaskSchema) -> list[Column]:
    """The item part of the gold export's columns: ``id``, the fields, model, group, metadata."""
    kinds = {"texts": "texts", "image": "image", "images": "images"}
    columns = [Column("id")] + [Column(spec.name, kinds.get(spec.kind, "string"))
                                for spec in schema.fields]
    return [*columns, Column("model"), Column("group"), Column("metadata", "json")]


def decision_columns(schema: TaskSchema) -> list[Column]:
    """The gold part of the gold export's columns: six per dimension, the reference answer
    and its source (tasks with gold references), the note."""
    columns = []
    for name in schema.dimension_names:
        columns += [Column(f"gold_{name}"), Column(f"gold_{name}_method"),
                    Column(f"gold_{name}_annotators", "int"), Column(f"gold_{name}_agreeing", "int"),
                    Column(f"gold_{name}_decided_by"),
                    Column(f"gold_{name}_decided_at", "timestamp")]
    if schema.gold_reference:
        columns += [Column("gold_reference_answer"), Column("gold_reference_answer_source")]
    return [*columns, Column("gold_note")]


def gold_columns(schema: TaskSchema) -> list[Column]:
    """The gold export's columns for ``schema`` (see the module docstring for the layout)."""
    return item_columns(schema) + decision_columns(schema)
