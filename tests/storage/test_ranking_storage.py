"""Ranking labels through the annotation writes on SQLite and PostgreSQL (issue 18): the save and
the gold store an order only when it ranks every response of *that* item; a draft may hold an
unfinished order, but only one that fits the item."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.templates import TEMPLATES
from storage.annotation import submit_labels
from storage.annotation_settings import AnnotationError, ProjectSettings, set_members, update_settings
from storage.annotator_view import user_labels
from storage.authz import OPERATOR
from storage.drafts import Draft, DraftError, get_draft, save_draft
from storage.gold import GoldError, adjudicate, item_gold
from storage.importer import import_file
from storage.models import Annotation, AuditLog, Gold
from storage.projects import get_project
from storage.queues import find_assignment, rebuild_queues
from storage.users import create_user
from tests.converters import write_jsonl

RANKING = TEMPLATES["batch_ranking"]


@pytest.fixture
def ranked(db, tmp_path):
    """Item r4 has four responses, r3 three; ``ann`` has both in her queue. Returns
    (db, project id, ann's id, {external id: item id})."""
    records = [{"id": "r4", "prompt": "P", "responses": ["a", "b", "c", "d"],
                "humans": {"maria": {"ranking": [1, 2, 3, 4]}, "omar": {"ranking": "2,1,4,3"}}},
               {"id": "r3", "prompt": "Q", "responses": ["a", "b", "c"]}]
    import_file(db, write_jsonl(records, tmp_path / "rank.jsonl"), project_name="rank",
                schema=RANKING, actor=OPERATOR)
    with db.write() as session:
        project_id = get_project(session=session, name="rank").id
        ann = create_user(session=session, name="ann", role="annotator", password=None,
                          actor=OPERATOR).id
        update_settings(session=session, project_id=project_id, actor=OPERATOR,
                        settings=ProjectSettings(overlap=1))
        set_members(session=session, project_id=project_id, user_ids=[ann], actor=OPERATOR)
    rebuild_queues(db, project_id=project_id, actor=OPERATOR)
    with db.read() as session:
        ids = {e: find_assignment(session=session, project_id=project_id, user_id=ann,
                                  external_id=e).item_id for e in ("r4", "r3")}
    return db, project_id, ann, ids


def test_the_save_stores_the_canonical_order_only_when_it_ranks_every_response(ranked):
    db, project_id, ann, ids = ranked
    with pytest.raises(AnnotationError,
                       match=r"ranking: the ranking '1,2,3' orders 3 responses, the item's "
                             r"'responses' holds 4"):
        submit_labels(db, project_id=project_id, user_id=ann, item_id=ids["r4"], actor=OPERATOR,
                      labels={"ranking": [1, 2, 3]})
    with pytest.raises(AnnotationError, match=r"ranking: .*missing \[3\]; repeated \[2\]"):
        submit_labels(db, project_id=project_id, user_id=ann, item_id=ids["r4"], actor=OPERATOR,
                      labels={"ranking": "1,2,2,4"})
    with db.read() as session:
        assert session.execute(select(Annotation).where(
            Annotation.user_id == ann)).first() is None  # nothing half-written
    submit_labels(db, project_id=project_id, user_id=ann, item_id=ids["r4"], actor=OPERATOR,
                  labels={"ranking": [2, 1, 4, 3]})
    submit_labels(db, project_id=project_id, user_id=ann, item_id=ids["r3"], actor=OPERATOR,
                  labels={"ranking": "[3, 1, 2]"})
    with db.read() as session:
        assert user_labels(session=session, item_id=ids["r4"], user_id=ann) == {"ranking": "2,1,4,3"}
        assert user_labels(session=session, item_id=ids["r3"], user_id=ann) == {"ranking": "3,1,2"}


def test_a_draft_keeps_an_unfinished_order_that_fits_the_item(ranked):
    db, project_id, ann, ids = ranked

    def keep(item: str, labels: dict) -> Draft | None:
        save_draft(db, project_id=project_id, user_id=ann, item_id=ids[item], actor=OPERATOR,
                   draft=Draft(labels=labels))
        with db.read() as session:
            return get_draft(session=session, user_id=ann, item_id=ids[item])

    assert keep("r4", {"ranking": [2]}) == Draft(labels={"ranking": "2"})
    assert keep("r4", {"ranking": "4, 2"}) == Draft(labels={"ranking": "4,2"})
    assert keep("r4", {"ranking": [2, 1, 4, 3]}) == Draft(labels={"ranking": "2,1,4,3"})
    assert keep("r4", {"ranking": ""}) is None  # nothing begun: no draft
    for labels, message in (({"ranking": [4]}, r"not a response \[4\]"),  # r3 has 3 responses
                            ({"ranking": "1,1"}, r"repeated \[1\]"),
                            ({"ranking": "x"}, "'x' in 'x' is not a response number")):
        with pytest.raises(DraftError, match="ranking: .*" + message):
            keep("r3", labels)
    with db.read() as session:
        assert get_draft(session=session, user_id=ann, item_id=ids["r3"]) is None


def test_gold_ranking_is_checked_against_the_item_and_audited(ranked):
    db, _, _, ids = ranked
    with db.write() as session:
        admin = create_user(session=session, name="ada", role="admin", password=None,
                            actor=OPERATOR)
    for wrong, message in (("2,1,3", "orders 3 responses, the item's 'responses' holds 4"),
                           ("2,1", "orders 2 responses"),
                           ([1, 2, 5, 3], r"missing \[4\]; not a response \[5\]")):
        with pytest.raises(GoldError, match="ranking: .*" + message), db.write() as session:
            adjudicate(session=session, item_id=ids["r4"], actor=admin, labels={"ranking": wrong})
    with db.read() as session:
        assert session.execute(select(Gold)).first() is None
        assert session.execute(select(AuditLog).where(AuditLog.action == "gold")).first() is None

    with db.write() as session:
        adjudicate(session=session, item_id=ids["r4"], actor=admin, labels={"ranking": [2, 1, 4, 3]},
                   note="Borda, then 4 above 3")
    with db.write() as session:
        adjudicate(session=session, item_id=ids["r3"], actor=admin, labels={"ranking": "3,2,1"})
    with db.read() as session:
        assert item_gold(session=session, item_id=ids["r4"])["ranking"].label == "2,1,4,3"
        assert item_gold(session=session, item_id=ids["r3"])["ranking"].label == "3,2,1"
        audit = session.execute(select(AuditLog.item_id, AuditLog.old_value, AuditLog.new_value,
                                       AuditLog.reason, AuditLog.actor_id)
                                .where(AuditLog.action == "gold").order_by(AuditLog.id)).all()
    assert [tuple(row) for row in audit] == [
        (ids["r4"], None, "2,1,4,3", "Borda, then 4 above 3", admin.id),
        (ids["r3"], None, "3,2,1", None, admin.id)]
