"""Gold rankings (Borda under the gold policy, adjudication on top), their columns, the order
column of every table format, and DPO pairs from a gold ranking: checked against hand
computation and scipy, not against Docket's own output."""

from __future__ import annotations

import io
import json
from itertools import combinations
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import kendalltau

from core.export.gold import (
    BORDA,
    GoldPolicy,
    RankingGold,
    decide_ranking,
    dimension_columns,
    mean_pairwise_tau,
)
from core.export.preferences import PairStats, preference_pairs, preference_source
from core.export.writers import Column, ExportError, write_table
from core.schema import schema_from_dict
from core.templates import TEMPLATES

# Three responses: Borda points are 2, 1, 0 for first, second, third place.
TIED_BY_POINTS = [(2, 1, 3), (2, 1, 3), (1, 3, 2)]
# points: 1 -> 1+1+2 = 4, 2 -> 2+2+0 = 4, 3 -> 0+0+1 = 1; firsts: 2 twice, 1 once -> (2, 1, 3)
# (the index rule alone would have put response 1 first).
FULL_TIE = [(1, 2, 3), (2, 1, 3)]
# points: 1 -> 2+1 = 3, 2 -> 1+2 = 3, 3 -> 0; firsts 1 each -> the earlier response: (1, 2, 3).


def scipy_mean_tau(orders):
    def ranks(order):
        return [order.index(r) + 1 for r in range(1, len(order) + 1)]
    taus = [kendalltau(ranks(a), ranks(b)).statistic for a, b in combinations(orders, 2)]
    return sum(taus) / len(taus)


def test_borda_breaks_a_points_tie_by_first_places_then_by_position():
    gold = decide_ranking(TIED_BY_POINTS, GoldPolicy("majority", 2))
    # τ((2,1,3),(1,3,2)) = (1 concordant - 2 discordant) / 3 = -1/3, twice; τ of the equal pair 1.
    assert gold == RankingGold((2, 1, 3), BORDA, 3, 2, pytest.approx(1 / 9))
    assert gold.mean_tau == pytest.approx(scipy_mean_tau(TIED_BY_POINTS))
    full = decide_ranking(FULL_TIE, GoldPolicy("majority", 2))
    assert full == RankingGold((1, 2, 3), BORDA, 2, 1, pytest.approx(1 / 3))
    assert full.mean_tau == pytest.approx(scipy_mean_tau(FULL_TIE))


def test_four_responses_borda_by_hand():
    orders = [(4, 1, 3, 2), (1, 4, 2, 3), (4, 2, 1, 3)]
    # points (3, 2, 1, 0): 1 -> 2+3+1 = 6, 2 -> 0+1+2 = 3, 3 -> 1+0+0 = 1, 4 -> 3+2+3 = 8
    gold = decide_ranking(orders, GoldPolicy("unanimous", 3))
    assert (gold.order, gold.agreeing, gold.annotators) == ((4, 1, 2, 3), 0, 3)
    assert gold.mean_tau == pytest.approx(scipy_mean_tau(orders))


@st.composite
def profiles(draw):
    """Two to six raters' orders of the same 2-9 responses."""
    n = draw(st.integers(2, 9))
    return [tuple(draw(st.permutations(range(1, n + 1)))) for _ in range(draw(st.integers(2, 6)))]


@settings(max_examples=100, deadline=None)
@given(profiles())
def test_borda_and_mean_tau_against_their_definitions(orders):
    gold = decide_ranking(orders, GoldPolicy("majority", 1))
    n = len(orders[0])
    # Borda read literally: points n - place (1-based), then first places, then position.
    points = {r: sum(n - order.index(r) - 1 for order in orders) for r in range(1, n + 1)}
    firsts = {r: sum(order[0] == r for order in orders) for r in range(1, n + 1)}
    assert gold.order == tuple(sorted(points, key=lambda r: (-points[r], -firsts[r], r)))
    assert gold.mean_tau == pytest.approx(scipy_mean_tau(orders))
    assert gold.agreeing == orders.count(gold.order)


def test_fewer_orders_than_k_decide_nothing():
    one = [(3, 2, 1)]
    assert decide_ranking(one, GoldPolicy("majority", 2)) == RankingGold(None, None, 1, 0, None)
    assert decide_ranking(one, GoldPolicy("majority", 1)).order == (3, 2, 1)
    assert decide_ranking([], GoldPolicy("majority", 1)).order is None
    # A floor on τ-b needs two orders to measure.
    assert decide_ranking(one, GoldPolicy("majority", 1, min_tau=0.0)).order is None


def test_the_tau_floor_keeps_only_items_the_humans_agree_on():
    assert decide_ranking(TIED_BY_POINTS, GoldPolicy("majority", 2, min_tau=0.2)).order is None
    assert decide_ranking(TIED_BY_POINTS, GoldPolicy("majority", 2, min_tau=0.1)).order == (2, 1, 3)
    same = [(2, 3, 1), (2, 3, 1)]
    assert decide_ranking(same, GoldPolicy("majority", 2, min_tau=1.0)).order == (2, 3, 1)
    assert decide_ranking(FULL_TIE, GoldPolicy("majority", 2, min_tau=1.0)).order is None


def test_an_adjudicated_order_overrides_borda_under_every_policy():
    for name in ("adjudicated", "unanimous", "majority"):
        gold = decide_ranking(TIED_BY_POINTS, GoldPolicy(name, 5, min_tau=1.0),
                              adjudicated=(1, 3, 2))
        assert gold == RankingGold((1, 3, 2), "adjudicated", 3, 1, pytest.approx(1 / 9))
    assert decide_ranking(TIED_BY_POINTS, GoldPolicy("adjudicated")).order is None


