"""Disagreements page (AppTest): the table for every demo project, the item with every label
side by side, untrusted text drawn as text, and adjudication stored with who, when and why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.safe_text import escape_markdown
from core.templates import TEMPLATES
from storage.annotation import submit_labels
from storage.annotation_settings import ProjectSettings
from storage.authz import OPERATOR
from storage.demo import load_demo
from storage.importer import import_file
from storage.models import AuditLog, Gold
from storage.projects import get_project
from storage.review import find_item_id
from storage.users import create_user
from tests.app.annotate_helpers import make_annotation_project, quiz_records
from tests.app.review_helpers import (
    DISAGREEMENTS,
    demo_records,
    open_with,
    oracle_disagreement_count,
    table_with,
)
from tests.converters import write_jsonl

HOSTILE = "![pixel](http://attacker.example/p.png) <img src=x onerror=alert(1)> **bold**"


@pytest.fixture
def demo(app_db):
    load_demo(app_db, actor=OPERATOR)
    return app_db


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_each_demo_project_lists_every_disagreement(demo, admin, template):
    at = open_with(DISAGREEMENTS, user=admin, params={"disagreements.project": template})

    assert not at.exception
    assert at.title[0].value == "Disagreements"
    table = table_with(at, "judges_against")
    assert len(table) == oracle_disagreement_count(template)
    distances = table["distance"]
    defined = distances.dropna()
    assert defined.is_monotonic_decreasing  # most severe first (the default sort) ...
    assert distances.isna().sum() == 0 or distances.tail(distances.isna().sum()).isna().all()


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_opening_the_most_severe_item_shows_every_label(demo, admin, template):
    at = open_with(DISAGREEMENTS, user=admin, params={"disagreements.project": template})
    first = table_with(at, "judges_against")["item"][0]
    at.selectbox(key="disagreements.item").set_value(first).run()

    assert not at.exception
    assert at.subheader[0].value == f"Item {escape_markdown(first)}"
    record = next(r for r in demo_records(template) if r["id"] == first)
    texts = [t.value for t in at.text]
    for judge, verdict in record.get("judges", {}).items():
        if verdict.get("rationale"):
            assert verdict["rationale"] in texts, judge
    humans = table_with(at, "annotator")
    assert set(humans["annotator"]) == set(record.get("humans", {}))


def test_untrusted_text_is_drawn_as_text_only(app_db, admin, tmp_path):
    records = [{"id": "x1", "prompt": HOSTILE, "response": HOSTILE,
                "judges": {"judge-a": {"correct": "correct", "rationale": HOSTILE}},
                "humans": {"maria": {"correct": "incorrect", "comment": HOSTILE}}}]
    import_file(app_db, write_jsonl(records, tmp_path / "x.jsonl"), project_name="hostile",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    at = open_with(DISAGREEMENTS, user=admin,
                   params={"disagreements.project": "hostile", "disagreements.item": "x1"})

    assert not at.exception
    assert [t.value for t in at.text].count(HOSTILE) == 4  # prompt, response, rationale, comment
    markdown = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not [m for m in markdown if "](" in m.replace("\\]\\(", "")]
    assert not [m for m in markdown if "<img" in m]


def test_adjudication_stores_gold_with_who_when_note_and_audit(demo, admin):
    at = open_with(DISAGREEMENTS, user=admin, params={"disagreements.project": "correctness",
                                                      "disagreements.item": "corr-001"})
    with demo.read() as session:
        item_id = find_item_id(session=session, external_id="corr-001",
                               project_id=get_project(session=session, name="correctness").id)
    reference = at.text_area(key=f"disagreements.gold.{item_id}.reference")
    # Prefilled with the item's reference answer (nobody proposed one).
    record = next(r for r in demo_records("correctness") if r["id"] == "corr-001")
    assert reference.value == record["reference"]
    gold = at.selectbox(key=f"disagreements.gold.{item_id}.correct")
    assert (gold.value, gold.help) == (None, escape_markdown(
        "Humans: incorrect ×2, correct ×1. Judges: gpt-4o incorrect, llama-3.1-70b correct, "
        "prometheus-2-7b correct"))
    gold.set_value("incorrect")
    reference.input("Metformin, started low and titrated up.")
    at.text_input(key=f"disagreements.gold.{item_id}.note").input("Unsafe dosing advice.")
    before = datetime.now(UTC)
    at.button(key=f"disagreements.gold.{item_id}.save").click().run()

    assert not at.exception
    assert at.success[0].value == "Gold saved: 2 changes."
    with demo.read() as session:
        gold = session.execute(select(Gold).where(Gold.item_id == item_id)).scalars().one()
        audit = session.execute(select(AuditLog).where(AuditLog.item_id == item_id)
                                .order_by(AuditLog.id)).scalars().all()
    assert (gold.dimension, gold.label, gold.reference_answer, gold.note, gold.method) == (
        "correct", "incorrect", "Metformin, started low and titrated up.", "Unsafe dosing advice.",
        "adjudicated")
    assert gold.decided_by == admin.id
    assert before - timedelta(seconds=1) <= gold.decided_at <= datetime.now(UTC)
    assert [(a.action, a.old_value, a.new_value, a.actor_id, a.reason) for a in audit] == [
        ("gold", None, "incorrect", admin.id, "Unsafe dosing advice."),
        ("gold_reference", None, "Metformin, started low and titrated up.", admin.id,
         "Unsafe dosing advice.")]
    # The page shows the stored gold and its history.
    assert table_with(at, "decided by")["label"].tolist() == ["incorrect"]
    assert table_with(at, "action")["action"].tolist() == ["gold", "gold_reference"]


def test_labels_only_items_open_without_a_response(app_db, admin, tmp_path):
    records = [{"id": "t1", "prompt": "Who wrote Hamlet?", "reference": "Shakespeare",
                "judges": {"EM": {"correct": "incorrect"}}, "humans": {"human": {"correct": "correct"}}}]
    import_file(app_db, write_jsonl(records, tmp_path / "t.jsonl"), project_name="trivia",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    at = open_with(DISAGREEMENTS, user=admin,
                   params={"disagreements.project": "trivia", "disagreements.item": "t1"})

    assert not at.exception
    assert "(not provided)" in [c.value for c in at.caption]
    assert table_with(at, "judges_against")["against"].tolist() == ["EM"]


def test_a_project_without_human_labels_says_so(app_db, admin, tmp_path):
    records = [{"id": f"q{i}", "prompt": "?", "response": "x", "judges": {"j": {"correct": "correct"}}}
               for i in range(3)]
    import_file(app_db, write_jsonl(records, tmp_path / "j.jsonl"), project_name="judged",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    at = open_with(DISAGREEMENTS, user=admin, params={"disagreements.project": "judged"})

    assert not at.exception
    assert at.info[0].value.startswith("No human labels yet")
    assert not at.dataframe and not at.success


def test_only_written_or_edited_references_are_proposals(app_db, admin, tmp_path):
    # ann keeps the item's reference untouched, bob corrects it: only bob's answer is a
    # proposal (listed, and the gold box starts from it); ann is named as having kept it.
    with app_db.write() as session:
        ann = create_user(session=session, name="ann", role="annotator", password=None, actor=OPERATOR)
        bob = create_user(session=session, name="bob", role="annotator", password=None, actor=OPERATOR)
    project = make_annotation_project(app_db, tmp_path, [ann, bob], records=quiz_records(1),
                                      settings=ProjectSettings(overlap=2))
    with app_db.read() as session:
        item_id = find_item_id(session=session, project_id=project, external_id="q0")
    for user, answer in ((ann, "Reference 0"), (bob, "Reference 0, corrected")):
        submit_labels(app_db, project_id=project, user_id=user.id, item_id=item_id,
                      labels={"correct": "incorrect"}, reference_answer=answer, actor=OPERATOR)
    at = open_with(DISAGREEMENTS, user=admin,
                   params={"disagreements.project": "quiz", "disagreements.item": "q0"})

    assert not at.exception
    captions = [c.value for c in at.caption]
    assert "bob · proposed reference answer:" in captions
    assert "ann · proposed reference answer:" not in captions
    assert "Kept the item's reference answer as given (no proposal): ann." in captions
    assert at.text_area(key=f"disagreements.gold.{item_id}.reference").value == (
        "Reference 0, corrected")


def test_items_where_a_judges_samples_split_are_listed(app_db, admin, tmp_path):
    # Humans and the judge's majority agree everywhere; on s1 the judge's samples split.
    records = [{"id": f"s{i}", "prompt": f"Q{i}?", "response": f"A{i}",
                "judges": {"sampled": [{"correct": "correct"}, {"correct": label},
                                       {"correct": "correct"}]},
                "humans": {"maria": {"correct": "correct"}}}
               for i, label in enumerate(["correct", "incorrect", "correct"])]
    import_file(app_db, write_jsonl(records, tmp_path / "s.jsonl"), project_name="sampled",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    at = open_with(DISAGREEMENTS, user=admin, params={"disagreements.project": "sampled"})

    assert not at.exception
    table = table_with(at, "judges_against")
    assert table[["item", "kind", "samples split"]].values.tolist() == [
        ["s1", "judge's samples split", "sampled"]]
    assert table["samples_split"].tolist() == pytest.approx([1 / 3])
