"""The rationale check: annotators rate the judges' rationales they see after revealing.

MLLM-as-a-Judge found judges whose verdicts look right but whose rationales invent facts
(hallucinated rationales). After revealing the judges, an annotator may rate each rationale
*sound*, *flawed* (real but wrong or beside the point) or *hallucinated* (claims something the
item does not say). Counted per judge, with the share of unsound rationales and its Wilson
95 % interval, it tells how far a judge's explanations can be trusted.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

RATIONALE_RATINGS: tuple[str, ...] = ("sound", "flawed", "hallucinated")
Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int) -> tuple[float, float] | None:
    """Return the Wilson score 95 % interval of ``successes`` of ``n`` (None when n is 0)."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + Z95 ** 2 / n
    centre = (p + Z95 ** 2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class JudgeRationales:
    """One judge's rated rationales: the count per rating, and the share rated flawed or
    hallucinated with its Wilson 95 % interval."""

    rater: str
    rated: int
    counts: tuple[tuple[str, int], ...]
    unsound_share: float
    unsound_ci95: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"rater", "rated", "counts", "unsound": {"value", "ci95", "n"}}``."""
        return {"rater": self.rater, "rated": self.rated, "counts": dict(self.counts),
                "unsound": {"value": self.unsound_share, "ci95": list(self.unsound_ci95),
                            "n": self.rated}}


@dataclass(frozen=True)
class RatingRow:
    """One stored rating: the judge's rater name and the rating."""

    rater: str
    rating: str


def count_ratings(rows: Iterable[RatingRow]) -> tuple[JudgeRationales, ...]:
    """Return each rated judge's counts (every rating of :data:`RATIONALE_RATINGS` listed,
    zeros included), sorted by rater; raise ValueError for an unknown rating."""
    counts: dict[str, Counter[str]] = {}
    for row in rows:
        if row.rating not in RATIONALE_RATINGS:
            raise ValueError(f"unknown rationale rating {row.rating!r}")
        counts.setdefault(row.rater, Counter())[row.rating] += 1
    judges = []
    for rater in sorted(counts):
        rated = sum(counts[rater].values())
        unsound = rated - counts[rater]["sound"]
        judges.append(JudgeRationales(
            rater, rated, tuple((rating, counts[rater][rating]) for rating in RATIONALE_RATINGS),
            unsound / rated, wilson_interval(unsound, rated)))
    return tuple(judges)
