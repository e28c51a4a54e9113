"""Sampling designs: which items to label, in which order, with known probabilities.

Both designs rank items by a key and the annotators label the ranking's first items, so the
labelled items at any moment are a prefix of the ranking (a queue can stop anywhere):

* ``uniform``: key = a uniform draw u_i per item (a keyed hash of seed and item). The first n
  items are a simple random sample; each item's inclusion probability is n / N.
* ``active``: sequential Poisson sampling (Ohlsson 1998) with key u_i / p_i, where p_i, the
  item's *draw share*, is proportional to how uncertain the judges are on it, mixed with at
  least :data:`MIN_UNIFORM_SHARE` of the uniform share so that no weight 1/π explodes. The
  first n items have inclusion probabilities π_i ≈ min(1, n p_i): exact for the uniform
  design, a close approximation otherwise (checked by the coverage simulation,
  bench/estimate_sim.py).

Uncertainty for a mean is √(p (1 − p)) of the verdicts on an item (their standard
deviation for numbers): the optimal active design labels with probability ∝ the expected
error |y − f| (Zrnic & Candès 2024), which the judges' spread stands in for.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import numpy as np

UNIFORM = "uniform"
ACTIVE = "active"
MIN_UNIFORM_SHARE = 0.2


def uniform_draw(seed: int, item_id: int) -> float:
    """A uniform number in (0, 1) fixed by (seed, item id), independent of Python's hashing."""
    digest = hashlib.blake2b(f"design:{seed}:{item_id}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / 2.0**64


def draw_shares(uncertainty: Sequence[float], *, uniform_share: float = MIN_UNIFORM_SHARE
                ) -> np.ndarray:
    """Per-item draw shares p_i (summing to 1): ``uniform_share`` spread evenly, the rest in
    proportion to ``uncertainty`` (all evenly when every uncertainty is 0).

    Raises ValueError for a share outside [MIN_UNIFORM_SHARE, 1] or a negative or non-finite
    uncertainty.
    """
    if not MIN_UNIFORM_SHARE <= uniform_share <= 1:
        raise ValueError(f"the uniform share must be between {MIN_UNIFORM_SHARE} and 1, "
                         f"got {uniform_share}")
    scores = np.asarray(uncertainty, dtype=float)
    if not np.isfinite(scores).all() or (scores < 0).any():
        raise ValueError("uncertainty scores must be finite and non-negative")
    n = len(scores)
    if n == 0:
        return scores
    total = scores.sum()
    if total == 0:
        return np.full(n, 1.0 / n)
    return uniform_share / n + (1 - uniform_share) * scores / total


def design_order(item_ids: Sequence[int], *, seed: int, shares: Sequence[float] | None = None
                 ) -> list[int]:
    """The items in labelling order: by u_i (uniform, ``shares`` None) or by u_i / p_i
    (active). Ties cannot matter in practice (64-bit draws); they fall back to item id."""
    draws = [uniform_draw(seed, item_id) for item_id in item_ids]
    keys = draws if shares is None else [u / p for u, p in zip(draws, shares, strict=True)]
    return [item_id for _, item_id in sorted(zip(keys, item_ids, strict=True))]


def inclusion_probabilities(shares: np.ndarray, n: int) -> np.ndarray:
    """π_i = min(1, n p_i) for the first ``n`` items of a design with draw shares ``shares``."""
    return np.minimum(1.0, n * np.asarray(shares, dtype=float))


def verdict_uncertainty(verdicts: Mapping[int, Sequence[float]]) -> dict[int, float]:
    """Per item, the spread of the judges' (or one judge's samples') verdicts: the standard
    deviation (ddof 0) of the numbers given, 0 with fewer than two. For 0/1 verdicts this is
    √(p (1 − p))."""
    return {item: float(np.std(values)) if len(values) > 1 else 0.0
            for item, values in verdicts.items()}
