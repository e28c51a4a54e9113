"""The error taxonomy: why a judge was wrong, as tagged by an admin on Disagreements.

Judging the Judges sorts judges' errors into kinds (a missed error, a correct paraphrase
penalised, a reference followed too literally, ...); counting them per judge tells *why* a
judge disagrees with the experts, which agreement alone cannot. A project keeps its own list
of categories (:data:`DEFAULT_ERROR_CATEGORIES` until an admin edits it); an admin tags a
wrong verdict with one or more of them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.safe_text import printable, unsafe_text_reason

DEFAULT_ERROR_CATEGORIES: tuple[str, ...] = (
    "missed error",
    "penalised correct paraphrase",
    "followed the reference too literally",
    "position",
    "length",
    "hallucinated rationale",
    "format",
)
MAX_CATEGORIES = 30
MAX_CATEGORY_CHARS = 64


class ErrorTaxonomyError(ValueError):
    """A category list or a tag is not valid; the message names the category and why."""


def check_categories(categories: Iterable[str]) -> tuple[str, ...]:
    """Return the cleaned category list (stripped, in the given order); raise
    :class:`ErrorTaxonomyError` when one is blank, too long, holds text that cannot be stored
    (NUL, a lone surrogate) or repeats another (case-insensitively), or when there are none
    or more than 30."""
    cleaned: list[str] = []
    seen: dict[str, str] = {}
    for position, raw in enumerate(categories, start=1):
        name = " ".join(str(raw).split())
        if not name:
            raise ErrorTaxonomyError(f"category {position} is blank")
        if len(name) > MAX_CATEGORY_CHARS:
            raise ErrorTaxonomyError(f"category {name[:20]!r}… is longer than "
                                     f"{MAX_CATEGORY_CHARS} characters")
        bad = unsafe_text_reason(name)
        if bad is not None:
            raise ErrorTaxonomyError(f"category {printable(name)!r} {bad}")
        key = name.casefold()
        if key in seen:
            raise ErrorTaxonomyError(f"category {name!r} repeats {seen[key]!r}")
        seen[key] = name
        cleaned.append(name)
    if not cleaned:
        raise ErrorTaxonomyError("the list of error categories is empty: give at least one")
    if len(cleaned) > MAX_CATEGORIES:
        raise ErrorTaxonomyError(f"{len(cleaned)} error categories: at most {MAX_CATEGORIES}")
    return tuple(cleaned)


@dataclass(frozen=True)
class JudgeErrors:
    """One judge's tagged verdicts: how many were tagged, and the count per category (a
    verdict with two categories counts once in each)."""

    rater: str
    tagged_verdicts: int
    counts: tuple[tuple[str, int], ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"rater", "tagged_verdicts", "counts": {category: n}}``."""
        return {"rater": self.rater, "tagged_verdicts": self.tagged_verdicts,
                "counts": dict(self.counts)}


@dataclass(frozen=True)
class ErrorTaxonomy:
    """Every judge's error counts per category, the categories in the project's order."""

    categories: tuple[str, ...]
    judges: tuple[JudgeErrors, ...]

    @property
    def empty(self) -> bool:
        """True when no verdict is tagged."""
        return not self.judges

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{"categories": [...], "judges": [...]}``."""
        return {"categories": list(self.categories),
                "judges": [judge.to_dict() for judge in self.judges]}


@dataclass(frozen=True)
class TagRow:
    """One stored tag: the judge's rater name, the verdict it is on and its category."""

    rater: str
    item_id: int
    dimension: str
    category: str


def count_tags(rows: Iterable[TagRow], categories: Sequence[str]) -> ErrorTaxonomy:
    """Return the taxonomy of ``rows``: per judge (by name), the tagged verdicts (distinct item
    and dimension) and the count per category, listing every category of ``categories`` (zeros
    included) and then any category no longer in the list that tags still use."""
    verdicts: dict[str, set[tuple[int, str]]] = {}
    counts: dict[str, Counter[str]] = {}
    extra: list[str] = []
    known = set(categories)
    for row in rows:
        verdicts.setdefault(row.rater, set()).add((row.item_id, row.dimension))
        counts.setdefault(row.rater, Counter())[row.category] += 1
        if row.category not in known:
            known.add(row.category)
            extra.append(row.category)
    order = (*categories, *sorted(extra))
    judges = tuple(JudgeErrors(rater, len(verdicts[rater]),
                               tuple((category, counts[rater][category]) for category in order))
                   for rater in sorted(verdicts))
    return ErrorTaxonomy(order, judges)
