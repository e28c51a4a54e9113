"""The data version changes on every write that affects a project's labels or gold, and never
on a read (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text

from core.templates import TEMPLATES
from storage.annotation import submit_labels
from storage.annotation_settings import ProjectSettings, set_members, update_settings
from storage.authz import OPERATOR
from storage.gold import adjudicate, gold_frame
from storage.importer import import_file
from storage.labels import load_ratings
from storage.models import utcnow
from storage.projects import get_project, project_summaries
from storage.queues import rebuild_queues
from storage.readback import human_labels_frame, verdicts_frame
from storage.review import find_item_id, item_review
from storage.users import create_user
from storage.versioning import data_version
from tests.converters import write_jsonl

CORRECTNESS = TEMPLATES["correctness"]


def records(n: int = 4, *, judge_label: str = "correct", group: str = "g") -> list[dict]:
    return [{"id": f"q{i}", "prompt": f"Question {i}?", "response": f"Answer {i}", "group": group,
             "judges": {"gpt-4o": {"correct": judge_label if i == n - 1 else "incorrect"}}}
            for i in range(n)]


class Project:
    """A correctness project with an annotator whose queue holds every item."""

    def __init__(self, db, tmp_path: Path, name: str = "quiz") -> None:
        self.db, self.tmp_path, self.name = db, tmp_path, name
        self.reimport(records())
        with db.write() as session:
            self.id = get_project(session=session, name=name).id
            self.annotator = create_user(session=session, name=f"ann-{name}", role="annotator",
                                         password=None, actor=OPERATOR).id
            self.admin = create_user(session=session, name=f"ada-{name}", role="admin",
                                     password=None, actor=OPERATOR)
            update_settings(session=session, project_id=self.id, settings=ProjectSettings(),
                            actor=OPERATOR)
            set_members(session=session, project_id=self.id, user_ids=[self.annotator], actor=OPERATOR)
        rebuild_queues(db, project_id=self.id, actor=OPERATOR)

    def reimport(self, rows: list[dict]) -> None:
        path = write_jsonl(rows, self.tmp_path / f"{self.name}.jsonl")
        import_file(self.db, path, project_name=self.name, schema=CORRECTNESS, actor=OPERATOR)

    def item(self, external_id: str) -> int:
        with self.db.read() as session:
            return find_item_id(session=session, project_id=self.id, external_id=external_id)

    def version(self) -> str:
        with self.db.read() as session:
            return data_version(session=session, project_id=self.id)


@pytest.fixture
def project(db, tmp_path) -> Project:
    return Project(db, tmp_path)


def test_reads_leave_the_version_alone(project):
    before = project.version()
    with project.db.read() as session:
        load_ratings(session=session, project_id=project.id, dimension=CORRECTNESS.dimension("correct"))
        item_review(session=session, item_id=project.item("q0"))
        gold_frame(session=session, project_id=project.id)
        verdicts_frame(session=session, project_id=project.id)
        human_labels_frame(session=session, project_id=project.id)
        project_summaries(session=session)
    assert project.version() == before == project.version()


def test_a_label_submit_and_a_revision_change_it(project):
    before = project.version()
    submit_labels(project.db, project_id=project.id, user_id=project.annotator,
                  item_id=project.item("q0"), labels={"correct": "correct"}, actor=OPERATOR)
    first = project.version()
    assert first != before
    submit_labels(project.db, project_id=project.id, user_id=project.annotator,
                  item_id=project.item("q0"), labels={"correct": "correct"}, actor=OPERATOR)
    assert project.version() == first  # the same submit again writes nothing
    submit_labels(project.db, project_id=project.id, user_id=project.annotator,
                  item_id=project.item("q0"), labels={"correct": "incorrect"}, reason="misread",
                  actor=OPERATOR)
    assert project.version() != first  # an in-place revision, seen through its audit row


def test_verdict_imports_change_it(project):
    before = project.version()
    rows = records()
    rows[0]["judges"]["llama"] = {"correct": "correct"}  # a new judge on the first item
    project.reimport(rows)
    added = project.version()
    assert added != before
    # The last item's verdict is replaced: on SQLite the new row reuses the highest row id.
    rows[-1]["judges"]["gpt-4o"] = {"correct": "incorrect"}
    project.reimport(rows)
    replaced = project.version()
    assert replaced != added
    # A verdict the file no longer has is deleted, nothing inserted.
    del rows[1]["judges"]
    project.reimport(rows)
    assert project.version() != replaced


def test_an_item_change_without_labels_changes_it(project):
    rows = records()
    for row in rows:
        del row["judges"]  # nothing but the items themselves will be written
    project.reimport(rows)
    before = project.version()
    for row in rows:
        row["group"] = "renamed"
    project.reimport(rows)
    assert project.version() != before


def test_a_replaced_newest_verdict_changes_it_even_with_its_row_id_reused(project):
    # A writer that replaces a verdict without touching its item (a judge run again): on
    # SQLite the re-inserted row gets the deleted row's id back, so only its timestamp differs.
    with project.db.write() as session:
        newest = session.execute(text("SELECT id, item_id, judge_id FROM verdict "
                                      "ORDER BY id DESC LIMIT 1")).one()
    before = project.version()
    time.sleep(0.002)
    with project.db.write() as session:
        session.execute(text("DELETE FROM verdict WHERE id = :id"), {"id": newest.id})
        session.execute(text(
            "INSERT INTO verdict (item_id, judge_id, dimension, sample_index, label, created_at) "
            "VALUES (:item, :judge, 'correct', 0, 'incorrect', :now)"),
            {"item": newest.item_id, "judge": newest.judge_id, "now": utcnow()})
    assert project.version() != before


def test_gold_changes_change_it(project):
    before = project.version()
    with project.db.write() as session:
        adjudicate(session=session, item_id=project.item("q1"), actor=project.admin,
                   labels={"correct": "incorrect"})
    decided = project.version()
    assert decided != before
    with project.db.write() as session:
        adjudicate(session=session, item_id=project.item("q1"), actor=project.admin,
                   note="why")
    assert project.version() != decided



def test_consistency_probes_change_it(project):
    from storage.models import Judge, ProbeVerdict
    from storage.probes import add_paraphrases, remove_probes

    before = project.version()
    with project.db.write() as session:
        add_paraphrases(session=session, project=project.name, item="q1",
                        questions=["Is q1 right, in other words?"], actor=project.admin)
    added = project.version()
    assert added != before
    with project.db.write() as session:
        judge = Judge(project_id=project.id, name="probe-judge")
        session.add(judge)
        session.flush()
        session.add(ProbeVerdict(item_id=project.item("q1"), judge_id=judge.id,
                                 dimension="correct", position=1, label="correct"))
    judged = project.version()
    assert judged != added
    with project.db.write() as session:
        remove_probes(session=session, project=project.name, item="q1", actor=project.admin)
    assert project.version() != judged
