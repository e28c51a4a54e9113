"""Pseudo-text for the benchmarks' generated projects."""

from __future__ import annotations

import random
from collections.abc import Sequence


def random_words(rng: random.Random, words: Sequence[str], chars: int) -> str:
    """Words drawn from ``words``, space-separated, about ``chars`` characters long."""
    drawn: list[str] = []
    size = 0
    while size < chars:
        word = rng.choice(words)
        drawn.append(word)
        size += len(word) + 1
    return " ".join(drawn)
