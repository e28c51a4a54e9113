"""Decide the gold label of each item and dimension under an export policy, and lay out rows.

Policies (``GoldPolicy.name``):

* ``adjudicated`` — only labels an admin set on the Disagreements page;
* ``unanimous`` — adjudicated, else every human label on the item agrees, with at least
  ``min_labels`` of them;
* ``majority`` — adjudicated, else the most frequent human label when it is the only one
  with that count, with at least ``min_labels`` labels (2-1 of 3 passes; 1-1 and 1-1-1 do
  not: a tie is no decision, the same rule as the dashboard's human consensus).

A **ranking** dimension (``scale = "ranking"``) has no label to count votes for: the gold
order is the adjudicated one, else (``unanimous`` and ``majority`` alike) the Borda consensus
of the item's human orders (:func:`~core.metrics.batch_ranking.borda_consensus`, ties broken
as documented there) when at least ``min_labels`` humans ranked it and, if the policy sets
``min_tau``, the mean Kendall τ-b over every pair of those orders is at least ``min_tau``
(``1``: every order the same). Its method is ``adjudicated`` or ``borda``; ``agreeing`` counts
the humans whose order is the gold order exactly; ``gold_<dim>_mean_tau`` is that mean τ-b
(null with fewer than two orders). See :func:`decide_ranking`.

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
``gold_<dim>_decided_at`` (a ranking dimension: ``gold_<dim>_mean_tau`` after ``_agreeing``,
and ``gold_<dim>`` is an ``order`` column: a list of ints in JSONL and Parquet, ``"2,1,4,3"`` in
CSV), then ``gold_reference_answer`` (+ ``_source``) and ``gold_note``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

import numpy as np

from core.export.writers import Column, ExportError
from core.metrics.batch_ranking import borda_consensus
from core.metrics.consensus import top_label
from core.rank_order import Order, RankingError
from core.schema import Dimension, TaskSchema

POLICIES = ("adjudicated", "unanimous", "majority")
DEFAULT_POLICY = "majority"
DEFAULT_MIN_LABELS = 2
ADJUDICATED = "adjudicated"
BORDA = "borda"
FROM_ANNOTATORS = "annotators"
FROM_ITEM = "item"


@dataclass(frozen=True)
class GoldPolicy:
    """How gold is decided: ``name`` in :data:`POLICIES`; ``min_labels`` human labels needed
    for a unanimous or majority decision (and human orders for a Borda ranking); ``min_tau``
    (None: no floor) the least mean pairwise Kendall τ-b of the human orders of an item for a
    Borda ranking."""

    name: str = DEFAULT_POLICY
    min_labels: int = DEFAULT_MIN_LABELS
    min_tau: float | None = None

    def __post_init__(self) -> None:
        if self.name not in POLICIES:
            raise ExportError(f"unknown gold policy {self.name!r} (policies: {', '.join(POLICIES)})")
        if self.min_labels < 1:
            raise ExportError(f"min_labels must be at least 1, got {self.min_labels}")
        if self.min_tau is not None and not -1.0 <= self.min_tau <= 1.0:
            raise ExportError(f"min_tau must be between -1 and 1 (a Kendall τ-b), got "
                              f"{self.min_tau}")

    def describe(self) -> str:
        """A short human-readable statement of the policy (for metadata and the UI)."""
        if self.name == ADJUDICATED:
            return "adjudicated labels only"
        return f"adjudicated, else {self.name} of at least {self.min_labels} human labels"

    def describe_rankings(self) -> str:
        """The policy's rule for ranking dimensions, in words (for metadata and the UI)."""
        if self.name == ADJUDICATED:
            return "adjudicated rankings only"
        floor = ("" if self.min_tau is None
                 else f" whose mean pairwise Kendall τ-b is at least {self.min_tau:g}")
        return (f"adjudicated, else the Borda consensus of at least {self.min_labels} human "
                f"orders{floor}")


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


