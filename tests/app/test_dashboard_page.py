"""Dashboard page (AppTest): every demo project renders with the numbers an independent
computation gives, every detail view renders, the cache follows the data version, filters and
juries apply."""

from __future__ import annotations

import pandas as pd
import pytest

import components.review_data
from core.metrics import REGISTRY
from core.safe_text import escape_markdown
from core.templates import TEMPLATES
from storage.annotation import submit_labels
from storage.annotation_settings import ProjectSettings, set_members, update_settings
from storage.authz import OPERATOR
from storage.demo import load_demo
from storage.importer import import_file
from storage.juries import list_juries
from storage.projects import get_project
from storage.queues import rebuild_queues
from storage.review import find_item_id
from tests.app.review_helpers import (
    DASHBOARD,
    demo_records,
    majority,
    open_with,
    oracle_against_consensus,
    plotly_figures,
    table_with,
)
from tests.converters import write_jsonl

MAIN_TITLE = {"nominal": "Cohen's κ", "ordinal": "Quadratically weighted κ",
              "ranking": "Kendall's τ-b"}
SECOND_TITLE = {"nominal": "Percent agreement", "ordinal": "Percent agreement",
                "ranking": "Top-1 agreement"}


@pytest.fixture
def demo(app_db):
    load_demo(app_db, actor=OPERATOR)
    return app_db


def headline(at, template: str):
    scale = TEMPLATES[template].dimensions[0].scale
    # A ranking also lists every rater pair ("rater a", "rater b") with the same metric.
    frames = [df.value for df in at.dataframe
              if MAIN_TITLE[scale] in df.value.columns and "rater" in df.value.columns]
    assert len(frames) == 1
    return frames[0].set_index("rater"), MAIN_TITLE[scale]


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_each_demo_project_shows_the_independently_computed_numbers(demo, admin, template):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": template})

    assert not at.exception
    assert at.title[0].value == "Dashboard"
    table, title = headline(at, template)
    expected = oracle_against_consensus(template, TEMPLATES[template].dimensions[0].name)
    assert set(table.index) == set(expected)
    for judge, (kappa, agreement, n) in expected.items():
        assert table.loc[judge, title] == pytest.approx(kappa, abs=1e-9), judge
        second = SECOND_TITLE[TEMPLATES[template].dimensions[0].scale]
        assert table.loc[judge, second] == pytest.approx(100 * agreement), judge
        assert table.loc[judge, "n"] == n
    # Best first, and the forest plot draws the same values.
    assert list(table[title]) == sorted(table[title], reverse=True)
    forest = plotly_figures(at)[0]
    drawn = {y.split(" (n=")[0]: x for trace in forest["data"] if trace["type"] == "scatter"
             and not trace["name"].startswith("annotator pair")
             for x, y in zip(trace.get("x") or [], trace.get("y") or [], strict=True)
             if x is not None}
    assert drawn == pytest.approx({judge: value[0] for judge, value in expected.items()})
    best = max(expected, key=lambda judge: expected[judge][0])
    (sentence,) = [m.value for m in at.markdown if "agrees best" in m.value]
    assert sentence.startswith(f"**{escape_markdown(best)}** agrees best with the human consensus")


@pytest.mark.parametrize("view", ["Confusion matrix", "Agreement matrix", "Label distribution",
                                  "By group", "By model", "Model ranking", "Why judges err",
                                  "All dimensions"])
@pytest.mark.parametrize("template", list(TEMPLATES))
def test_every_detail_view_renders(demo, admin, template, view):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": template})
    at.segmented_control(key="dashboard.view").set_value(view).run()

    assert not at.exception
    assert not at.error
    assert len(plotly_figures(at)) + len(at.info) >= 2  # the headline and the view (or why not)


def test_confusion_matrix_counts_match_the_demo_file(demo, admin):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "correctness"})
    at.selectbox(key="dashboard.confusion_judge").set_value("judge:gpt-4o").run()

    confusion = plotly_figures(at)[1]["data"][0]
    _, agreement, n = oracle_against_consensus("correctness", "correct")["gpt-4o"]
    counts = confusion["z"]
    assert sum(map(sum, counts)) == n
    assert (counts[0][0] + counts[1][1]) / n == pytest.approx(agreement)


