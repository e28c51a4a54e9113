"""Setting a gold ranking in the adjudication view (AppTest, issue 18): every rater's order with
its τ-b to the annotators' Borda consensus, the consensus as a starting point, the Annotate
page's ranking input, and a save that refuses an order not ranking every response."""

from __future__ import annotations

from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.gold import item_gold
from storage.importer import import_file
from storage.models import AuditLog
from storage.projects import get_project
from storage.review import find_item_id
from tests.app.apptest_helpers import APP_TIMEOUT_S
from tests.app.test_annotate_ranking import tau
from tests.converters import write_jsonl

RANKING = TEMPLATES["batch_ranking"]
HUMANS = {"dr_ahmed": [1, 3, 2, 4], "maria": [1, 3, 2, 4], "kofi": [1, 3, 4, 2]}
JUDGES = {"gpt-4o": [1, 4, 3, 2], "llama-3.1-70b": [4, 1, 3, 2]}


def review_script(db_url: str, user, project_id: int, external_id: str) -> None:
    from components.adjudication_view import render_item_review
    from storage.database import Database
    from storage.projects import project_by_id

    db = Database(db_url)
    with db.read() as session:
        project = project_by_id(session=session, project_id=project_id)
    render_item_review(db, user, project, external_id)


def borda_by_hand(orders: list[list[int]]) -> list[int]:
    """n − rank points per order, most points first (no ties in this data)."""
    n = len(orders[0])
    points = {r: sum(n - 1 - order.index(r) for order in orders) for r in range(1, n + 1)}
    return sorted(points, key=lambda r: -points[r])


def shown_order(at) -> str | None:
    lines = [m.value for m in at.markdown if m.value.startswith("**") and "›" in m.value]
    return lines[0] if lines else None


def test_a_gold_ranking_starts_from_the_consensus_and_must_rank_every_response(app_db_any, admin,
                                                                                tmp_path):
    db = app_db_any
    records = [{"id": "rank-03", "prompt": "Ibuprofen and paracetamol together?",
                "responses": ["R-one", "R-two", "R-three", "R-four"],
                "judges": {j: {"ranking": order} for j, order in JUDGES.items()},
                "humans": {h: {"ranking": order} for h, order in HUMANS.items()}}]
    import_file(db, write_jsonl(records, tmp_path / "rank.jsonl"), project_name="rk",
                schema=RANKING, actor=OPERATOR)
    with db.read() as session:
        project_id = get_project(session=session, name="rk").id
        item_id = find_item_id(session=session, project_id=project_id, external_id="rank-03")
    at = AppTest.from_function(review_script, args=(db.url, admin, project_id, "rank-03"),
                               default_timeout=APP_TIMEOUT_S).run()
    assert not at.exception
    consensus = borda_by_hand(list(HUMANS.values()))
    assert consensus == [1, 3, 2, 4]

    table = next(df.value for df in at.dataframe if "τ-b with consensus" in df.value.columns)
    expected = {**{h: ("human", o) for h, o in HUMANS.items()},
                **{j: ("judge", o) for j, o in JUDGES.items()}}
    assert sorted(table["rater"]) == sorted(expected)
    for row in table.itertuples(index=False):
        kind, order = expected[row.rater]
        assert (row.kind, row.order) == (kind, " › ".join(map(str, order)))
        assert abs(row[3] - tau(order, consensus)) < 1e-3
    assert any(c.value.startswith("Borda consensus of 3 annotators: **1 › 3 › 2 › 4**")
               for c in at.caption)
    # Nothing is set until the admin starts: the input is empty, the form says no gold.
    assert shown_order(at) is None
    assert "Ranking: **— no gold —** (set above)" in [c.value for c in at.caption]

    prefix = f"disagreements.gold.{item_id}.ranking"
    at.button(key=f"{prefix}.borda").click().run()
    assert shown_order(at).startswith("**1 › 3 › 2 › 4**")
    at.button(key=f"{prefix}.input.undo").click().run()  # complete: back to 1 › 3 › …
    assert shown_order(at) == "**1 › 3 › …**"
    at.button(key=f"{prefix}.input.4").click().run()  # 1 › 3 › 4, and 2 implied
    assert shown_order(at).startswith("**1 › 3 › 4 › 2**")
    assert at.button(key=f"{prefix}.input.1").proto.shortcut == ""  # placed
    at.text_input(key=f"disagreements.gold.{item_id}.note").input("4 is unsafe, 2 only wrong")
    at.button(key=f"disagreements.gold.{item_id}.save").click().run()
    assert not at.exception
    assert at.success[0].value == "Gold saved: 1 change."
    with db.read() as session:
        assert item_gold(session=session, item_id=item_id)["ranking"].label == "1,3,4,2"

    # An unfinished order is refused (so is a wrong-length one by storage: test_ranking_storage).
    at.button(key=f"{prefix}.input.undo").click().run()
    assert shown_order(at) == "**1 › 3 › …**"
    at.button(key=f"disagreements.gold.{item_id}.save").click().run()
    assert at.error[0].value == "Not saved: rank every response, best first (Ranking: 2 of 4 ranked)."
    with db.read() as session:
        assert item_gold(session=session, item_id=item_id)["ranking"].label == "1,3,4,2"
        audit = session.execute(select(AuditLog.action, AuditLog.old_value, AuditLog.new_value,
                                       AuditLog.reason, AuditLog.actor_id)
                                .where(AuditLog.item_id == item_id)).all()
    assert [tuple(row) for row in audit] == [
        ("gold", None, "1,3,4,2", "4 is unsafe, 2 only wrong", admin.id)]
