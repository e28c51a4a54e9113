"""Dashboard Bias card and Win rates views (AppTest): every template renders them, and the
numbers shown are the ones an independent count over the demo file gives."""

from __future__ import annotations

import pytest
from sqlmodel import select

from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.demo import load_demo
from storage.projects import get_project
from storage.review import find_item_id
from tests.app.review_helpers import DASHBOARD, demo_records, majority, open_with, table_with


@pytest.fixture
def demo(app_db):
    load_demo(app_db, actor=OPERATOR)
    return app_db


def open_view(admin, template: str, view: str):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": template})
    at.segmented_control(key="dashboard.view").set_value(view).run()
    assert not at.exception
    assert not at.error
    return at


@pytest.mark.parametrize("view", ["Bias card", "Win rates"])
@pytest.mark.parametrize("template", list(TEMPLATES))
def test_audit_views_render(demo, admin, template, view):
    at = open_view(admin, template, view)
    assert at.dataframe or at.info


def test_bias_card_shows_the_independently_counted_length_figure(demo, admin):
    at = open_view(admin, "pairwise", "Bias card")
    at.selectbox(key="dashboard.bias_judge").set_value("judge:gpt-3.5-turbo").run()
    table = table_with(at, "meaning").set_index("figure")
    # Where the humans' majority is a tie or the shorter response, how often the judge
    # picked the longer one, counted straight from the demo file.
    hits = eligible = 0
    for record in demo_records("pairwise"):
        la, lb = len(record["response_a"]), len(record["response_b"])
        consensus = majority([h["preference"] for h in record.get("humans", {}).values()])
        judged = record.get("judges", {}).get("gpt-3.5-turbo", {}).get("preference")
        if la == lb or consensus is None or judged is None:
            continue
        longer = "A" if la > lb else "B"
        if consensus != longer:
            eligible += 1
            hits += judged == longer
    assert table.loc["longer rate", "value"] == pytest.approx(hits / eligible)
    assert table.loc["longer rate", "n"] == eligible
    low, high = table.loc["longer rate", ["ci_low", "ci_high"]]
    assert low <= hits / eligible <= high
    assert "@swapped" in table.loc["consistency", "undefined"]
    assert "no family" in table.loc["self preference", "undefined"]


def test_win_rates_show_the_independently_counted_rates(demo, admin):
    at = open_view(admin, "pairwise", "Win rates")
    table = table_with(at, "bt_strength").set_index("model")
    wins: dict[str, list[float]] = {}
    for record in demo_records("pairwise"):
        label = majority([h["preference"] for h in record.get("humans", {}).values()])
        if label is None:
            continue
        share = {"A": 1.0, "B": 0.0, "tie": 0.5}[label]
        for model, won in ((record["model_a"], share), (record["model_b"], 1 - share)):
            wins.setdefault(model, [0.0, 0])
            wins[model][0] += won
            wins[model][1] += 1
    assert set(table.index) == set(wins)
    for model, (won, games) in wins.items():
        assert table.loc[model, "win_rate"] == pytest.approx(won / games), model
        assert table.loc[model, "comparisons"] == games
    # Sorted by strength, and the chart draws one trace per rater.
    strengths = table["bt_strength"].dropna().tolist()
    assert strengths == sorted(strengths, reverse=True)
    ranking = table_with(at, "kendall_tau_b")
    assert set(ranking["judge"]) == {"gpt-3.5-turbo", "pandalm-7b"}


def test_bias_card_lists_consistency_probes_per_item(demo, admin):
    from storage.models import Judge, ProbeVerdict
    from storage.probes import add_paraphrases

    # Two probed items of the correctness demo judged by gpt-4o on every wording: q1 keeps
    # its label (agreement 1), q2 changes it on one of three wordings (agreement 1/3).
    labels = {"corr-001": ["correct", "correct"], "corr-002": ["correct", "incorrect", "correct"]}
    with demo.write() as session:
        for item, wording_labels in labels.items():
            add_paraphrases(session=session, project="correctness", item=item,
                            questions=[f"{item}, reworded {n}?" for n in
                                       range(1, len(wording_labels))], actor=OPERATOR)
        project_id = get_project(session=session, name="correctness").id
        judge = session.exec(select(Judge).where(Judge.name == "gpt-4o",
                                                 Judge.project_id == project_id)).one()
        for item, wording_labels in labels.items():
            item_id = find_item_id(session=session, project_id=judge.project_id,
                                   external_id=item)
            for position, label in enumerate(wording_labels):
                session.add(ProbeVerdict(item_id=item_id, judge_id=judge.id, dimension="correct",
                                         position=position, label=label))
    at = open_view(admin, "correctness", "Bias card")
    at.selectbox(key="dashboard.bias_judge").set_value("judge:gpt-4o").run()
    card = table_with(at, "meaning").set_index("figure")
    assert card.loc["label agreement", "value"] == pytest.approx((1 + 1 / 3) / 2)
    assert card.loc["label agreement", "n"] == 2
    assert card.loc["unanimous rate", "value"] == pytest.approx(0.5)
    assert "rationales" in card.loc["text similarity", "undefined"]
    probes = table_with(at, "wording")
    assert list(probes["item"]) == ["corr-001"] * 2 + ["corr-002"] * 3
    assert list(probes["label"]) == ["correct", "correct", "correct", "incorrect", "correct"]
    assert list(probes["source"])[:2] == ["item", "admin"]
    assert probes["item label agreement"].tolist() == pytest.approx([1, 1, 1 / 3, 1 / 3, 1 / 3])
