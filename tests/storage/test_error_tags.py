"""Error tags and a project's error categories on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.error_taxonomy import DEFAULT_ERROR_CATEGORIES, ErrorTaxonomyError
from storage.authz import OPERATOR, NotAllowed
from storage.error_tags import (
    error_categories,
    error_taxonomy,
    item_error_tags,
    set_error_categories,
    set_error_tags,
)
from storage.models import ErrorTag
from storage.review import find_item_id
from storage.users import create_user
from tests.storage.test_gold import import_project


@pytest.fixture
def tagged(db, tmp_path):
    """A correctness project: two items, two judges, an admin and an annotator."""
    records = [{"id": "q1", "prompt": "Capital of Australia?", "response": "Sydney",
                "reference": "Canberra",
                "judges": {"gpt": {"correct": "correct"}, "claude": {"correct": "incorrect"}},
                "humans": {"maria": {"correct": "incorrect"}}},
               {"id": "q2", "prompt": "2 + 2?", "response": "4", "reference": "4",
                "judges": {"gpt": {"correct": "incorrect"}}}]
    project_id = import_project(db, tmp_path, "correctness", records, "quiz")
    with db.write() as session:
        admin = create_user(session=session, name="ada", role="admin", password=None,
                            actor=OPERATOR)
        annotator = create_user(session=session, name="ann", role="annotator", password=None,
                                actor=OPERATOR)
    with db.read() as session:
        ids = [find_item_id(session=session, project_id=project_id, external_id=e)
               for e in ("q1", "q2")]
    return db, project_id, ids, admin, annotator


def test_tags_replace_the_verdicts_set_and_count_per_judge_and_category(tagged) -> None:
    db, project_id, (q1, q2), admin, _ = tagged
    with db.write() as session:
        set_error_tags(session=session, item_id=q1, judge="gpt", dimension="correct",
                       categories=["missed error", "length"], actor=admin)
        set_error_tags(session=session, item_id=q2, judge="gpt", dimension="correct",
                       categories=["penalised correct paraphrase"], actor=admin)
    with db.write() as session:  # a second save replaces the first set
        set_error_tags(session=session, item_id=q1, judge="gpt", dimension="correct",
                       categories=["missed error"], actor=admin)

    with db.read() as session:
        assert item_error_tags(session=session, item_id=q1) == {("gpt", "correct"): ("missed error",)}
        taxonomy = error_taxonomy(session=session, project_id=project_id)
    assert taxonomy.categories == DEFAULT_ERROR_CATEGORIES
    (gpt,) = taxonomy.judges
    counts = dict(gpt.counts)
    assert (gpt.rater, gpt.tagged_verdicts) == ("judge:gpt", 2)
    assert (counts["missed error"], counts["penalised correct paraphrase"], counts["length"]) == (1, 1, 0)


def test_an_empty_set_removes_the_tags(tagged) -> None:
    db, project_id, (q1, _), admin, _ = tagged
    with db.write() as session:
        set_error_tags(session=session, item_id=q1, judge="claude", dimension="correct",
                       categories=["format"], actor=admin)
    with db.write() as session:
        set_error_tags(session=session, item_id=q1, judge="claude", dimension="correct",
                       categories=[], actor=admin)
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(ErrorTag)).scalar() == 0
        assert error_taxonomy(session=session, project_id=project_id).empty


@pytest.mark.parametrize(("judge", "categories", "message"), [
    ("nobody", ["format"], "'nobody' has no verdict on 'correct'"),
    ("claude", ["made up"], "'made up' is not one of this project's error categories"),
])
def test_bad_tags_are_refused_and_nothing_is_written(tagged, judge, categories, message) -> None:
    db, _, (q1, _), admin, _ = tagged
    with pytest.raises(ErrorTaxonomyError, match=message), db.write() as session:
        set_error_tags(session=session, item_id=q1, judge=judge, dimension="correct",
                       categories=categories, actor=admin)
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(ErrorTag)).scalar() == 0


def test_a_judge_without_a_verdict_on_the_item_cannot_be_tagged(tagged) -> None:
    db, _, (_, q2), admin, _ = tagged
    with pytest.raises(ErrorTaxonomyError, match="'claude' has no verdict"), db.write() as session:
        set_error_tags(session=session, item_id=q2, judge="claude", dimension="correct",
                       categories=["format"], actor=admin)


def test_annotators_may_neither_tag_nor_change_the_categories(tagged) -> None:
    db, project_id, (q1, _), _, annotator = tagged
    with pytest.raises(NotAllowed, match="only admins may tag"), db.write() as session:
        set_error_tags(session=session, item_id=q1, judge="gpt", dimension="correct",
                       categories=["format"], actor=annotator)
    with pytest.raises(NotAllowed, match="only admins may change the error categories"), \
            db.write() as session:
        set_error_categories(session=session, project_id=project_id, categories=["x"],
                             actor=annotator)


def test_a_project_keeps_its_own_categories_and_cannot_drop_one_in_use(tagged) -> None:
    db, project_id, (q1, _), admin, _ = tagged
    with db.write() as session:
        stored = set_error_categories(session=session, project_id=project_id,
                                      categories=[" format ", "wrong unit"], actor=admin)
    assert stored == ("format", "wrong unit")
    with db.write() as session:
        set_error_tags(session=session, item_id=q1, judge="gpt", dimension="correct",
                       categories=["wrong unit"], actor=admin)

    with pytest.raises(ErrorTaxonomyError, match=r"cannot remove 'wrong unit' \(1 tag\)"), \
            db.write() as session:
        set_error_categories(session=session, project_id=project_id, categories=["format"],
                             actor=OPERATOR)
    with db.read() as session:
        assert error_categories(session=session, project_id=project_id) == ("format", "wrong unit")
        counts = dict(error_taxonomy(session=session, project_id=project_id).judges[0].counts)
    assert counts == {"format": 0, "wrong unit": 1}


def test_setting_the_defaults_back_stores_no_list(tagged) -> None:
    db, project_id, _, admin, _ = tagged
    with db.write() as session:
        set_error_categories(session=session, project_id=project_id, categories=["format"],
                             actor=admin)
        set_error_categories(session=session, project_id=project_id,
                             categories=DEFAULT_ERROR_CATEGORIES, actor=admin)
    with db.read() as session:
        assert error_categories(session=session, project_id=project_id) == DEFAULT_ERROR_CATEGORIES


def test_tags_of_one_dimension_only(tagged) -> None:
    db, project_id, (q1, _), admin, _ = tagged
    with db.write() as session:
        set_error_tags(session=session, item_id=q1, judge="gpt", dimension="correct",
                       categories=["format"], actor=admin)
    with db.read() as session:
        assert error_taxonomy(session=session, project_id=project_id, dimension="other").empty
        assert not error_taxonomy(session=session, project_id=project_id,
                                  dimension="correct").empty


def test_the_report_carries_the_taxonomy_of_each_dimension(tagged, tmp_path) -> None:
    import csv
    import json

    from storage.export import ExportRequest, export_project

    db, _, (q1, q2), admin, _ = tagged
    with db.write() as session:
        set_error_tags(session=session, item_id=q1, judge="gpt", dimension="correct",
                       categories=["missed error"], actor=admin)
        set_error_tags(session=session, item_id=q2, judge="gpt", dimension="correct",
                       categories=["missed error", "format"], actor=admin)
    export_project(db, project_name="quiz", request=ExportRequest(kind="report", fmt="json"),
                   path=tmp_path / "report.json", actor=admin)
    export_project(db, project_name="quiz", request=ExportRequest(kind="report", fmt="csv"),
                   path=tmp_path / "report.csv", actor=admin)

    (document,) = json.loads((tmp_path / "report.json").read_text("utf-8"))["dimensions"]
    assert document["error_taxonomy"]["judges"] == [
        {"rater": "judge:gpt", "tagged_verdicts": 2,
         "counts": {category: {"missed error": 2, "format": 1}.get(category, 0)
                    for category in DEFAULT_ERROR_CATEGORIES}}]
    with (tmp_path / "report.csv").open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["table"] == "error_taxonomy"]
    assert {(row["rater"], row["category"]): row["count"] for row in rows if row["count"] != "0"} == {
        ("judge:gpt", "missed error"): "2", ("judge:gpt", "format"): "1"}
    assert len(rows) == len(DEFAULT_ERROR_CATEGORIES)
