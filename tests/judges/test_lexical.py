"""Offline lexical judges: TriviaQA/SQuAD normalisation, exact match and whole-token contains,
on a table of answers and alias lists written for the test and on TriviaQA's real alias shape."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from core.judges.lexical import (
    LEXICAL_JUDGES,
    contains,
    exact_match,
    lexical_verdict,
    normalize_answer,
    split_aliases,
)
from core.schema import LabelError
from core.templates import TEMPLATES
from tests.converters import TRIVIAQA_V1

CORRECT = TEMPLATES["correctness"].dimension("correct")

# Expected forms worked out by hand from the TriviaQA script's steps: "_" -> " ", lower,
# punctuation (and ‘ ’ ´ `) -> " ", drop the words a/an/the, collapse white space.
@pytest.mark.parametrize(("text", "normalized"), [
    ("The  Eiffel-Tower!", "eiffel tower"),
    ("St. Peter's, Westminster", "st peter s westminster"),
    ("New_York", "new york"),
    ("‘Hamlet’", "hamlet"),
    ("`Anna´", "anna"),
    ("An apple a day", "apple day"),
    ("Theatre", "theatre"),  # "the" only as a whole word
    ("A", ""),
    ("  Tin\tTin\n", "tin tin"),
    ("ÉCOLE", "école"),
])
def test_normalisation_follows_the_triviaqa_script(text, normalized):
    assert normalize_answer(text) == normalized


# response, accepted answers, exact_match, contains
TABLE = [
    ("Paris", ["Paris"], True, True),
    ("paris.", "Paris", True, True),
    ("The Eiffel Tower", ["Eiffel Tower"], True, True),
    ("It is the Eiffel Tower, in Paris", ["Eiffel Tower"], False, True),
    ("Tin-tin", "Tin Tin\nTintin (disambiguation)", True, True),
    ("TinTin", ["Tin Tin"], False, False),
    ("Tintin", "Tin Tin\nTin-tin\nTintin (disambiguation)\nTintin", True, True),
    ("The Priest", "A priest\nThe Priest\nPriest (film)", True, True),
    ("The answer is Pam Ferris, I think", "Pam Ferris", False, True),
    ("Pam", "Pam Ferris", False, False),  # the alias must be in the response, not the reverse
    ("in 1984", ["1984"], False, True),
    ("1984", ["84"], False, False),  # whole tokens: "84" is not a token of "1984"
    ("concatenate", ["cat"], False, False),
    ("Anne", ["Ann"], False, False),
    ("Tom Hanks and Meg Ryan", ["Meg Ryan"], False, True),
    ("a", ["The", "Paris"], False, False),  # an alias that normalises to nothing never matches
    ("", ["Paris"], False, False),
    ("New_York City", ["New York"], False, True),
    ("Westminster Abbey", "\n  \nWestminster Abbey\n", True, True),  # blank lines are no aliases
]


@pytest.mark.parametrize(("response", "references", "exact", "found"), TABLE)
def test_exact_match_and_contains_on_a_table(response, references, exact, found):
    aliases = split_aliases(references)
    assert (exact_match(response, aliases) is not None) is exact
    assert (contains(response, aliases) is not None) is found
    assert lexical_verdict("exact_match", response, references, CORRECT).label == (
        "correct" if exact else "incorrect")
    assert lexical_verdict("contains", response, references, CORRECT).label == (
        "correct" if found else "incorrect")


def test_split_aliases_keeps_order_and_drops_blanks_and_repeats():
    assert split_aliases("Tin Tin\nTin-tin\n\nTin Tin\n Tintin ") == ["Tin Tin", "Tin-tin", "Tintin"]
    assert split_aliases(["a", " ", "b", "a"]) == ["a", "b"]
    assert split_aliases(None) == []


def test_the_rationale_names_the_matching_alias():
    verdict = lexical_verdict("contains", "It's Westminster Abbey.",
                              "Abbey of Westminster\nWestminster Abbey", CORRECT)
    assert verdict.rationale == "matches the accepted answer 'Westminster Abbey'"
    miss = lexical_verdict("exact_match", "London", "Abbey of Westminster\nWestminster Abbey", CORRECT)
    assert (miss.label, miss.rationale) == ("incorrect", "no accepted answer matches (2 compared)")


def test_no_reference_gives_no_label_and_says_why():
    for reference in (None, "", "\n\n", ["The", "a"]):
        verdict = lexical_verdict("exact_match", "Paris", reference, CORRECT)
        assert (verdict.label, verdict.problem) == (None, "no reference answer to compare with")


def test_a_missing_response_is_incorrect_not_an_error():
    assert lexical_verdict("contains", None, "Paris", CORRECT).label == "incorrect"


def test_unknown_judge_and_a_dimension_without_true_false_labels_are_refused():
    with pytest.raises(KeyError, match=r"unknown lexical judge 'fuzzy' \(judges: exact_match, contains\)"):
        lexical_verdict("fuzzy", "a", "a", CORRECT)
    preference = TEMPLATES["pairwise"].dimension("preference")
    with pytest.raises(LabelError, match="'preference': lexical judges need labels for true and false"):
        lexical_verdict("contains", "a", "a", preference)


def test_registry_lists_both_judges():
    assert list(LEXICAL_JUDGES) == ["exact_match", "contains"]


@pytest.mark.shared_data
def test_real_triviaqa_alias_lists(shared_data: Path):
    """TriviaQA V1's ``references`` column: one alias per line. Every alias of every row is
    matched exactly by itself and contained in a sentence that states it."""
    with (shared_data / TRIVIAQA_V1).open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    assert len(rows) == 3600
    multi = 0
    for row in rows:
        aliases = split_aliases(row["references"])
        lines = [line.strip() for line in row["references"].splitlines() if line.strip()]
        assert aliases == list(dict.fromkeys(lines))
        multi += len(aliases) > 1
        for alias in aliases:
            if not normalize_answer(alias):
                continue
            assert exact_match(alias, aliases) is not None, (alias, aliases)
            assert contains(f"I am fairly sure it is {alias}, yes.", aliases) is not None, alias
    assert multi > 3000  # the real shape: most questions have several accepted spellings
    tintin = next(row for row in rows if row["references"].startswith("Tin Tin\n"))
    assert lexical_verdict("exact_match", "tintin", tintin["references"], CORRECT).label == "correct"
    assert lexical_verdict("contains", "Captain Haddock", tintin["references"], CORRECT).label == "incorrect"
