"""Annotate page (AppTest): blind first, revise with a reason, queue, skip, flag, own queue only.

Every outcome is read back from the database through ``storage``; "not in the page" is checked
on everything the server sent (``page_text``), not on what happens to be visible.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from components.annotate_actions import BLIND_UNTIL_SAVED
from components.annotate_panel import HIDDEN_NOTE
from components.auth import USER_KEY
from core.templates import TEMPLATES
from storage.annotation import audit_trail
from storage.annotation_settings import ProjectSettings
from storage.annotator_view import user_labels
from storage.authz import OPERATOR
from storage.models import Annotation
from storage.queues import find_assignment, next_assignment
from storage.users import create_user, set_active
from tests.app.annotate_helpers import (
    JUDGES,
    make_annotation_project,
    open_annotate,
    page_text,
    quiz_records,
    rationale,
    texts,
)
from tests.app.apptest_helpers import rendered
from tests.app.conftest import app_database


def assignment(db, project_id, user, external_id):
    with db.read() as session:
        return find_assignment(session=session, project_id=project_id, user_id=user.id,
                               external_id=external_id)


def item_id(db, project_id, user, external_id) -> int:
    return assignment(db, project_id, user, external_id).item_id


def label(at, dimension: str, position: int):
    at.button(key=f"annotate.label.{dimension}.{position}").click()
    return at.run()


def submit(at):
    at.button(key="annotate.submit").click()
    return at.run()


def current_item(at) -> str:
    return at.query_params["item"][0] if isinstance(at.query_params["item"], list) \
        else at.query_params["item"]


def plain(text: str) -> str:
    return text.replace("\\", "")


def verdict_strings(item: str) -> list[str]:
    return [*JUDGES, *(rationale(judge, item) for judge in JUDGES)]


@pytest.fixture
def quiz(request, annotator, tmp_path):
    """A blind correctness project of 4 items, all in ``ann``'s queue (in the app's database)."""
    return make_annotation_project(app_database(request), tmp_path, [annotator])


def test_blind_label_then_reveal_then_revise_with_a_reason(app_db_any, annotator, quiz):
    db = app_db_any
    at = open_annotate(annotator, project_id=quiz)
    assert not at.exception
    assert current_item(at) == "q0"
    assert texts(at)[:2] == ["Question 0?", "Answer 0"]
    sent = page_text(at)
    # Blind: no judge name, label line or rationale was sent, not even hidden.
    assert not [s for s in verdict_strings("q0") if s in sent]
    assert HIDDEN_NOTE in [caption.value for caption in at.caption]
    # V before labelling says why nothing is shown (it did nothing at all), and shows nothing.
    at.button(key="annotate.reveal").click().run()
    assert [info.value for info in at.info] == [BLIND_UNTIL_SAVED]
    assert not [s for s in verdict_strings("q0") if s in page_text(at)]
    assert not assignment(db, quiz, annotator, "q0").verdicts_seen

    label(at, "correct", 0)
    assert at.button(key="annotate.label.correct.0").proto.type == "primary"
    assert not [s for s in verdict_strings("q0") if s in page_text(at)]  # choosing is not saving
    submit(at)

    assert not at.exception
    with db.read() as session:
        first_id = item_id(db, quiz, annotator, "q0")
        assert user_labels(session=session, item_id=first_id, user_id=annotator.id) == {
            "correct": "correct"}
    saved = assignment(db, quiz, annotator, "q0")
    assert (saved.status, saved.verdicts_seen) == ("done", True)
    # Revealed on the same item: both judges, agreement marked, rationales as text.
    assert current_item(at) == "q0"
    marks = [plain(m.value) for m in at.markdown if "judge-" in plain(m.value)]
    assert marks == [":red[:material/cancel:] judge-omega — **Incorrect**",
                     ":green[:material/check_circle:] judge-zeta — **Correct**"]
    assert "1 of 2 judges agree with you" in [c.value for c in at.caption]
    assert rationale("judge-zeta", "q0") in texts(at)
    assert rationale("judge-omega", "q0") in texts(at)

    # Revising needs a reason; without one nothing changes.
    label(at, "correct", 1)
    assert at.button(key="annotate.submit").label == "Save revision"
    submit(at)
    assert "Say why you change your label" in at.error[0].value
    with db.read() as session:
        assert user_labels(session=session, item_id=first_id, user_id=annotator.id) == {
            "correct": "correct"}
    at.text_input(key=f"annotate.reason.{first_id}").input("the judge spotted the wrong vitamin")
    submit(at)

    with db.read() as session:
        assert user_labels(session=session, item_id=first_id, user_id=annotator.id) == {
            "correct": "incorrect"}
        trail = audit_trail(session=session, item_id=first_id, user_id=annotator.id)
        blind, revision = session.execute(select(Annotation.blind, Annotation.revision)
                                          .where(Annotation.item_id == first_id)).one()
    assert [entry[1:] for entry in trail] == [
        ("revise", "correct", "correct", "incorrect", "the judge spotted the wrong vitamin")]
    assert (blind, revision) == (False, 2)  # the revision was made with the verdicts in view
    # The queue moved on, and the progress with it.
    assert current_item(at) == "q1"
    assert texts(at)[:2] == ["Question 1?", "Answer 1"]
    assert at.get("progress")[0].proto.text == "1 of 4 labelled"
    assert not [s for s in verdict_strings("q1") if s in page_text(at)]


def test_save_and_next_without_comparing_and_reveal_later_with_v(app_db, annotator, quiz):
    at = open_annotate(annotator, project_id=quiz)
    assert at.button(key="annotate.after_save").label == "then show the judges"
    at.button(key="annotate.after_save").click().run()
    assert at.button(key="annotate.after_save").label == "then go to the next item"
    assert at.button(key="annotate.submit").label == "Save"
    label(at, "correct", 1)
    at.text_area(key=f"annotate.comment.{item_id(app_db, quiz, annotator, 'q0')}").input("unsure")
    at.feedback(key=f"annotate.confidence.{item_id(app_db, quiz, annotator, 'q0')}").set_value(1)
    submit(at)
    assert current_item(at) == "q1"
    saved = assignment(app_db, quiz, annotator, "q0")
    assert (saved.status, saved.comment, saved.confidence, saved.verdicts_seen) == (
        "done", "unsure", 2, False)
    # The gold reference answer is prefilled from the item's reference and saved with the
    # label, as kept: untouched, it is the item's, not a proposal of the annotator's.
    assert (saved.reference_answer, saved.reference_edited) == ("Reference 0", False)

    at.button(key="annotate.back").click().run()
    assert current_item(at) == "q0"
    assert not [s for s in verdict_strings("q0") if s in page_text(at)]
    assert not at.button(key="annotate.reveal").disabled
    at.button(key="annotate.reveal").click().run()
    assert rationale("judge-omega", "q0") in texts(at)
    assert assignment(app_db, quiz, annotator, "q0").verdicts_seen
    # The choice to go straight on is remembered for the next items.
    at.button(key="annotate.next").click().run()
    assert current_item(at) == "q1"
    assert at.button(key="annotate.after_save").label == "then go to the next item"


def test_gold_reference_answer_is_editable(app_db, annotator, quiz):
    at = open_annotate(annotator, project_id=quiz)
    first = item_id(app_db, quiz, annotator, "q0")
    box = at.text_area(key=f"annotate.reference.{first}")
    assert box.value == "Reference 0"
    box.input("Vitamin C (ascorbic acid)")
    label(at, "correct", 0)
    submit(at)
    saved = assignment(app_db, quiz, annotator, "q0")
    assert (saved.reference_answer, saved.reference_edited) == ("Vitamin C (ascorbic acid)", True)


def test_exam_questions_have_a_reference_box_that_starts_from_the_answer(app_db, annotator,
                                                                         tmp_path):
    # Experts correct generated questions' answers: the box starts from the item's answer.
    records = [{"id": "e1", "source": "Context", "prompt": "A question?", "response": "An answer"}]
    project = make_annotation_project(app_db, tmp_path, [annotator], records=records,
                                      template="exam_question", name="exam")
    at = open_annotate(annotator, project_id=project)
    first = item_id(app_db, project, annotator, "e1")
    box = at.text_area(key=f"annotate.reference.{first}")
    assert box.value == "An answer"
    assert "starts from the item's “Its answer”" in box.help
    box.input("The corrected answer")
    for dimension in TEMPLATES["exam_question"].dimension_names:
        label(at, dimension, 3)
    submit(at)
    saved = assignment(app_db, project, annotator, "e1")
    assert (saved.status, saved.reference_answer, saved.reference_edited) == (
        "done", "The corrected answer", True)


def test_skip_and_flag_are_recorded(app_db_any, annotator, quiz):
    db = app_db_any
    at = open_annotate(annotator, project_id=quiz)
    at.button(key="annotate.flag").click().run()
    first = item_id(db, quiz, annotator, "q0")
    at.text_input(key=f"annotate.flag_note.{first}").input("the question is ambiguous")
    at.button(key="annotate.flag.set").click().run()
    flagged = assignment(db, quiz, annotator, "q0")
    assert (flagged.flagged, flagged.flag_note) == (True, "the question is ambiguous")
    assert any(":orange-badge[:material/flag: Flagged]" in m.value for m in at.markdown)

    at.button(key="annotate.skip").click().run()
    # In skip mode the digits choose a reason (the label buttons are gone).
    assert [b.proto.shortcut for b in at.button if b.key.startswith("annotate.skip.reason")] == [
        "1", "2", "3"]
    assert not [b for b in at.button if b.key.startswith("annotate.label.")]
    assert plain(at.main.caption[-1].value).startswith(
        "Keys: **1–3** skip with that reason · **Enter** skip with the typed reason · **Esc**")
    at.button(key="annotate.skip.reason.1").click().run()
    skipped = assignment(db, quiz, annotator, "q0")
    assert (skipped.status, skipped.skip_reason) == ("skipped", "Outside my expertise")
    assert current_item(at) == "q1"
    assert at.get("progress")[0].proto.text == "0 of 4 labelled · 1 skipped"

    # A typed reason works too; an empty one is refused.
    at.button(key="annotate.skip").click().run()
    at.button(key="annotate.skip.typed").click().run()
    assert "Say why you skip this item" in at.error[0].value
    assert assignment(db, quiz, annotator, "q1").status == "pending"
    at.text_input(key=f"annotate.skip_note.{item_id(db, quiz, annotator, 'q1')}").input("typo")
    at.button(key="annotate.skip.typed").click().run()
    assert assignment(db, quiz, annotator, "q1").skip_reason == "typo"


def test_the_queue_ends_and_back_returns_to_the_last_item(app_db, annotator, tmp_path):
    project = make_annotation_project(app_db, tmp_path, [annotator], records=quiz_records(2),
                                      settings=ProjectSettings(blind=False))
    at = open_annotate(annotator, project_id=project)
    for _ in range(2):
        label(at, "correct", 0)
        submit(at)
    assert not at.exception
    assert "Your queue is finished: 2 labelled, 0 skipped" in at.success[0].value
    assert "item" not in at.query_params
    at.button(key="annotate.back").click().run()
    assert current_item(at) == "q1"


def test_not_blind_shows_verdicts_from_the_start_and_records_it(app_db_any, annotator, tmp_path):
    db = app_db_any
    project = make_annotation_project(db, tmp_path, [annotator],
                                      settings=ProjectSettings(blind=False))
    at = open_annotate(annotator, project_id=project)
    assert rationale("judge-zeta", "q0") in texts(at)
    assert "Not blind." in page_text(at)
    assert assignment(db, project, annotator, "q0").verdicts_seen  # recorded when shown
    label(at, "correct", 0)
    submit(at)
    assert current_item(at) == "q1"  # nothing left to reveal: straight to the next item
    with db.read() as session:
        assert session.execute(select(Annotation.blind)).scalar_one() is False


def test_an_item_of_another_annotator_is_refused_by_link_and_by_id(app_db_any, admin, annotator,
                                                                   tmp_path):
    db = app_db_any
    with db.write() as session:
        bob = create_user(session=session, name="bob", role="annotator", password=None, actor=OPERATOR)
    project = make_annotation_project(db, tmp_path, [annotator, bob])  # q0, q2 ann; q1, q3 bob
    with db.read() as session:
        bobs = next_assignment(session=session, project_id=project, user_id=bob.id).external_id
    assert assignment(db, project, annotator, bobs) is None

    at = open_annotate(annotator, project_id=project, item=bobs)
    assert not at.exception
    assert at.error[0].value == f"Item {bobs} is not in your queue; showing your next item instead."
    assert f"Question {bobs[1:]}?" not in page_text(at)
    assert current_item(at) == "q0"

    at.text_input(key="annotate.goto").input(bobs).run()
    assert at.error[0].value == f"Item {bobs} is not in your queue."
    assert current_item(at) == "q0"
    at.text_input(key="annotate.goto").input("q2").run()
    assert current_item(at) == "q2"
    assert texts(at)[0] == "Question 2?"

    # A project the user does not annotate is refused too.
    other = make_annotation_project(db, tmp_path, [bob], name="bobs project",
                                    records=quiz_records(2, prefix="b"))
    at = open_annotate(annotator, project_id=other)
    assert "not one of yours" in at.error[0].value
    assert "Question" not in " ".join(texts(at)).replace("Question 0?", "")


def test_a_link_to_an_item_opens_it_and_reload_stays_there(app_db, annotator, quiz):
    at = open_annotate(annotator, project_id=quiz, item="q2")
    assert current_item(at) == "q2"
    assert texts(at)[0] == "Question 2?"
    at.button(key="annotate.next").click().run()
    assert current_item(at) == "q3"
    at.button(key="annotate.back").click().run()
    at.button(key="annotate.back").click().run()
    assert current_item(at) == "q1"


def test_a_deactivated_annotator_is_signed_out_at_the_next_click(app_db, admin, annotator, quiz):
    at = open_annotate(annotator, project_id=quiz)
    with app_db.write() as session:
        set_active(session=session, user_id=annotator.id, active=False, actor=admin)
    label(at, "correct", 0)
    assert not at.exception
    assert at.title[0].value == "Sign in to Docket"
    assert USER_KEY not in at.session_state
    assert not [b for b in at.button if b.key and b.key.startswith("annotate.")]
    with app_db.read() as session:
        assert session.execute(select(Annotation)).first() is None


def test_only_the_active_dimension_has_keys_and_choosing_moves_on(app_db, annotator, tmp_path):
    records = [{"id": "e1", "source": "Context", "prompt": "A question?", "response": "An answer",
                "judges": {"judge-zeta": {"correctness": 4}}}]
    project = make_annotation_project(app_db, tmp_path, [annotator], records=records,
                                      template="exam_question", name="exam")
    at = open_annotate(annotator, project_id=project)

    def keyed() -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for button in at.button:
            if button.key.startswith("annotate.label.") and button.proto.shortcut:
                found.setdefault(button.key.split(".")[2], []).append(button.proto.shortcut)
        return found

    assert keyed() == {"correctness": ["1", "2", "3", "4", "5"]}
    label(at, "correctness", 3)  # key 4
    assert keyed() == {"evidence_based": ["1", "2", "3", "4", "5"]}
    at.button(key="annotate.dimension.up").click().run()
    assert keyed() == {"correctness": ["1", "2", "3", "4", "5"]}
    assert (at.button(key="annotate.dimension.up").proto.shortcut,
            at.button(key="annotate.dimension.down").proto.shortcut) == ("up", "down")
    submit(at)
    assert "choose a label for: Evidence-based, Professionalism, Relevance, Difficulty" in \
        plain(at.error[0].value)
    for dimension in ("evidence_based", "professionalism", "relevance", "difficulty"):
        label(at, dimension, 4)
    submit(at)
    with app_db.read() as session:
        first = item_id(app_db, project, annotator, "e1")
        assert user_labels(session=session, item_id=first, user_id=annotator.id) == {
            "correctness": "4", "evidence_based": "5", "professionalism": "5", "relevance": "5",
            "difficulty": "5"}


def test_changing_a_saved_label_shows_its_agreement_as_unsaved_and_opens_the_reason(
        app_db, annotator, tmp_path):
    # Both judges say "correct"; the expert saves "correct", then presses 2 to revise.
    records = [{"id": "u1", "prompt": "Capital of Australia?", "response": "Canberra",
                "judges": {judge: {"correct": "correct"} for judge in JUDGES}}]
    project = make_annotation_project(app_db, tmp_path, [annotator], records=records,
                                      name="unsaved")
    at = open_annotate(annotator, project_id=project)
    label(at, "correct", 0)
    submit(at)
    first = item_id(app_db, project, annotator, "u1")
    assert "2 of 2 judges agree with you" in [c.value for c in at.caption]
    assert not [h for h in at.get("html") if "annotate-reason" in h.proto.body]

    label(at, "correct", 1)

    captions = [c.value for c in at.caption]
    assert "0 of 2 judges agree with your unsaved label (2 with the saved one)" in captions
    assert "2 of 2 judges agree with you" not in captions
    marks = [plain(m.value) for m in at.markdown if "judge-" in plain(m.value)]
    assert marks == [":red[:material/cancel:] judge-omega — **Correct**",
                     ":red[:material/cancel:] judge-zeta — **Correct**"]
    assert at.text_input(key=f"annotate.reason.{first}")  # the reason box is open ...
    scripts = [h.proto.body for h in at.get("html") if "<script>" in h.proto.body]
    # ... and a one-off script puts the cursor in it (the browser test checks the focus).
    assert len(scripts) == 1 and f".st-key-annotate-reason-{first} input" in scripts[0]
    label(at, "correct", 1)  # the same label again: the box stays, no second focus request
    assert not [h for h in at.get("html") if "<script>" in h.proto.body]


def test_the_key_legend_and_the_navigation_keys(app_db, annotator, quiz):
    at = open_annotate(annotator, project_id=quiz)
    shortcuts = {b.key: b.proto.shortcut for b in at.button if b.proto.shortcut}
    assert shortcuts == {"annotate.back": "b", "annotate.next": "n", "annotate.skip": "s",
                         "annotate.flag": "f", "annotate.reveal": "v",
                         "annotate.label.correct.0": "1", "annotate.label.correct.1": "2",
                         "annotate.submit": "enter"}
    legend = plain(at.main.caption[-1].value)
    assert legend == ("Keys: **1 2** choose a label · **Enter** save · **N** next item · **B** back · "
                      "**S** skip · **V** show the judges · **F** flag for review · **Esc** cancel "
                      "skip or flag. In a text box, Tab leaves it.")


def test_admin_without_projects_is_told_how_to_start(app_db, admin):
    at = open_annotate(admin)
    assert not at.exception
    assert [kind for kind, _, _ in rendered(at)] == ["title", "info"]
    assert at.info[0].value == ("You are not annotating any project yet. Add yourself as an "
                                "annotator on **Projects**.")


# Markdown, HTML and link payloads an LLM response can carry.
XSS = ("<script>alert(1)</script> <img src=x onerror=alert(1)> "
       "![x](http://127.0.0.1:9/leak) [click](javascript:alert(1))")


def xss_records() -> list[dict]:
    return [{"id": "x1", "prompt": "Say something", "response": XSS,
             "judges": {"judge-zeta": {"correct": "correct", "rationale": XSS},
                        "<img src=x onerror=alert(2)>": {"correct": "incorrect"}}}]


def markdown_bodies(at) -> list[str]:
    return [element.value for element in (*at.markdown, *at.caption)]


@pytest.mark.parametrize("blind", [True, False])
def test_item_text_with_html_and_markdown_renders_as_inert_text(app_db, annotator, tmp_path,
                                                                blind):
    project = make_annotation_project(app_db, tmp_path, [annotator], records=xss_records(),
                                      settings=ProjectSettings(blind=blind))
    at = open_annotate(annotator, project_id=project)
    if blind:
        label(at, "correct", 0)
        submit(at)  # reveals: the rationale and the judge's odd name are drawn too
    assert not at.exception
    # The exact characters arrive in plain-text elements (st.text), not parsed as markdown...
    assert texts(at).count(XSS) == 2  # the response and judge-zeta's rationale
    # ...and nowhere as markdown that could become an image, a link or HTML.
    for body in markdown_bodies(at):
        assert "](" not in body and "<img" not in body.replace("\\<img", ""), body
    assert any("\\<img src\\=x onerror\\=alert\\(2\\)\\>" in body for body in markdown_bodies(at))
    assert not [m for m in at.markdown if m.proto.allow_html]


def test_trusted_fields_render_markdown_but_never_raw_html(app_db, annotator, tmp_path):
    project = make_annotation_project(app_db, tmp_path, [annotator], records=xss_records(),
                                      settings=ProjectSettings(trusted_fields=("response",)))
    at = open_annotate(annotator, project_id=project)
    assert XSS not in texts(at)
    (trusted,) = [m for m in at.markdown if m.value == XSS]
    assert trusted.proto.allow_html is False
    assert not [m for m in at.markdown if m.proto.allow_html]


def test_fields_render_as_the_template_defines_them(app_db, annotator, tmp_path):
    long_answer = "A long answer. " * 200
    pairwise = make_annotation_project(
        app_db, tmp_path, [annotator], template="pairwise", name="pairs",
        records=[{"id": "p1", "prompt": "Say hi", "response_a": long_answer, "response_b": ""}])
    at = open_annotate(annotator, project_id=pairwise)
    assert not at.exception
    # A and B side by side: two columns, A's long text in a fixed-height scrolling box.
    column_titles = [[m.value for m in column.markdown] for column in at.columns]
    assert ["**Response A**"] in column_titles and ["**Response B**"] in column_titles
    assert long_answer.strip() in texts(at)
    heights = [block.proto.height_config.pixel_height for block in _blocks(at)
               if block.proto.HasField("height_config")
               and block.proto.height_config.pixel_height]
    assert 340 in heights
    assert "(empty)" in [c.value for c in at.caption]

    themes = make_annotation_project(
        app_db, tmp_path, [annotator], template="thematic_alignment", name="themes",
        records=[{"id": "t1", "source": ["first answer", "", "third answer"],
                  "response": "A summary"}])
    at = open_annotate(annotator, project_id=themes)
    assert texts(at)[:3] == ["first answer", "third answer", "A summary"]
    captions = [c.value for c in at.caption]
    assert "3 texts" in captions and "(empty)" in captions
    assert [c for c in captions if c in ("1.", "2.", "3.")] == ["1.", "2.", "3."]

    optional = make_annotation_project(
        app_db, tmp_path, [annotator], name="labels only",
        records=[{"id": "o1", "prompt": "Capital of France?"}])
    at = open_annotate(annotator, project_id=optional)
    assert [c.value for c in at.caption].count("(not provided)") == 2  # response, reference


def _blocks(at):
    found = []

    def walk(node):
        if hasattr(node, "children"):
            if getattr(node, "proto", None) is not None and hasattr(node.proto, "height_config"):
                found.append(node)
            for child in node.children.values():
                walk(child)

    walk(at._tree)
    return found


def test_the_opt_in_timing_log_records_each_action(app_db, annotator, quiz, tmp_path,
                                                   monkeypatch):
    import components.annotate_timing as timing

    log = tmp_path / "timing.log"
    monkeypatch.setattr(timing, "_LOG_PATH", None)  # off: nothing written
    at = open_annotate(annotator, project_id=quiz)
    label(at, "correct", 0)
    assert not log.exists()

    monkeypatch.setattr(timing, "_LOG_PATH", str(log))
    at.button(key="annotate.after_save").click().run()
    label(at, "correct", 0)
    submit(at)
    at.button(key="annotate.back").click().run()
    rows = [line.split("\t") for line in log.read_text().splitlines()]
    assert [action for action, _ in rows] == ["after_save", "label", "save_next", "back"]
    assert all(0 < float(ms) < 10_000 for _, ms in rows)