@dataclass(frozen=True)
class RankingGold:
    """The gold of one item on a ranking dimension: ``order`` (None: undecided), ``method``
    (``adjudicated``, ``borda``, None), ``annotators`` (human orders), ``agreeing`` (humans
    whose order is ``order`` exactly) and ``mean_tau`` (mean pairwise Kendall τ-b of the
    human orders; None with fewer than two)."""

    order: Order | None
    method: str | None
    annotators: int
    agreeing: int
    mean_tau: float | None


def mean_pairwise_tau(orders: Sequence[Order]) -> float | None:
    """The mean Kendall τ-b over every pair of ``orders`` (one item's human orders); None with
    fewer than two. Raises :class:`~core.rank_order.RankingError` for orders of different
    lengths."""
    k = len(orders)
    if k < 2:
        return None
    n = len(orders[0])
    if any(len(order) != n for order in orders):
        raise RankingError("the orders of one item rank different numbers of responses")
    places = []
    for order in orders:
        place = [0] * (n + 1)
        for at, response in enumerate(order):
            place[response] = at
        places.append(place)
    # Per pair of responses, s = the sum over orders of ±1 (which of the two it puts first):
    # the pairs of orders agreeing minus those disagreeing on it are (s² − k) / 2, so the mean
    # τ-b is their sum over response pairs / (pairs of orders x pairs of responses). One pass
    # over the orders instead of a τ-b per pair of orders.
    total = 0
    for i, j in combinations(range(1, n + 1), 2):
        s = sum(1 if place[i] < place[j] else -1 for place in places)
        total += (s * s - k) // 2
    return total / (k * (k - 1) // 2 * (n * (n - 1) // 2))


def decide_ranking(orders: Sequence[Order], policy: GoldPolicy,
                   adjudicated: Order | None = None) -> RankingGold:
    """Return the gold of one item on a ranking dimension from its human ``orders``.

    ``adjudicated`` (an admin's order) wins under every policy. Otherwise, except under
    ``adjudicated``, the Borda consensus of ``orders`` when there are at least
    ``policy.min_labels`` of them and their mean pairwise τ-b reaches ``policy.min_tau``
    (when set; a single order has no τ-b and passes only without a floor). Raises
    :class:`~core.rank_order.RankingError` for orders of different lengths.
    """
    mean_tau = mean_pairwise_tau(orders)
    order, method = adjudicated, ADJUDICATED if adjudicated is not None else None
    if order is None and policy.name != ADJUDICATED and orders and \
            len(orders) >= policy.min_labels and (
            policy.min_tau is None or (mean_tau is not None and mean_tau >= policy.min_tau)):
        order, method = borda_consensus(orders), BORDA
    agreeing = sum(1 for given in orders if tuple(given) == order) if order is not None else 0
    return RankingGold(order, method, len(orders), agreeing, mean_tau)


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


def dimension_columns(dimension: Dimension) -> list[Column]:
    """The gold columns of one dimension: six, seven for a ranking (its mean τ-b)."""
    name = dimension.name
    columns = [Column(f"gold_{name}", "order" if dimension.is_ranking else "string"),
               Column(f"gold_{name}_method"), Column(f"gold_{name}_annotators", "int"),
               Column(f"gold_{name}_agreeing", "int")]
    if dimension.is_ranking:
        columns.append(Column(f"gold_{name}_mean_tau", "float"))
    return [*columns, Column(f"gold_{name}_decided_by"),
            Column(f"gold_{name}_decided_at", "timestamp")]


def decision_columns(schema: TaskSchema) -> list[Column]:
    """The gold part of the gold export's columns: six per dimension (seven per ranking), the
    reference answer and its source (tasks with gold references), the note."""
    columns = []
    for dimension in schema.dimensions:
        columns += dimension_columns(dimension)
    if schema.gold_reference:
        columns += [Column("gold_reference_answer"), Column("gold_reference_answer_source")]
    return [*columns, Column("gold_note")]


def gold_columns(schema: TaskSchema) -> list[Column]:
    """The gold export's columns for ``schema`` (see the module docstring for the layout)."""
    return item_columns(schema) + decision_columns(schema)