def test_policy_checks_and_words():
    with pytest.raises(ExportError, match="min_tau must be between -1 and 1"):
        GoldPolicy("majority", 2, min_tau=1.5)
    assert GoldPolicy("majority", 3, 0.4).describe_rankings() == (
        "adjudicated, else the Borda consensus of at least 3 human orders whose mean pairwise "
        "Kendall τ-b is at least 0.4")
    assert GoldPolicy("adjudicated").describe_rankings() == "adjudicated rankings only"
    assert mean_pairwise_tau([(1, 2)]) is None


RANKED = schema_from_dict({
    "name": "ranked", "fields": [{"name": "prompt"}, {"name": "responses", "kind": "texts"}],
    "dimensions": [{"name": "rank", "scale": "ranking", "over": "responses"}]})


def test_a_ranking_dimension_has_seven_gold_columns_with_an_order():
    (dimension,) = RANKED.dimensions
    assert [(c.name, c.type) for c in dimension_columns(dimension)] == [
        ("gold_rank", "order"), ("gold_rank_method", "string"), ("gold_rank_annotators", "int"),
        ("gold_rank_agreeing", "int"), ("gold_rank_mean_tau", "float"),
        ("gold_rank_decided_by", "string"), ("gold_rank_decided_at", "timestamp")]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_an_order_column_in_each_format(tmp_path: Path, fmt):
    columns = [Column("id"), Column("order", "order")]
    path = tmp_path / f"o.{fmt}"
    write_table(path, fmt, columns, [[["a", "b"], [(2, 1, 4, 3), None]]], {})
    if fmt == "jsonl":
        assert path.read_text() == '{"id":"a","order":[2,1,4,3]}\n{"id":"b","order":null}\n'
    elif fmt == "csv":
        assert path.read_bytes() == b'id,order\r\na,"2,1,4,3"\r\nb,\r\n'
    else:
        table = pq.read_table(path)
        assert table.schema.field("order").type == pa.list_(pa.int64())
        assert table.to_pylist() == [{"id": "a", "order": [2, 1, 4, 3]}, {"id": "b", "order": None}]


def test_an_order_column_takes_positions_only(tmp_path: Path):
    with pytest.raises(ExportError, match="response positions"):
        write_table(tmp_path / "o.jsonl", "jsonl", [Column("order", "order")], [[["2,1"]]], {})
    assert not (tmp_path / "o.jsonl").exists()


# --- DPO pairs from a ranking -------------------------------------------------------------

ROW = {"id": "q7", "prompt": "Which is best?", "responses": ["a", "b", "c", "d"],
       "gold_rank": (2, 1, 4, 3), "gold_rank_method": "borda"}


def pairs_of(rows, pairs="all", schema=RANKED):
    stats = PairStats()
    return list(preference_pairs(rows, schema, stats, pairs=pairs)), stats


def test_every_implied_pair_of_a_known_ranking():
    found, stats = pairs_of([ROW])
    assert preference_source(RANKED) == ("ranking", "rank")
    # b > a > d > c: 4 * 3 / 2 = 6 pairs, the better one chosen.
    assert [(p["chosen"], p["rejected"]) for p in found] == [
        ("b", "a"), ("b", "d"), ("b", "c"), ("a", "d"), ("a", "c"), ("d", "c")]
    assert stats.pairs == 6
    first = found[0]
    assert first == {"prompt": "Which is best?", "chosen": "b", "rejected": "a", "id": "q7:2>1",
                     "source": "ranking", "dimension": "rank", "chosen_label": "1",
                     "rejected_label": "2", "method": "borda", "chosen_id": "q7",
                     "rejected_id": "q7", "chosen_model": None, "rejected_model": None,
                     "chosen_source": "responses[2]"}
    assert [p["id"] for p in found][-1] == "q7:4>3"
    assert [(p["chosen_label"], p["rejected_label"]) for p in found][-1] == ("3", "4")


def test_adjacent_pairs_only():
    found, stats = pairs_of([ROW, {**ROW, "id": "q8", "responses": ["x", "y"],
                                   "gold_rank": (1, 2)}], pairs="adjacent")
    assert [(p["id"], p["chosen"], p["rejected"]) for p in found] == [
        ("q7:2>1", "b", "a"), ("q7:1>4", "a", "d"), ("q7:4>3", "d", "c"), ("q8:1>2", "x", "y")]
    assert stats.pairs == 4  # n - 1 per item: 3 + 1


def test_items_without_gold_are_counted_and_pairs_apply_to_rankings_only():
    found, stats = pairs_of([{**ROW, "gold_rank": None}, ROW])
    assert len(found) == 6 and stats.skipped == {"without gold rank": 1}
    with pytest.raises(ExportError, match="unknown pairs 'some'"):
        pairs_of([ROW], pairs="some")
    with pytest.raises(ExportError, match="pairs='adjacent' applies to ranking dimensions"):
        preference_pairs([], TEMPLATES["pairwise"], PairStats(), pairs="adjacent")


def test_ranked_images_are_refused_for_dpo():
    pictures = schema_from_dict({
        "name": "pics", "fields": [{"name": "prompt"}, {"name": "responses", "kind": "images"}],
        "dimensions": [{"name": "rank", "scale": "ranking", "over": "responses"}]})
    with pytest.raises(ExportError, match="'responses' holds images: export gold instead"):
        preference_pairs([ROW], pictures, PairStats())


def test_the_order_jsonl_is_what_json_reads_back(tmp_path: Path):
    path = tmp_path / "p.jsonl"
    write_table(path, "jsonl", [Column("order", "order")], [[[(9, 1, 2, 3, 4, 5, 6, 7, 8)]]], {})
    assert json.load(io.StringIO(path.read_text())) == {"order": [9, 1, 2, 3, 4, 5, 6, 7, 8]}
