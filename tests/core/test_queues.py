"""Queue planning: order, balance, overlap, and re-plans that keep finished work."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.queues import QueueError, judge_disagreement, order_items, plan_assignments


def test_sequential_order_is_the_import_order():
    assert order_items([5, 3, 9], order="sequential") == [5, 3, 9]


def test_random_order_is_a_seeded_permutation_stable_under_additions():
    items = list(range(1, 51))
    first = order_items(items, order="random", seed=7)
    assert sorted(first) == items and first != items
    assert order_items(items, order="random", seed=7) == first
    assert order_items(items, order="random", seed=8) != first
    # Adding items does not reshuffle the ones already there.
    grown = order_items([*items, 51, 52], order="random", seed=7)
    assert [i for i in grown if i <= 50] == first


def test_disagreement_order_puts_split_judges_first_and_keeps_import_order_on_ties():
    scores = {1: 0.0, 2: 1.0, 3: 0.5, 4: 1.0}
    assert order_items([1, 2, 3, 4], order="disagreement", disagreement=scores) == [2, 4, 3, 1]


def test_unknown_order_names_the_known_ones():
    with pytest.raises(QueueError, match=r"unknown queue order 'alphabetic' .*sequential, random, "
                                         r"disagreement"):
        order_items([1], order="alphabetic")


def test_judge_disagreement_is_the_share_of_judge_pairs_that_differ():
    scores = judge_disagreement({
        1: {"correct": ["correct", "correct", "correct"]},          # 0 of 3 pairs differ
        2: {"correct": ["correct", "incorrect", "incorrect"]},      # 2 of 3
        3: {"a": ["1", "2"], "b": ["3", "3"]},                      # 1 of 2, pooled
        4: {"correct": ["correct"]},                                # no pair
    })
    assert scores == {1: 0.0, 2: 2 / 3, 3: 0.5, 4: 0.0}


def test_each_item_gets_overlap_distinct_annotators_and_loads_are_balanced():
    plan = plan_assignments(list(range(100)), [11, 12, 13, 14], overlap=3)
    by_item: dict[int, list[int]] = {}
    for slot in plan:
        by_item.setdefault(slot.item_id, []).append(slot.user_id)
    assert all(len(users) == len(set(users)) == 3 for users in by_item.values())
    assert len(by_item) == 100
    assert Counter(slot.user_id for slot in plan) == {11: 75, 12: 75, 13: 75, 14: 75}
    assert all(slot.position == slot.item_id for slot in plan)


def test_overlap_above_team_size_gives_everyone_every_item():
    plan = plan_assignments([1, 2], [7, 8], overlap=3)
    assert sorted((s.item_id, s.user_id) for s in plan) == [(1, 7), (1, 8), (2, 7), (2, 8)]


def test_kept_work_counts_towards_overlap_and_load():
    # Item 1 is already labelled by 7 (kept); 7 also holds item 2. Overlap 1: only item 3 is open.
    plan = plan_assignments([1, 2, 3], [7, 8], overlap=1, kept={1: {7}, 2: {7}})
    assert [(s.item_id, s.user_id) for s in plan] == [(3, 8)]


def test_labels_of_a_removed_annotator_still_count():
    plan = plan_assignments([1, 2], [8], overlap=1, kept={1: {99}})
    assert [(s.item_id, s.user_id) for s in plan] == [(2, 8)]


@pytest.mark.parametrize("overlap", [0, 11])
def test_overlap_out_of_range_is_refused(overlap):
    with pytest.raises(QueueError, match="overlap must be between 1 and 10"):
        plan_assignments([1], [1], overlap=overlap)


@given(items=st.integers(0, 60), team=st.integers(1, 7), overlap=st.integers(1, 5))
def test_plan_properties(items, team, overlap):
    plan = plan_assignments(list(range(items)), list(range(100, 100 + team)), overlap=overlap)
    pairs = [(s.item_id, s.user_id) for s in plan]
    assert len(pairs) == len(set(pairs)) == items * min(overlap, team)
    loads = Counter(s.user_id for s in plan)
    if items:
        assert max(loads.values()) - min(loads.get(u, 0) for u in range(100, 100 + team)) <= 1
