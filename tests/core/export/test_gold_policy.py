"""Gold decisions under each policy (vectorised, checked against a plain-Python oracle), the
gold column layout, and preference pairs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.export.gold import (
    GoldPolicy,
    decide_counts,
    decide_reference,
    gold_columns,
    proposed_reference,
)
from core.export.preferences import PairStats, preference_pairs, preference_source
from core.export.writers import ExportError
from core.templates import TEMPLATES

MAJORITY2 = GoldPolicy("majority", 2)
UNANIMOUS2 = GoldPolicy("unanimous", 2)
ONLY_ADJUDICATED = GoldPolicy("adjudicated")
LABELS = ("A", "B", "tie")


def oracle(labels: list[str], policy: GoldPolicy) -> tuple[str, str, int, int] | None:
    """The policy read literally: (label, method, annotators, agreeing) or None."""
    if policy.name == "adjudicated" or len(labels) < policy.min_labels or not labels:
        return None
    ranked = Counter(labels).most_common()
    label, top = ranked[0]
    if len(ranked) > 1 and (policy.name == "unanimous" or ranked[1][1] == top):
        return None
    return label, "unanimous" if len(ranked) == 1 else "majority", len(labels), top


def decided(rows: list[list[str | None]], policy: GoldPolicy) -> list[tuple | None]:
    counts = np.array([[row.count(label) for label in LABELS] for row in rows], dtype=np.int64)
    gold = decide_counts(counts, policy)
    return [None if gold.label[i] < 0 else
            (LABELS[gold.label[i]], "unanimous" if gold.unanimous[i] else "majority",
             int(gold.annotators[i]), int(gold.agreeing[i])) for i in range(len(rows))]


@pytest.mark.parametrize(("labels", "policy", "expected"), [
    (["A", "A", "B"], MAJORITY2, ("A", "majority", 3, 2)),
    (["A", "A", "A"], MAJORITY2, ("A", "unanimous", 3, 3)),
    (["A", "B", None], MAJORITY2, None),                 # 1-1 tie
    (["A", "B", "tie"], MAJORITY2, None),                # 1-1-1 split
    (["A", None, None], MAJORITY2, None),                # fewer than min_labels
    (["A", None, None], GoldPolicy("majority", 1), ("A", "unanimous", 1, 1)),
    (["A", "A", "B"], UNANIMOUS2, None),
    (["B", "B", None], UNANIMOUS2, ("B", "unanimous", 2, 2)),
    (["B", "B", None], ONLY_ADJUDICATED, None),
    ([None, None, None], GoldPolicy("majority", 1), None),
])
def test_decide_counts_cases(labels, policy, expected):
    assert decided([labels], policy) == [expected]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from([*LABELS, None]), min_size=5, max_size=5),
                min_size=1, max_size=30),
       st.sampled_from(["adjudicated", "unanimous", "majority"]), st.integers(1, 4))
def test_decide_counts_matches_the_oracle(rows, policy_name, min_labels):
    policy = GoldPolicy(policy_name, min_labels)
    assert decided(rows, policy) == [oracle([v for v in row if v is not None], policy)
                                     for row in rows]


def test_policy_validation():
    with pytest.raises(ExportError, match="unknown gold policy 'vote'"):
        GoldPolicy("vote")
    with pytest.raises(ExportError, match="at least 1"):
        GoldPolicy("majority", 0)
    assert "majority of at least 3" in GoldPolicy("majority", 3).describe()


def test_proposed_reference_needs_one_text():
    assert proposed_reference([" Canberra ", "Canberra"]) == "Canberra"
    assert proposed_reference(["Canberra", "Sydney"]) is None
    assert proposed_reference(["", "  "]) is None


def test_gold_columns_for_correctness():
    names = [c.name for c in gold_columns(TEMPLATES["correctness"])]
    assert names == ["id", "prompt", "response", "reference", "model", "group", "metadata",
                     "gold_correct", "gold_correct_method", "gold_correct_annotators",
                     "gold_correct_agreeing", "gold_correct_decided_by", "gold_correct_decided_at",
                     "gold_reference_answer", "gold_reference_answer_source", "gold_note"]
    texts = {c.name: c.type for c in gold_columns(TEMPLATES["thematic_alignment"])}
    assert texts["source"] == "texts" and "gold_reference_answer" not in texts


def pairwise_row(item_id: str, label: str | None) -> dict:
    return {"id": item_id, "prompt": f"p-{item_id}", "response_a": f"a-{item_id}",
            "response_b": f"b-{item_id}", "gold_preference": label,
            "gold_preference_method": "majority"}


def test_pairwise_pairs_follow_the_gold_preference_and_drop_ties():
    stats = PairStats()
    rows = [pairwise_row("1", "A"), pairwise_row("2", "B"), pairwise_row("3", "tie"),
            pairwise_row("4", None)]
    pairs = list(preference_pairs(rows, TEMPLATES["pairwise"], stats))
    assert [(p["id"], p["chosen"], p["rejected"]) for p in pairs] == [("1", "a-1", "b-1"),
                                                                      ("2", "b-2", "a-2")]
    assert pairs[0]["prompt"] == "p-1" and pairs[0]["source"] == "pairwise"
    assert stats.pairs == 2 and stats.skipped == {"ties": 1, "without gold preference": 1}


def test_reference_pairs_use_the_gold_reference_else_the_item_reference():
    schema = TEMPLATES["correctness"]
    rows = [
        {"id": "1", "prompt": "Q1", "response": "wrong", "reference": "item ref",
         "gold_correct": "incorrect", "gold_reference_answer": "gold ref"},
        {"id": "2", "prompt": "Q2", "response": "wrong", "reference": "item ref",
         "gold_correct": "incorrect"},
        {"id": "3", "prompt": "Q3", "response": "right", "gold_correct": "correct"},
        {"id": "4", "prompt": "Q4", "response": "wrong", "gold_correct": "incorrect"},
        {"id": "5", "prompt": "Q5", "response": "same", "reference": "same ",
         "gold_correct": "incorrect"},
    ]
    stats = PairStats()
    pairs = list(preference_pairs(rows, schema, stats))
    assert [(p["id"], p["chosen"], p["rejected"], p["chosen_source"]) for p in pairs] == [
        ("1", "gold ref", "wrong", "gold_reference_answer"), ("2", "item ref", "wrong", "reference")]
    assert stats.skipped == {"responses not rejected": 1, "without a reference answer": 1,
                             "reference equal to the response": 1}


def test_rating_pairs_pair_responses_to_the_same_prompt_by_score():
    schema = TEMPLATES["exam_question"]
    rows = [{"id": i, "prompt": prompt, "response": f"r{i}", "model": f"m{i}",
             "gold_correctness": score, "gold_correctness_method": "majority"}
            for i, prompt, score in [("1", "P", "5"), ("2", "P", "3"), ("3", "P", "5"),
                                     ("4", "P", "4"), ("5", "Q", "2")]]
    stats = PairStats()
    pairs = list(preference_pairs(rows, schema, stats, dimension="correctness", margin=2))
    assert sorted((p["chosen_id"], p["rejected_id"]) for p in pairs) == [("1", "2"), ("3", "2")]
    assert pairs[0]["chosen_model"] == "m1" and pairs[0]["chosen_label"] == "5"
    assert stats.skipped == {"prompts with one rated response": 1}
    with pytest.raises(ExportError, match="margin must be positive"):
        list(preference_pairs(rows, schema, stats, dimension="correctness", margin=0))


def test_preference_source_by_schema():
    assert preference_source(TEMPLATES["pairwise"]) == ("pairwise", "preference")
    assert preference_source(TEMPLATES["correctness"]) == ("reference", "correct")
    assert preference_source(TEMPLATES["thematic_alignment"]) == ("rating", "alignment")
    assert preference_source(TEMPLATES["exam_question"], "relevance") == ("rating", "relevance")
    # exam_question has gold references too, but its first dimension is a 1-5 rating, not a
    # verdict whose last label means "wrong": it pairs by rating, as before it had them.
    assert preference_source(TEMPLATES["exam_question"]) == ("rating", "correctness")
    with pytest.raises(ExportError, match="no dimension to build preference pairs"):
        preference_source(TEMPLATES["thematic_alignment"], "missing_themes")


REFERENCE_CASES = [
    # (case, adjudicated, written or edited, kept as given, expected)
    ("admin wins over everything", "A", ["B"], ["C"], ("A", "adjudicated")),
    ("one proposal", None, ["Canberra "], [], ("Canberra", "annotators")),
    ("agreeing proposals", None, ["Canberra", " Canberra"], [], ("Canberra", "annotators")),
    ("differing proposals decide nothing", None, ["Canberra", "Sydney"], [], None),
    ("kept only: the item's", None, [], ["Canberra", "Canberra"], ("Canberra", "item")),
    ("a kept answer is no vote against a proposal", None, ["Canberra, ACT"], ["Canberra"],
     ("Canberra, ACT", "annotators")),
    ("differing proposals beside kept ones", None, ["x", "y"], ["Canberra"], None),
    ("blank proposals count as none", None, ["  "], ["Canberra"], ("Canberra", "item")),
    ("nothing", None, [], [], None),
]


@pytest.mark.parametrize(("adjudicated", "proposed", "kept", "expected"),
                         [case[1:] for case in REFERENCE_CASES],
                         ids=[case[0] for case in REFERENCE_CASES])
def test_decide_reference(adjudicated, proposed, kept, expected):
    assert decide_reference(adjudicated, proposed, kept) == expected