def test_the_cache_is_hit_until_a_label_changes_the_data_version(demo, admin, annotator,
                                                                  monkeypatch):
    calls = []
    original = components.review_data.dashboard_report

    def counting(ratings, request, samples=None):
        calls.append(request)
        return original(ratings, request, samples)

    monkeypatch.setattr(components.review_data, "dashboard_report", counting)
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "correctness"})
    before, alpha = at.metric[1].value, at.metric[2].value  # consensus items, humans' alpha
    at.run()
    assert len(calls) == 1  # a rerun without a write is a cache hit

    with demo.write() as session:
        project_id = get_project(session=session, name="correctness").id
        update_settings(session=session, project_id=project_id, settings=ProjectSettings(),
                        actor=OPERATOR)
        set_members(session=session, project_id=project_id, user_ids=[annotator.id], actor=OPERATOR)
    rebuild_queues(demo, project_id=project_id, actor=OPERATOR)
    with demo.read() as session:
        item = find_item_id(session=session, project_id=project_id, external_id="corr-001")
    # corr-001 had two "incorrect" and one "correct": a fourth, "correct", ties it.
    submit_labels(demo, project_id=project_id, user_id=annotator.id, item_id=item,
                  labels={"correct": "correct"}, actor=OPERATOR)
    at.run()

    assert len(calls) == 2
    assert int(at.metric[1].value) == int(before) - 1
    assert "ann" in at.multiselect(key=f"dashboard.filter.{project_id}.humans.correct").options
    assert at.metric[2].value != alpha  # the humans' alpha now includes ann


def test_filters_apply_only_on_submit_and_recompute(demo, admin):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "exam_question"})
    with demo.read() as session:
        pid = get_project(session=session, name="exam_question").id
    assert at.metric[0].value == "26"

    at.number_input(key=f"dashboard.filter.{pid}.min_humans").set_value(3).run()
    assert at.metric[0].value == "26"  # not applied before Apply
    at.number_input(key=f"dashboard.filter.{pid}.min_humans").set_value(3)
    at.selectbox(key=f"dashboard.filter.{pid}.binarize.correctness").set_value("4")
    at.multiselect(key=f"dashboard.filter.{pid}.judges.correctness").set_value(["llama-3.1-8b"])
    at.button(key=f"dashboard.apply.{pid}").click().run()

    assert not at.exception
    assert at.subheader[0].value == "Correctness (nominal · binarised at ≥ 4)"
    assert int(at.metric[0].value) < 26
    table = table_with(at, "Cohen's κ")
    assert list(table["rater"]) == ["gpt-4o"]


def test_a_jury_is_added_stored_scored_and_removed(demo, admin):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "correctness"})
    with demo.read() as session:
        pid = get_project(session=session, name="correctness").id
    assert at.selectbox(key=f"dashboard.juries.{pid}.rule").options == ["majority"]  # nominal
    at.text_input(key=f"dashboard.juries.{pid}.name").input("big two")
    at.multiselect(key=f"dashboard.juries.{pid}.members").set_value(["gpt-4o", "llama-3.1-70b"])
    at.button(key=f"dashboard.jury.add.{pid}").click().run()

    assert not at.exception
    table, _ = headline(at, "correctness")
    assert "jury big two" in table.index
    assert table.loc["jury big two", "n"] > 0
    with demo.read() as session:  # stored, not kept in this browser session
        assert [(j.name, j.members, j.rule) for j in list_juries(session=session, project_id=pid)] \
            == [("big two", ("gpt-4o", "llama-3.1-70b"), "majority")]
    fresh = open_with(DASHBOARD, user=admin, params={"dashboard.project": "correctness"})
    assert "jury big two" in headline(fresh, "correctness")[0].index

    at.text_input(key=f"dashboard.juries.{pid}.name").input("solo")
    at.multiselect(key=f"dashboard.juries.{pid}.members").set_value(["gpt-4o"])
    at.button(key=f"dashboard.jury.add.{pid}").click().run()
    assert "at least two different judges" in at.error[0].value
    at.button(key=f"dashboard.jury.remove.{pid}.big two").click().run()
    assert not at.exception
    assert "jury big two" not in headline(at, "correctness")[0].index


def test_metric_definitions_are_one_click_away(demo, admin):
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "exam_question"})

    captions = [c.value for c in at.caption]
    for name in ("kappa_quadratic", "cohen_kappa", "spearman", "krippendorff_alpha"):
        assert REGISTRY[name].definition in captions, name


def test_an_undefined_value_is_shown_with_its_reason(app_db, admin, tmp_path):
    # Humans and judge "same" say "correct" to everything: kappa is 0/0 for "same".
    records = [{"id": f"q{i}", "prompt": f"Q{i}?", "response": "A",
                "judges": {"same": {"correct": "correct"},
                           "other": {"correct": "correct" if i % 2 else "incorrect"}},
                "humans": {"h": {"correct": "correct"}}} for i in range(4)]
    import_file(app_db, write_jsonl(records, tmp_path / "u.jsonl"), project_name="flat",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "flat"})

    assert not at.exception
    table = table_with(at, "Cohen's κ").set_index("rater")
    reason = ("both raters gave every pairable item the same label ('correct'): there is no "
              "variation to agree on")
    assert pd.isna(table.loc["same", "Cohen's κ"])
    assert table.loc["same", "undefined because"] == reason
    assert table.loc["same", "n"] == 4
    forest = plotly_figures(at)[0]
    notes = [note for note in forest["layout"]["annotations"] if "hovertext" in note]
    assert [note["hovertext"] for note in notes] == [f"undefined: {reason}"]
    assert notes[0]["text"].startswith("undefined: both raters gave every pairable item")


