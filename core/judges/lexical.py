"""Offline lexical judges for correctness projects: ``exact_match`` and ``contains``.

Both compare the response with the reference answer and its aliases after the normalisation of
the official TriviaQA evaluation script (an extension of SQuAD's; mandarjoshi90/triviaqa,
``evaluation/triviaqa_evaluation.py``): underscores become spaces, text is lower-cased,
punctuation (ASCII and the quotes ‘ ’ ´ `) becomes a space, the articles *a*, *an*, *the* are
removed as whole words, and runs of white space collapse to one space.

* ``exact_match``: the normalised response equals a normalised alias.
* ``contains``: a normalised alias occurs in the normalised response as a run of *whole
  tokens*. Plain substring search would accept wrong answers whose words merely contain the
  alias: alias ``"1"`` inside ``"1984"``, ``"cat"`` inside ``"concatenate"``, ``"ohio"`` inside
  ``"idaho ohioan"``. Whole tokens keep ``"in 1984"`` from matching ``"84"``.

Aliases are a list, or one text with one alias per line (the shape of TriviaQA's
``references`` column). An alias that normalises to nothing (``"The"``) never matches: the
empty sequence occurs in every answer.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from core.judges.verdicts import ParsedVerdict
from core.schema import Dimension, LabelError

_PUNCTUATION = str.maketrans({char: " " for char in string.punctuation + "‘’´`"})
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Return ``text`` normalised as in the TriviaQA evaluation script (see the module docstring)."""
    text = text.replace("_", " ").lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def split_aliases(reference: str | Sequence[str] | None) -> list[str]:
    """Return the accepted answers: a list as given, or a text split into its lines; blank
    entries dropped and repeats removed (first kept)."""
    if reference is None:
        return []
    entries = reference.splitlines() if isinstance(reference, str) else list(reference)
    seen: dict[str, None] = {}
    for entry in entries:
        if entry.strip():
            seen.setdefault(entry.strip(), None)
    return list(seen)


def exact_match(response: str, aliases: Sequence[str]) -> str | None:
    """Return the first alias whose normalised form equals the normalised response, else None."""
    answer = normalize_answer(response)
    return next((alias for alias in aliases if answer and normalize_answer(alias) == answer), None)


def contains(response: str, aliases: Sequence[str]) -> str | None:
    """Return the first alias found as a whole-token run in the normalised response, else None."""
    # Padding with spaces turns "whole-token run" into a substring test on token boundaries.
    answer = f" {normalize_answer(response)} "
    for alias in aliases:
        normalized = normalize_answer(alias)
        if normalized and f" {normalized} " in answer:
            return alias
    return None


@dataclass(frozen=True)
class LexicalJudge:
    """An offline judge: matches a response against the accepted answers."""

    name: str
    description: str
    match: Callable[[str, Sequence[str]], str | None]


LEXICAL_JUDGES: dict[str, LexicalJudge] = {
    "exact_match": LexicalJudge("exact_match", "the normalised response equals an accepted answer",
                                exact_match),
    "contains": LexicalJudge("contains", "an accepted answer occurs in the normalised response as "
                             "whole words", contains),
}


def lexical_verdict(judge: str, response: str | None, reference: str | Sequence[str] | None,
                    dimension: Dimension) -> ParsedVerdict:
    """Return the verdict of lexical judge ``judge`` on one item.

    The label is the dimension's label for ``true`` (a match) or ``false`` (no match), read
    through its aliases (the ``correctness`` template's ``correct``/``incorrect``); the
    rationale names the matching alias. An item with no accepted answer gets no label and the
    problem. Raises KeyError for an unknown judge and :class:`core.schema.LabelError` when the
    dimension has no label meaning true/false.
    """
    if judge not in LEXICAL_JUDGES:
        raise KeyError(f"unknown lexical judge {judge!r} (judges: {', '.join(LEXICAL_JUDGES)})")
    try:
        yes, no = dimension.normalize(True), dimension.normalize(False)
    except LabelError as error:
        raise LabelError(f"dimension {dimension.name!r}: lexical judges need labels for true and "
                         f"false ({error})") from None
    aliases = split_aliases(reference)
    if not any(map(normalize_answer, aliases)):
        return ParsedVerdict(None, None, "no reference answer to compare with")
    matched = LEXICAL_JUDGES[judge].match(response or "", aliases)
    if matched is None:
        return ParsedVerdict(no, f"no accepted answer matches ({len(aliases)} compared)", None)
    return ParsedVerdict(yes, f"matches the accepted answer {matched!r}", None)
