"""Batch-ranking records for the metric, storage, page, CLI and report tests, and oracles that
recompute every pair's figures without Docket's metrics: scipy's Kendall τ and Spearman ρ on
each item's rank vectors, rapidfuzz's Levenshtein distance, and a Borda count written out
here from its definition (the tie rule of core/metrics/batch_ranking.py's docstring).

:data:`HAND_RECORDS` is small enough to check by hand; the expected means are in
:data:`HAND_EXPECTED` with the per-item arithmetic beside them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz.distance import Levenshtein
from scipy.stats import kendalltau, spearmanr

from core.templates import TEMPLATES

# Not registered among the built-in templates until every part of issue 18 is merged.
RANKING = TEMPLATES["batch_ranking"]
CONSENSUS = "human:consensus"
METRICS = ("kendall_tau_b", "spearman", "top1_agreement", "normalized_levenshtein")

Order = tuple[int, ...]
Record = dict[str, Any]


def record(item: str, responses: int, humans: dict[str, Order], judges: dict[str, Order],
           **extra: Any) -> Record:
    """One import record of the batch_ranking template."""
    return {"id": item, "prompt": f"Prompt {item}",
            "responses": [f"response {k} of {item}" for k in range(1, responses + 1)],
            "humans": {name: {"ranking": list(order)} for name, order in humans.items()},
            "judges": {name: {"ranking": list(order)} for name, order in judges.items()},
            **extra}


# Three responses per item; bob did not rank i4.
HAND_RECORDS = [
    record("i1", 3, {"ann": (1, 2, 3), "bob": (1, 2, 3)}, {"gpt": (1, 2, 3)}, group="g1"),
    record("i2", 3, {"ann": (2, 1, 3), "bob": (1, 2, 3)}, {"gpt": (3, 2, 1)}, group="g1"),
    record("i3", 3, {"ann": (3, 1, 2), "bob": (3, 2, 1)}, {"gpt": (3, 1, 2)}, group="g2"),
    record("i4", 3, {"ann": (1, 3, 2)}, {"gpt": (2, 1, 3)}, group="g2"),
]
# By hand. ann × bob on i1–i3: τ = 1, 1/3, 1/3; ρ = 1, 1/2, 1/2 (Σd² = 0, 2, 2 over
# n(n²−1)/6 = 4); top-1 = 1, 0, 1; Levenshtein = 0, 2/3, 2/3 (two substitutions each).
# Borda (2, 1, 0 points): i1 (1,2,3); i2 responses 1 and 2 tie at 3 points and at one first
# place each, so the earlier response wins: (1,2,3); i3 response 3 has 4 points, 1 and 2 one
# each and no first place: (3,1,2); i4 ann alone: (1,3,2).
# consensus × gpt on i1–i4: τ = 1, −1, 1, −1/3; ρ = 1, −1, 1, −1/2; top-1 = 1, 0, 1, 0;
# Levenshtein = 0, 2/3, 0, 2/3 ((1,3,2) -> (2,1,3): insert 2 in front, delete the last 2).
HAND_EXPECTED = {
    ("human:ann", "human:bob"): {"n": 3, "kendall_tau_b": 5 / 9, "spearman": 2 / 3,
                                 "top1_agreement": 2 / 3, "normalized_levenshtein": 4 / 9},
    (CONSENSUS, "judge:gpt"): {"n": 4, "kendall_tau_b": 1 / 6, "spearman": 1 / 8,
                               "top1_agreement": 1 / 2, "normalized_levenshtein": 1 / 3},
}
HAND_BORDA = {"i1": (1, 2, 3), "i2": (1, 2, 3), "i3": (3, 1, 2), "i4": (1, 3, 2)}


def random_records(seed: int, items: int, annotators: Sequence[str], judges: Sequence[str], *,
                   missing: float = 0.15) -> list[Record]:
    """``items`` records with 2–6 responses each and a random order from every annotator and
    judge (an annotator leaves an item out with probability ``missing``; the first annotator
    ranks every item). Orders lean towards one hidden order, so the raters agree somewhat."""
    rng = np.random.default_rng(seed)

    def noisy(position: np.ndarray) -> Order:
        keys = position + rng.normal(0, 1.2, len(position))
        return tuple(int(r) for r in np.argsort(keys) + 1)

    records = []
    for index in range(items):
        position = rng.permutation(int(rng.integers(2, 7)))  # each response's true place
        humans = {name: noisy(position) for k, name in enumerate(annotators)
                  if k == 0 or rng.random() >= missing}
        records.append(record(f"r{index}", len(position), humans,
                              {name: noisy(position) for name in judges},
                              group=f"g{index % 3}", model=f"m{index % 2}"))
    return records


def write_jsonl(records: Iterable[Record], path: Path) -> Path:
    """The records as JSON Lines at ``path``."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def rank_vector(order: Order) -> list[int]:
    """Each response's rank (1 = best), in response order."""
    ranks = [0] * len(order)
    for rank, response in enumerate(order, start=1):
        ranks[response - 1] = rank
    return ranks


