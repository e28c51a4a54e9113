"""Dashboard and Disagreements on a ranking project (AppTest, SQLite and PostgreSQL): the
headline is Kendall's τ-b beside top-1 agreement with the humans' range, every rater pair's
four ranking metrics are in a table, each detail view renders or says why it does not apply
(the estimates and the judge audit among them), and Disagreements lists each rater's order
and the Borda consensus. Every number is the hand computation of tests/ranking_data.py or
scipy's."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.dashboard_view import VIEWS
from core.audit.report import audit_not_applicable
from core.estimate.report import estimates_not_applicable
from core.safe_text import escape_markdown
from storage.authz import OPERATOR
from storage.importer import import_file
from tests.app.review_helpers import DASHBOARD, DISAGREEMENTS, open_with, plotly_figures, table_with
from tests.ranking_data import (
    HAND_EXPECTED,
    HAND_RECORDS,
    METRICS,
    RANKING,
    oracle_pairs,
    random_records,
    write_jsonl,
)

TAU, TOP1 = "Kendall's τ-b", "Top-1 agreement"
TITLES = {"kendall_tau_b": TAU, "spearman": "Spearman's ρ", "top1_agreement": TOP1,
          "normalized_levenshtein": "Normalised Levenshtein distance"}


@pytest.fixture
def ranked(app_db_any, tmp_path: Path):
    import_file(app_db_any, write_jsonl(HAND_RECORDS, tmp_path / "rk.jsonl"), project_name="rk",
                schema=RANKING, actor=OPERATOR)
    return app_db_any


def test_dashboard_headline_and_pairs_table(ranked, admin):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "rk"})

    assert not at.exception
    headline = table_with(at, "95% CI").set_index("rater")  # the pairs table has per-metric CIs
    expected = HAND_EXPECTED[("human:consensus", "judge:gpt")]
    assert headline.loc["gpt", TAU] == pytest.approx(expected["kendall_tau_b"])
    assert headline.loc["gpt", TOP1] == pytest.approx(100 * expected["top1_agreement"])
    assert headline.loc["gpt", "n"] == 4
    pairs = table_with(at, "rater a").set_index(["rater a", "rater b"])
    assert len(pairs) == 6  # ann, bob, consensus, gpt: every unordered pair
    for (a, b), values in HAND_EXPECTED.items():
        row = pairs.loc[(a.split(":", 1)[1].replace("consensus", "human consensus"),
                         b.split(":", 1)[1])]
        for metric in METRICS:
            scale = 100 if metric == "top1_agreement" else 1
            assert row[TITLES[metric]] == pytest.approx(scale * values[metric]), (a, b, metric)
            assert row[f"{TITLES[metric]} 95% CI"].startswith("["), (a, b, metric)
    # τ-b is the headline and says so; the forest plot draws the judge's value.
    captions = " ".join(c.value for c in at.caption)
    assert "Kendall's τ-b is the headline for rankings" in captions
    forest = plotly_figures(at)[0]
    drawn = [x for trace in forest["data"] if trace["type"] == "scatter"
             for x in trace.get("x") or []]
    assert pytest.approx(expected["kendall_tau_b"]) in drawn
    metrics = [m.label for m in at.metric]
    assert "Humans' Kendall's τ-b" in metrics and "Humans' Top-1 agreement" in metrics


def test_dashboard_human_range_with_every_pair(ranked, admin):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "rk"})
    (sentence,) = [m.value for m in at.markdown if "agrees best" in m.value]
    assert "no pair of annotators shares at least 20 items" in sentence  # ann × bob: 3
    at.number_input(key="dashboard.min_pair_items").set_value(1).run()
    (sentence,) = [m.value for m in at.markdown if "agrees best" in m.value]
    assert "agree with each other at 0.556 to 0.556" in sentence  # τ-b of ann × bob: 5/9


@pytest.mark.parametrize("view", [v for v in VIEWS if v != "Why judges err"])
def test_every_dashboard_view_renders_or_says_why_not(ranked, admin, view):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "rk"})
    at.segmented_control(key="dashboard.view").set_value(view).run()

    assert not at.exception, view
    infos = " ".join(i.value for i in at.info)
    if view == "Estimates":
        assert infos == escape_markdown(estimates_not_applicable("ranking", "ranking").sentence())
        assert infos.startswith(r"The PPI\+\+ estimate does not apply to \'ranking\'")
    elif view in ("Bias card", "Win rates"):
        assert infos == escape_markdown(audit_not_applicable("ranking", "ranking").sentence())
    elif view in ("Confusion matrix", "Label distribution", "Model ranking"):
        assert "ranking" in infos
    elif view in ("Agreement matrix", "By group", "All dimensions"):
        assert len(plotly_figures(at)) >= 2, view


def test_by_group_draws_each_groups_tau(ranked, admin):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "rk"})
    at.segmented_control(key="dashboard.view").set_value("By group").run()
    grid = plotly_figures(at)[-1]["data"][0]
    # g1 = i1, i2 (τ 1 and −1: mean 0); g2 = i3, i4 (τ 1 and −1/3: mean 1/3).
    assert [z for row in grid["z"] for z in row] == pytest.approx([0.0, 1 / 3])


def test_disagreements_list_each_order_and_the_borda_consensus(ranked, admin):
    at = open_with(DISAGREEMENTS, user=admin, params={"disagreements.project": "rk"})

    assert not at.exception
    table = table_with(at, "judges_against")
    assert list(table["item"]) == ["i2", "i4", "i3"]  # by distance: 2, 4/3, 0
    rows = table.set_index("item")
    assert rows.loc["i2", "human labels"] == "ann: 2,1,3 · bob: 1,2,3"
    assert (rows.loc["i2", "consensus"], rows.loc["i2", "judge:gpt"]) == ("1,2,3", "3,2,1")
    assert (rows.loc["i3", "kind"], rows.loc["i3", "consensus"]) == ("humans split", "3,1,2")
    assert rows.loc["i4", "kind"] == "judge vs humans"
    at.selectbox(key="disagreements.item").set_value("i2").run()  # opens beside the gold form
    assert not at.exception


def test_dashboard_numbers_equal_scipy_on_a_larger_project(app_db, admin, tmp_path: Path):
    records = random_records(11, 80, ["ann", "bob", "cy"], ["gpt", "llama"])
    import_file(app_db, write_jsonl(records, tmp_path / "r.jsonl"), project_name="big",
                schema=RANKING, actor=OPERATOR)
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "big"})

    assert not at.exception
    pairs = table_with(at, "rater a")
    expected = oracle_pairs(records)
    assert len(pairs) == len(expected)
    for (a, b), values in expected.items():
        short = [r.split(":", 1)[1].replace("consensus", "human consensus") for r in (a, b)]
        row = pairs[(pairs["rater a"] == short[0]) & (pairs["rater b"] == short[1])].iloc[0]
        assert row["n"] == values["n"]
        assert row[TAU] == pytest.approx(values["kendall_tau_b"], abs=1e-12), (a, b)
        assert row["Normalised Levenshtein distance"] == pytest.approx(
            values["normalized_levenshtein"], abs=1e-12), (a, b)
