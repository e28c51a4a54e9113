"""Annotation queues: in which order items are labelled and who labels which item.

Pure planning: storage turns the plan into ``assignment`` rows. Each item needs ``overlap``
distinct annotators; each new slot goes to the annotator with the fewest items so far, so
queues stay balanced (within one item) whatever the overlap and team size.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.estimate.design import design_order, draw_shares

QUEUE_ORDERS: dict[str, str] = {
    "sequential": "In import order.",
    "random": "Shuffled with a seed (the same seed gives the same order).",
    "disagreement": "Items where the judges disagree most come first (ties in import order).",
    "estimation": "A uniform random sample, each item's probability recorded: labels that "
                  "give valid estimates of the models' human-level scores.",
    "active": "A random sample favouring items the judges are unsure about (at least 20 % "
              "uniform), probabilities recorded: the narrowest valid estimates per label.",
}
# Orders whose labelled items are a random sample with known probabilities (core.estimate).
DESIGN_ORDERS = ("estimation", "active")
MAX_OVERLAP = 10


class QueueError(ValueError):
    """Queue settings that cannot be planned (unknown order, overlap out of range)."""


@dataclass(frozen=True, slots=True)
class PlannedSlot:
    """One item in one annotator's queue, at ``position`` (the item's rank in the order)."""

    item_id: int
    user_id: int
    position: int


def order_items(item_ids: Sequence[int], *, order: str, seed: int = 0,
                disagreement: Mapping[int, float] | None = None,
                shares: Mapping[int, float] | None = None) -> list[int]:
    """Return ``item_ids`` in queue order.

    ``estimation`` and ``active`` follow :func:`core.estimate.design.design_order` (by a
    uniform draw, or by draw / share with ``shares`` from :func:`design_shares`).

    ``random`` sorts by a keyed hash of (seed, item id): stable for a seed, independent of
    Python's hash randomisation, and an item keeps its place when others are added.
    ``disagreement`` takes a score per item (higher first; missing = 0). Raises
    :class:`QueueError` for an unknown order.
    """
    if order == "sequential":
        return list(item_ids)
    if order == "random":
        def key(item_id: int) -> bytes:
            return hashlib.blake2b(f"{seed}:{item_id}".encode(), digest_size=8).digest()
        return sorted(item_ids, key=key)
    if order == "disagreement":
        scores = disagreement or {}
        rank = {item_id: index for index, item_id in enumerate(item_ids)}
        return sorted(item_ids, key=lambda item_id: (-scores.get(item_id, 0.0), rank[item_id]))
    if order == "estimation":
        return design_order(item_ids, seed=seed)
    if order == "active":
        weights = shares or design_shares(item_ids, order="active")
        return design_order(item_ids, seed=seed, shares=[weights[i] for i in item_ids])
    raise QueueError(f"unknown queue order {order!r} (orders: {', '.join(QUEUE_ORDERS)})")


def judge_disagreement(labels: Mapping[int, Mapping[str, Sequence[str]]]) -> dict[int, float]:
    """Return, per item, the share of judge pairs whose labels differ (0 = all agree).

    ``labels`` maps item -> dimension -> the judges' labels on it; pairs are formed within a
    dimension and pooled over the item's dimensions.
    """
    scores = {}
    for item_id, by_dimension in labels.items():
        pairs = same = 0
        for values in by_dimension.values():
            n = len(values)
            pairs += n * (n - 1) // 2
            same += sum(c * (c - 1) // 2 for c in Counter(values).values())
        scores[item_id] = (pairs - same) / pairs if pairs else 0.0
    return scores


def design_shares(item_ids: Sequence[int], *, order: str,
                  uncertainty: Mapping[int, float] | None = None,
                  recorded: Mapping[int, float] | None = None) -> dict[int, float]:
    """Each item's draw share under a design order: 1/N for ``estimation``; for ``active``
    a fifth uniform plus the rest in proportion to ``uncertainty`` (missing = 0).

    ``recorded`` holds the shares items already drew with (their queue slots'). Under
    ``active`` with unequal recorded shares (an active design under way) those items keep
    them, up to one common factor, and only the items without one get fresh shares, put on
    the same scale (fresh shares times mean recorded / mean fresh share of the recorded
    items); all are then normalised to sum to 1. The order by draw / share of the items
    already drawn is then unchanged (a common factor cannot reorder them), so their labelled
    start stays the start of the new order and added items join the sample by their own
    draws. Equal recorded shares are the ``estimation`` design's: switching to ``active``
    starts a new design. Raises :class:`QueueError` for an order that is not a design order.
    """
    if order not in DESIGN_ORDERS:
        raise QueueError(f"order {order!r} has no sampling design ({', '.join(DESIGN_ORDERS)} do)")
    scores = (uncertainty or {}) if order == "active" else {}
    fresh = dict(zip(item_ids, draw_shares([scores.get(item_id, 0.0) for item_id in item_ids]),
                     strict=True))
    kept = {item_id: share for item_id, share in (recorded or {}).items() if item_id in fresh}
    if order == "active" and kept and max(kept.values()) - min(kept.values()) > 1e-12:
        scale = sum(kept.values()) / sum(fresh[item_id] for item_id in kept)
        sizes = {item_id: kept.get(item_id, fresh[item_id] * scale) for item_id in item_ids}
        total = sum(sizes.values())
        return {item_id: float(size / total) for item_id, size in sizes.items()}
    return {item_id: float(share) for item_id, share in fresh.items()}


def judge_uncertainty(labels: Mapping[int, Mapping[str, Sequence[str]]]) -> dict[int, float]:
    """Per item, √ of the share of differing verdict pairs (all judges and all their samples,
    pooled over dimensions): for two labels proportional to √(p (1 − p)), the spread the
    active design samples by (core/estimate/design.py)."""
    return {item: share ** 0.5 for item, share in judge_disagreement(labels).items()}


def plan_assignments(ordered_items: Sequence[int], annotators: Sequence[int], *, overlap: int,
                     kept: Mapping[int, set[int]] | None = None) -> list[PlannedSlot]:
    """Plan the open slots so every item has ``min(overlap, len(annotators))`` annotators.

    ``kept`` maps item -> annotators already holding it (labelled or skipped work that a
    re-plan must not move); they count towards the overlap (even annotators no longer in the
    team: their labels are real) and towards each current annotator's load. Returns only the
    new slots. Raises :class:`QueueError` for an overlap outside 1..:data:`MAX_OVERLAP`.
    """
    if not 1 <= overlap <= MAX_OVERLAP:
        raise QueueError(f"overlap must be between 1 and {MAX_OVERLAP}, got {overlap}")
    kept = kept or {}
    members = list(dict.fromkeys(annotators))
    if not members:
        return []
    load = {user: 0 for user in members}
    for holders in kept.values():
        for user in holders:
            if user in load:
                load[user] += 1
    # (load, tie-break, user): the tie-break rotates who goes first, so equal loads spread.
    heap = [(count, index, user) for index, (user, count) in enumerate(load.items())]
    heapq.heapify(heap)
    need_per_item = min(overlap, len(members))
    plan: list[PlannedSlot] = []
    tie = len(members)
    for position, item_id in enumerate(ordered_items):
        holders = kept.get(item_id, set())
        need = need_per_item - len(holders)
        taken: list[tuple[int, int, int]] = []
        while need > 0 and heap:
            count, order, user = heapq.heappop(heap)
            if user in holders:
                taken.append((count, order, user))
                continue
            plan.append(PlannedSlot(item_id, user, position))
            tie += 1
            taken.append((count + 1, tie, user))
            need -= 1
        for entry in taken:
            heapq.heappush(heap, entry)
    return plan