def borda(orders: Sequence[Order]) -> Order:
    """The Borda order of several orders of one item: n − rank points from each order; a tie
    in points goes to the response ranked first by more orders, then to the earlier one."""
    n = len(orders[0])
    points = {r: sum(n - rank_vector(o)[r - 1] for o in orders) for r in range(1, n + 1)}
    firsts = {r: sum(o[0] == r for o in orders) for r in range(1, n + 1)}
    return tuple(sorted(points, key=lambda r: (-points[r], -firsts[r], r)))


def orders_by_rater(records: Sequence[Record]) -> dict[str, dict[str, Order]]:
    """``human:<name>``/``judge:<name>`` -> item -> order, with ``human:consensus`` the Borda
    order of the item's human orders."""
    raters: dict[str, dict[str, Order]] = {}
    for item in records:
        humans = []
        for kind in ("humans", "judges"):
            for name, labels in item.get(kind, {}).items():
                if not labels.get("ranking"):
                    continue
                order = tuple(int(p) for p in labels["ranking"])
                raters.setdefault(f"{kind[:-1]}:{name}", {})[item["id"]] = order
                if kind == "humans":
                    humans.append(order)
        if humans:
            raters.setdefault(CONSENSUS, {})[item["id"]] = borda(humans)
    return raters


def orders_disagree(a: Order, b: Order) -> bool:
    """Another first response, or Kendall τ (scipy) below 0.5: the Disagreements page's rule."""
    return a[0] != b[0] or kendalltau(rank_vector(a), rank_vector(b)).statistic < 0.5


def oracle_disagreement_items(records: Sequence[Record]) -> set[str]:
    """Items with a human order where a judge's order disagrees with the Borda consensus or
    two annotators' orders disagree (:func:`orders_disagree`)."""
    raters = orders_by_rater(records)
    judges = [orders for name, orders in raters.items() if name.startswith("judge:")]
    listed = set()
    for item, consensus in raters.get(CONSENSUS, {}).items():
        humans = [orders[item] for name, orders in raters.items()
                  if name.startswith("human:") and name != CONSENSUS and item in orders]
        split = any(orders_disagree(x, y) for x, y in combinations(humans, 2))
        against = any(orders_disagree(consensus, orders[item]) for orders in judges
                      if item in orders)
        if split or against:
            listed.add(item)
    return listed


def oracle(a: dict[str, Order], b: dict[str, Order]) -> dict[str, float]:
    """The four figures of two raters' orders (item -> order) over the items both ranked,
    from scipy and rapidfuzz, and ``n``."""
    items = sorted(set(a) & set(b))
    per_item = []
    for item in items:
        x, y = a[item], b[item]
        per_item.append((kendalltau(rank_vector(x), rank_vector(y)).statistic,
                         spearmanr(rank_vector(x), rank_vector(y)).statistic,
                         float(x[0] == y[0]),
                         Levenshtein.distance(list(x), list(y)) / len(x)))
    means = np.mean(per_item, axis=0) if per_item else [None] * 4
    return {"n": len(items), **{name: float(value) for name, value
                                 in zip(METRICS, means, strict=True)}}


def oracle_pairs(records: Sequence[Record]) -> dict[tuple[str, str], dict[str, float]]:
    """:func:`oracle` of every pair of raters (humans, the consensus, judges; each pair once,
    in Docket's rater order: humans by name, the consensus, judges by name)."""
    raters = orders_by_rater(records)
    order = sorted(r for r in raters if r.startswith("human:") and r != CONSENSUS)
    order += [CONSENSUS] if CONSENSUS in raters else []
    order += sorted(r for r in raters if r.startswith("judge:"))
    return {(x, y): oracle(raters[x], raters[y]) for x, y in combinations(order, 2)}
