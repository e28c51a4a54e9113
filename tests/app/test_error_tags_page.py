"""Disagreements page: tagging why a judge was wrong, and editing the project's categories."""

from __future__ import annotations

import pytest

from core.error_taxonomy import DEFAULT_ERROR_CATEGORIES
from core.safe_text import escape_markdown
from storage.authz import OPERATOR
from storage.demo import load_demo
from storage.error_tags import error_categories, error_taxonomy, item_error_tags
from storage.projects import get_project
from storage.review import find_item_id
from storage.users import create_user, set_active
from tests.app.review_helpers import DISAGREEMENTS, open_with


@pytest.fixture
def demo(app_db):
    load_demo(app_db, actor=OPERATOR)
    return app_db


def corr_001(db) -> tuple[int, int]:
    with db.read() as session:
        project_id = get_project(session=session, name="correctness").id
        return project_id, find_item_id(session=session, external_id="corr-001",
                                        project_id=project_id)


def open_item(admin):
    return open_with(DISAGREEMENTS, user=admin, params={"disagreements.project": "correctness",
                                                        "disagreements.item": "corr-001"})


def test_an_admin_tags_a_judges_wrong_verdict_and_the_tags_are_stored_and_shown(demo, admin):
    project_id, item_id = corr_001(demo)
    at = open_item(admin)
    # llama-3.1-70b said "correct" where two of three experts said "incorrect".
    tags = at.multiselect(key=f"disagreements.error_tags.{item_id}.llama-3.1-70b.correct")
    assert tags.options == list(DEFAULT_ERROR_CATEGORIES) and tags.value == []
    tags.select("missed error").select("hallucinated rationale")
    at.button(key=f"disagreements.error_tags.{item_id}.llama-3.1-70b.save").click().run()

    assert not at.exception
    assert "Error tags of llama-3.1-70b saved (2)." in [s.value for s in at.success]
    with demo.read() as session:
        assert item_error_tags(session=session, item_id=item_id) == {
            ("llama-3.1-70b", "correct"): ("missed error", "hallucinated rationale")}
        judges = error_taxonomy(session=session, project_id=project_id).judges
    assert [(j.rater, j.tagged_verdicts, dict(j.counts)["missed error"]) for j in judges] == [
        ("judge:llama-3.1-70b", 1, 1)]
    # Opened again, the form shows what is stored.
    again = open_item(admin)
    assert again.multiselect(key=f"disagreements.error_tags.{item_id}.llama-3.1-70b.correct"
                             ).value == ["missed error", "hallucinated rationale"]


def test_a_deactivated_admins_pending_tags_are_refused_and_not_stored(demo, admin):
    _, item_id = corr_001(demo)
    at = open_item(admin)
    at.multiselect(key=f"disagreements.error_tags.{item_id}.gpt-4o.correct").select("format")
    with demo.write() as session:
        create_user(session=session, name="boss", role="admin", password="a long enough password",
                    actor=OPERATOR)
    with demo.write() as session:
        set_active(session=session, user_id=admin.id, active=False, actor=OPERATOR)
    at.button(key=f"disagreements.error_tags.{item_id}.gpt-4o.save").click().run()

    with demo.read() as session:
        assert item_error_tags(session=session, item_id=item_id) == {}


def test_the_project_categories_are_edited_on_the_page_and_bad_lists_refused(demo, admin):
    project_id, item_id = corr_001(demo)
    at = open_item(admin)
    editor = at.text_area(key=f"disagreements.error_categories.text.{project_id}")
    assert editor.value.splitlines() == list(DEFAULT_ERROR_CATEGORIES)
    editor.input("missed error\nMissed Error")
    at.button[[b.label for b in at.button].index("Save categories")].click().run()
    assert [e.value for e in at.error] == [
        "Not saved: " + escape_markdown("category 'Missed Error' repeats 'missed error'")]

    at.text_area(key=f"disagreements.error_categories.text.{project_id}").input(
        "missed error\nwrong unit\n\n")
    at.button[[b.label for b in at.button].index("Save categories")].click().run()
    assert not at.exception
    assert "Saved 2 error categories." in [s.value for s in at.success]
    with demo.read() as session:
        assert error_categories(session=session, project_id=project_id) == (
            "missed error", "wrong unit")
    assert at.multiselect(key=f"disagreements.error_tags.{item_id}.gpt-4o.correct").options == [
        "missed error", "wrong unit"]


def test_the_dashboard_counts_the_tags_per_judge_and_category(demo, admin):
    from storage.error_tags import set_error_tags
    from tests.app.review_helpers import DASHBOARD, plotly_figures, table_with

    _, item_id = corr_001(demo)
    with demo.write() as session:
        set_error_tags(session=session, item_id=item_id, judge="llama-3.1-70b",
                       dimension="correct", categories=["missed error", "length"], actor=admin)
        set_error_tags(session=session, item_id=item_id, judge="prometheus-2-7b",
                       dimension="correct", categories=["missed error"], actor=admin)
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "correctness"})
    at.segmented_control(key="dashboard.view").set_value("Why judges err").run()

    assert not at.exception
    table = table_with(at, "tagged verdicts").set_index("judge")
    assert table.loc["judge:llama-3.1-70b", ["missed error", "length", "format"]].tolist() == [1, 1, 0]
    assert table.loc["judge:prometheus-2-7b", ["missed error", "length"]].tolist() == [1, 0]
    (figure,) = [f for f in plotly_figures(at) if any(t.get("name") == "length" for t in f["data"])]
    bars = {trace["name"]: dict(zip(trace["y"], trace["x"], strict=True)) for trace in figure["data"]}
    assert set(bars) == {"missed error", "length"}  # categories nobody used are not drawn
    assert bars["missed error"] == {"judge:llama-3.1-70b (1 tagged)": 1,
                                    "judge:prometheus-2-7b (1 tagged)": 1}
