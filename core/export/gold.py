"""Decide the gold label of each item and dimension under an export policy, and lay out rows.

Policies (``GoldPolicy.name``):

* ``adjudicated`` — only labels an admin set on the Disagreements page;
* ``unanimous`` — adjudicated, else every human label on the item agrees, with at least
  ``min_labels`` of them;
* ``majority`` — adjudicated, else the most frequent human label when it is the only one
  with that count, with at least ``min_labels`` labels (2-1 of 3 passes; 1-1 and 1-1-1 do
  not: a tie is no decision, the same rule as the dashboard's human consensus).

A gold row says how each label was decided (``method``), how many humans labelled the
item (``annotators``) and how many of them gave the gold label (``agreeing``), and for an
adjudicated label who decided and when. The gold reference answer (tasks with
``gold_reference``) is the adjudicated one; under the other policies, when there is none,
the annotators' proposed reference answers are used if they all say the same (after
trimming spaces), marked ``annotators``.

Column names are flat and lower-case so that ``datasets.load_dataset("json" | "parquet" |
"csv", data_files=...)`` loads an export as it is: ``id``, the template's fields, ``model``,
``group``, ``metadata``, then per dimension ``gold_<dim>``, ``gold_<dim>_method``,
``gold_<dim>_annotators``, ``gold_<dim>_agreeing``, ``gold_<dim>_decided_by``,
``gold_<dim>_decided_at``, then ``gold_reference_answer`` (+ ``_source``) and ``gold_note``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.export.writers import Column, ExportError
from core.schema import TaskSchema

POLICIES = ("adjudicated", "unanimous", "majority")
DEFAULT_POLICY = "majority"
DEFAULT_MIN_LABELS = 2
ADJUDICATED = "adjudicated"
FROM_ANNOTATORS = "annotators"


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


@dataclass(frozen=True)
class Decision:
    """The gold label of one item and dimension and how it was reached."""

    label: str
    method: str
    annotators: int
    agreeing: int
    decided_by: str | None = None
    decided_at: datetime | None = None


def decide_from_humans(labels: Sequence[str], policy: GoldPolicy) -> Decision | None:
    """Return the gold decided from the human ``labels`` of one item and dimension under
    ``policy``, or None (adjudicated-only policy, too few labels, disagreement, or a tie)."""
    if policy.name == ADJUDICATED or len(labels) < policy.min_labels or not labels:
        return None
    counts = Counter(labels).most_common()
    label, top = counts[0]
    if policy.name == "unanimous":
        return Decision(label, "unanimous", len(labels), top) if len(counts) == 1 else None
    if len(counts) > 1 and counts[1][1] == top:
        return None
    return Decision(label, "majority" if len(counts) > 1 else "unanimous", len(labels), top)


def decide(adjudicated: Adjudicated | None, labels: Sequence[str], policy: GoldPolicy
           ) -> Decision | None:
    """Return the gold of one item and dimension: the adjudicated label if there is one, else
    :func:`decide_from_humans`; None when nothing qualifies."""
    if adjudicated is not None and adjudicated.label is not None:
        agreeing = sum(1 for label in labels if label == adjudicated.label)
        return Decision(adjudicated.label, ADJUDICATED, len(labels), agreeing,
                        adjudicated.decided_by, adjudicated.decided_at)
    return decide_from_humans(labels, policy)


def proposed_reference(proposals: Sequence[str]) -> str | None:
    """The annotators' proposed reference answer when they all wrote the same (trimmed) text;
    None when there is none or they differ."""
    texts = {text.strip() for text in proposals if text and text.strip()}
    return texts.pop() if len(texts) == 1 else None


def gold_columns(schema: TaskSchema) -> list[Column]:
    """The gold export's columns for ``schema`` (see the module docstring for the layout)."""
    columns = [Column("id")] + [Column(spec.name, "texts" if spec.kind == "texts" else "string")
                                   for spec in schema.fields]
    columns += [Column("model"), Column("group"), Column("metadata", "json")]
    for name in schema.dimension_names:
        columns += [Column(f"gold_{name}"), Column(f"gold_{name}_method"),
                    Column(f"gold_{name}_annotators", "int"), Column(f"gold_{name}_agreeing", "int"),
                    Column(f"gold_{name}_decided_by"),
                    Column(f"gold_{name}_decided_at", "timestamp")]
    if schema.gold_reference:
        columns += [Column("gold_reference_answer"), Column("gold_reference_answer_source")]
    columns.append(Column("gold_note"))
    return columns


@dataclass(frozen=True)
class ItemRecord:
    """An item as exports read it: external id, text fields, model, group, metadata."""

    id: str
    fields: Mapping[str, Any]
    model: str | None
    group: str | None
    metadata: Mapping[str, Any] | None


def gold_row(item: ItemRecord, schema: TaskSchema, decisions: Mapping[str, Decision],
             reference: tuple[str, str] | None, note: str | None) -> dict[str, Any]:
    """One gold export row: the item, each dimension's decision (None where undecided), the
    reference answer ``(text, source)`` and the adjudication note."""
    row: dict[str, Any] = {"id": item.id, "model": item.model, "group": item.group,
                           "metadata": item.metadata, "gold_note": note}
    for name in schema.field_names:
        row[name] = item.fields.get(name)
    for name, decision in decisions.items():
        row[f"gold_{name}"] = decision.label
        row[f"gold_{name}_method"] = decision.method
        row[f"gold_{name}_annotators"] = decision.annotators
        row[f"gold_{name}_agreeing"] = decision.agreeing
        row[f"gold_{name}_decided_by"] = decision.decided_by
        row[f"gold_{name}_decided_at"] = decision.decided_at
    if reference is not None:
        row["gold_reference_answer"], row["gold_reference_answer_source"] = reference
    return row
