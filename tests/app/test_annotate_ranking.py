"""Ranking on the Annotate page (AppTest, issue 18): response numbers pressed best first build the
order as it is shown, Undo takes the last back, the last response is implied, the save writes
the canonical label, and only then are the judges' rankings shown with Kendall's τ-b;
"all equally bad" skips without a label; an unfinished order survives a reload as a draft."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image
from scipy.stats import kendalltau
from sqlalchemy import select

from core.rank_input import ALL_EQUALLY_BAD
from core.safe_text import escape_markdown
from core.schema import schema_from_dict
from core.templates import TEMPLATES
from storage.annotator_view import user_labels
from storage.drafts import Draft, get_draft
from storage.models import Annotation, AuditLog
from storage.queues import find_assignment
from tests.app.annotate_helpers import make_annotation_project, open_annotate, page_text
from tests.app.conftest import app_database

RANKING = TEMPLATES["batch_ranking"]
JUDGE_ORDERS = {"judge-zeta": [2, 1, 4, 3], "judge-omega": [1, 2, 3, 4]}


def ranking_records(n_items: int = 3) -> list[dict]:
    return [{"id": f"r{i}", "prompt": f"PROMPT-{i}",
             "responses": [f"RESPONSE-{i}-{k}" for k in range(1, 5)],
             "judges": {judge: {"ranking": order} for judge, order in JUDGE_ORDERS.items()}}
            for i in range(n_items)]


@pytest.fixture
def ranked(request, annotator, tmp_path):
    return make_annotation_project(app_database(request), tmp_path, [annotator], name="ranked",
                                   records=ranking_records(), schema=RANKING)


def item_id(db, project_id, user, external_id="r0") -> int:
    with db.read() as session:
        return find_assignment(session=session, project_id=project_id, user_id=user.id,
                               external_id=external_id).item_id


def press(at, *numbers: int):
    for number in numbers:
        at.button(key=f"annotate.rank.ranking.{number}").click().run()
    return at


def markdown(at) -> list[str]:
    return [m.value for m in at.markdown]


def shown_order(at) -> str | None:
    """The order line of the ranking input (bold, with the separator), if drawn."""
    lines = [m for m in markdown(at) if m.startswith("**") and "›" in m and "—" not in m]
    return lines[0] if lines else None


def tau(a: list[int], b: list[int]) -> float:
    """Kendall's τ-b of two orders by scipy, from each response's rank."""
    ranks_a = [a.index(r) for r in range(1, len(a) + 1)]
    ranks_b = [b.index(r) for r in range(1, len(b) + 1)]
    return kendalltau(ranks_a, ranks_b).statistic


def test_pressed_numbers_build_the_order_and_the_save_reveals_the_judges(app_db_any, annotator,
                                                                          ranked):
    db = app_db_any
    at = open_annotate(annotator, project_id=ranked)
    assert not at.exception
    # Numbered responses, and the keys: 1-4 and Backspace belong to the ranking input.
    assert [m for m in markdown(at) if m.startswith("**Response ")] == [
        f"**Response {k}**" for k in range(1, 5)]
    assert [at.button(key=f"annotate.rank.ranking.{k}").proto.shortcut for k in range(1, 5)] == [
        "1", "2", "3", "4"]
    assert at.button(key="annotate.rank.ranking.undo").proto.shortcut == ""  # nothing to undo
    legend = next(c.value for c in at.caption if c.value.startswith("Keys:"))
    assert "**1–4** rank the responses, best first · **Backspace** undo" in legend
    # Blind: no judge name or order reached the browser.
    assert "judge-zeta" not in page_text(at) and "judge-omega" not in page_text(at)

    press(at, 2)
    assert shown_order(at) == "**2 › …**"
    assert at.button(key="annotate.rank.ranking.undo").proto.shortcut == "backspace"
    press(at, 1)
    assert shown_order(at) == "**2 › 1 › …**"
    assert at.button(key="annotate.rank.ranking.2").proto.disabled  # placed: pressed again, no-op
    assert "**Response 2** :green-badge[#1 best]" in markdown(at)
    at.button(key="annotate.rank.ranking.undo").click().run()
    assert shown_order(at) == "**2 › …**"
    press(at, 1, 4)  # three of four given: the last (3) is implied
    assert shown_order(at).startswith("**2 › 1 › 4 › 3**")
    assert "**Response 3** :orange-badge[#4 worst]" in markdown(at)

    at.button(key="annotate.submit").click().run()
    assert not at.exception
    item = item_id(db, ranked, annotator)
    with db.read() as session:
        assert user_labels(session=session, item_id=item, user_id=annotator.id) == {
            "ranking": "2,1,4,3"}
    # Revealed: each judge's order beside the expert's, with τ-b (checked against scipy).
    lines = "\n".join(markdown(at))
    assert "You — **2 › 1 › 4 › 3**" in lines
    for judge, order in JUDGE_ORDERS.items():
        expected = tau([2, 1, 4, 3], order)
        shown = " › ".join(map(str, order))
        assert f"{escape_markdown(judge)} — **{shown}** · τ-b **{expected:+.2f}**" in lines
    assert f"Mean τ-b with the judges: {(1 + tau([2, 1, 4, 3], [1, 2, 3, 4])) / 2:+.2f}" in [
        c.value for c in at.caption]


def test_an_unfinished_order_is_not_saved(app_db, annotator, ranked):
    at = press(open_annotate(annotator, project_id=ranked), 3)
    at.button(key="annotate.submit").click().run()
    assert at.error[0].value == ("Not saved: rank every response, best first (Ranking: 1 of 4 "
                                 "ranked).")
    with app_db.read() as session:
        assert session.execute(select(Annotation)).first() is None


def test_revising_a_saved_ranking_asks_for_a_reason_and_audits_it(app_db, annotator, ranked):
    at = press(open_annotate(annotator, project_id=ranked), 2, 1, 4)
    at.button(key="annotate.submit").click().run()  # saved, judges shown
    assert at.button(key="annotate.rank.ranking.undo").proto.shortcut == "backspace"
    at.button(key="annotate.rank.ranking.undo").click().run()  # a complete order: 2 › 1 › …
    assert shown_order(at) == "**2 › 1 › …**"
    press(at, 3)  # 2 › 1 › 3 › 4
    reason = "annotate.reason." + str(item_id(app_db, ranked, annotator))
    at.button(key="annotate.submit").click().run()
    assert at.error[0].value.startswith("Say why you change your label")
    at.text_input(key=reason).input("3 is clearer than 4")
    at.button(key="annotate.submit").click().run()
    assert not at.exception
    with app_db.read() as session:
        audit = session.execute(select(AuditLog).where(AuditLog.action == "revise")).scalars().all()
    assert [(a.dimension, a.old_value, a.new_value, a.reason) for a in audit] == [
        ("ranking", "2,1,4,3", "2,1,3,4", "3 is clearer than 4")]


def test_all_equally_bad_skips_without_a_label(app_db, annotator, ranked):
    at = open_annotate(annotator, project_id=ranked)
    at.button(key="annotate.rank.ranking.all_bad").click().run()
    assert not at.exception
    assert at.info[0].value == f"Skipped r0: {ALL_EQUALLY_BAD}."
    with app_db.read() as session:
        skipped = find_assignment(session=session, project_id=ranked, user_id=annotator.id,
                                  external_id="r0")
        assert session.execute(select(Annotation)).first() is None
    assert (skipped.status, skipped.skip_reason) == ("skipped", ALL_EQUALLY_BAD)
    # The skip menu offers it as the fourth reason (key 4).
    at.button(key="annotate.skip").click().run()
    assert at.button(key="annotate.skip.reason.4").label == ALL_EQUALLY_BAD
    assert at.button(key="annotate.skip.reason.4").proto.shortcut == "4"
    legend = next(c.value for c in at.caption if c.value.startswith("Keys:"))
    assert legend.startswith("Keys: **1–4** skip with that reason")


def test_an_unfinished_order_comes_back_after_a_reload(app_db_any, annotator, ranked):
    db = app_db_any
    item = item_id(db, ranked, annotator)
    press(open_annotate(annotator, project_id=ranked), 4, 2)
    with db.read() as session:
        assert get_draft(session=session, user_id=annotator.id, item_id=item) == Draft(
            labels={"ranking": "4,2"})
        assert user_labels(session=session, item_id=item, user_id=annotator.id) == {}

    again = open_annotate(annotator, project_id=ranked, item="r0")  # a new browser session
    assert shown_order(again) == "**4 › 2 › …**"
    press(again, 1)  # 4 › 2 › 1 › 3
    assert shown_order(again).startswith("**4 › 2 › 1 › 3**")
    with db.read() as session:
        assert get_draft(session=session, user_id=annotator.id, item_id=item) == Draft(
            labels={"ranking": "4,2,1,3"})
    again.button(key="annotate.submit").click().run()
    with db.read() as session:
        assert get_draft(session=session, user_id=annotator.id, item_id=item) is None
        assert user_labels(session=session, item_id=item, user_id=annotator.id) == {
            "ranking": "4,2,1,3"}


def test_images_to_rank_are_numbered_with_zoom(request, annotator, tmp_path):
    digests = []
    for name, colour in (("red", (220, 40, 40)), ("green", (40, 200, 60)), ("blue", (30, 60, 220))):
        buffer = io.BytesIO()
        Image.new("RGB", (40, 30), colour).save(buffer, format="PNG")
        (tmp_path / f"{name}.png").write_bytes(buffer.getvalue())
        digests.append(hashlib.sha256(buffer.getvalue()).hexdigest())
    schema = schema_from_dict({
        "name": "rank_pictures", "fields": [{"name": "prompt"},
                                            {"name": "responses", "kind": "images"}],
        "dimensions": [{"name": "ranking", "scale": "ranking", "over": "responses"}]})
    project_id = make_annotation_project(
        app_database(request), tmp_path, [annotator], schema=schema, name="pictures",
        records=[{"id": "p0", "prompt": "Which picture is greenest?",
                  "responses": ["red.png", "green.png", "blue.png"]}])
    at = open_annotate(annotator, project_id=project_id)
    assert not at.exception
    drawn = [m.value for m in at.markdown if m.value.startswith("**Response ")
             or "/_docket/image/" in m.value]
    assert drawn == [part for k, digest in enumerate(digests, start=1)
                     for part in (f"**Response {k}**", f"![image {k}](/_docket/image/{digest})")]
    zooms = [b for b in at.button if b.key and b.key.startswith("annotate.image.responses.")]
    assert len(zooms) == 3
    press(at, 2, 3)  # two of three: 1 is implied
    assert shown_order(at).startswith("**2 › 3 › 1**")
    at.button(key="annotate.submit").click().run()
    with app_database(request).read() as session:
        item = find_assignment(session=session, project_id=project_id, user_id=annotator.id,
                               external_id="p0").item_id
        assert user_labels(session=session, item_id=item, user_id=annotator.id) == {
            "ranking": "2,3,1"}


def test_the_digits_go_to_the_ranking_until_it_is_complete(request, annotator, tmp_path):
    """A schema with a ranking and a labelled dimension: both use the digits, and only the
    active dimension has them; a complete order makes the next dimension active."""
    schema = schema_from_dict({
        "name": "rank_and_judge", "fields": [{"name": "prompt"},
                                             {"name": "responses", "kind": "texts"}],
        "dimensions": [{"name": "ranking", "scale": "ranking", "over": "responses"},
                       {"name": "fluent", "scale": "nominal",
                        "labels": [{"value": "yes"}, {"value": "no"}]}]})
    project_id = make_annotation_project(
        app_database(request), tmp_path, [annotator], schema=schema, name="both",
        records=[{"id": "b0", "prompt": "P", "responses": ["x", "y", "z"]}])

    def shortcuts(at) -> dict[str, str]:
        return {b.key: b.proto.shortcut for b in at.button
                if b.key and b.key.startswith(("annotate.rank.", "annotate.label."))
                and b.proto.shortcut}

    at = open_annotate(annotator, project_id=project_id)
    assert shortcuts(at) == {"annotate.rank.ranking.1": "1", "annotate.rank.ranking.2": "2",
                             "annotate.rank.ranking.3": "3"}
    press(at, 3)  # unfinished: the ranking keeps the digits (3 is placed: no key)
    assert set(shortcuts(at)) == {"annotate.rank.ranking.1", "annotate.rank.ranking.2",
                                  "annotate.rank.ranking.undo"}
    press(at, 1)  # 3 › 1 › 2: complete, the next dimension takes the digits
    assert shortcuts(at) == {"annotate.label.fluent.0": "1", "annotate.label.fluent.1": "2"}
    at.button(key="annotate.label.fluent.1").click().run()
    at.button(key="annotate.submit").click().run()
    assert not at.exception
    with app_database(request).read() as session:
        item = find_assignment(session=session, project_id=project_id, user_id=annotator.id,
                               external_id="b0").item_id
        assert user_labels(session=session, item_id=item, user_id=annotator.id) == {
            "ranking": "3,1,2", "fluent": "no"}