def test_a_newcomer_with_few_shared_items_does_not_stretch_the_human_range(demo, admin, tmp_path):
    """The issue's walk: one new annotator labels 5 correctness items against the other
    experts. Their pairs (n <= 5) stay out of the human range and are listed; the range is
    still the one pair sharing >= 20 items, and the weak judge is not green."""
    records = demo_records("correctness")[:5]
    flipped = {"correct": "incorrect", "incorrect": "correct"}
    for record in records:
        labels = [h["correct"] for h in record["humans"].values()]
        record.pop("judges")
        record["humans"] = {"newcomer": {"correct": flipped[majority(labels)]}}
    import_file(demo, write_jsonl(records, tmp_path / "newcomer.jsonl"), project_name="correctness",
                schema=None, actor=OPERATOR)
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "correctness"})

    forest = plotly_figures(at)[0]
    band = next(shape for shape in forest["layout"]["shapes"] if shape["type"] == "rect")
    # li.wei x maria (21 shared items, κ 22/31) is the one pair with enough overlap.
    assert band["x0"] == band["x1"] == pytest.approx(22 / 31)
    names = {trace["name"]: trace for trace in forest["data"]}
    assert names["annotator pair (in the range)"]["y"] == ["li.wei × maria (n=21)"]
    # (a flipped label ties some items' consensus, so n drops below the demo's 32)
    assert [y.split(" (n=")[0] for y in names["below the human range"]["y"]] == ["prometheus-2-7b"]
    (sentence,) = [m.value for m in at.markdown if "agrees best" in m.value]
    assert escape_markdown("Left out of the human range, too few shared items (fewer than 20): "
                           "dr_ahmed × li.wei (n = 10)") in sentence
    assert escape_markdown("li.wei × newcomer (n = 3)") in sentence

    # With no minimum the newcomer's negative κ becomes the low end, which is what made the
    # weak judge look "within the human range" before.
    at.number_input(key="dashboard.min_pair_items").set_value(1).run()
    band = next(s for s in plotly_figures(at)[0]["layout"]["shapes"] if s["type"] == "rect")
    assert band["x0"] < 0


def test_the_headline_counts_each_judges_unparseable_verdicts(app_db, admin, tmp_path):
    records = [{"id": f"q{i}", "prompt": f"question {i}", "response": "answer",
                "judges": {"steady": {"correct": label},
                           "flaky": ({"correct": label} if i % 3 else
                                     {"correct": None, "raw": "Well, it depends."})},
                "humans": {"ann": {"correct": label}}}
               for i, label in enumerate(["correct", "incorrect"] * 6)]
    import_file(app_db, write_jsonl(records, tmp_path / "flaky.jsonl"), project_name="flaky",
                schema=TEMPLATES["correctness"], actor=OPERATOR)

    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "flaky"})

    table = table_with(at, "unparseable").set_index("rater")
    assert table.loc["flaky", "unparseable"] == "4 of 12"
    assert table.loc["steady", "unparseable"] == "0 of 12"
    assert table.loc["flaky", "n"] == 8  # agreement on the 8 parsed verdicts only


def test_a_judge_with_samples_shows_its_self_consistency(app_db, admin, tmp_path):
    # Judge "wobbly" answers three samples per item; its majority is scored, its samples'
    # agreement is shown with n. Hand-computed Fleiss' kappa over the samples: per-item
    # agreement 1, 1, 1/3, 1/3 (mean 2/3), label shares 1/2 each (P_e 1/2): kappa 1/3.
    samples = [["correct"] * 3, ["incorrect"] * 3, ["correct", "correct", "incorrect"],
               ["incorrect", "incorrect", "correct"]]
    records = [{"id": f"q{i}", "prompt": f"Q{i}?", "response": "A",
                "judges": {"wobbly": [{"correct": label} for label in labels]},
                "humans": {"h": {"correct": labels[0]}}} for i, labels in enumerate(samples)]
    import_file(app_db, write_jsonl(records, tmp_path / "w.jsonl"), project_name="wobbly",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "wobbly"})

    assert not at.exception
    table = table_with(at, "samples")
    assert list(table["judge"]) == ["wobbly"]
    assert (table.loc[0, "samples"], table.loc[0, "items"]) == (3, 4)
    assert table.loc[0, "Fleiss' κ"] == pytest.approx(1 / 3)
    assert table.loc[0, "Fleiss' κ 95% CI"].startswith("[")
