"""Annotate page: rating the judges' rationales after revealing them (the rationale check),
by click and by the rating keys; the Dashboard counts them per judge."""

from __future__ import annotations

import pytest

from storage.rationale_checks import rationale_checks, user_rationale_ratings
from tests.app.annotate_helpers import make_annotation_project, open_annotate
from tests.app.conftest import app_database
from tests.app.test_annotate_page import item_id, label, submit


@pytest.fixture
def quiz(request, annotator, tmp_path):
    return make_annotation_project(app_database(request), tmp_path, [annotator])


def test_rationales_are_rated_after_revealing_by_click_and_by_key(app_db, annotator, quiz):
    at = open_annotate(annotator, project_id=quiz)
    q0 = item_id(app_db, quiz, annotator, "q0")
    # Blind: no rating control before the label is saved and the judges revealed.
    assert not [b for b in at.button if b.key and b.key.startswith("annotate.rate_next")]
    label(at, "correct", 0)
    submit(at)  # compares after saving: the judges are revealed on the same item

    zeta = at.segmented_control(key=f"annotate.rationale.{q0}.judge-zeta.0")
    assert zeta.options == ["sound", "flawed", "hallucinated"] and zeta.value is None
    zeta.set_value("flawed").run()
    # The keyboard's button rates the next unrated rationale (judge-omega is drawn first).
    next_hallucinated = at.button(key="annotate.rate_next.hallucinated")
    assert next_hallucinated.proto.shortcut == "l"  # Streamlit stores plain keys lower-case
    next_hallucinated.click().run()

    assert not at.exception
    with app_db.read() as session:
        assert user_rationale_ratings(session=session, item_id=q0, user_id=annotator.id) == {
            ("judge-zeta", 0): "flawed", ("judge-omega", 0): "hallucinated"}
        omega, _ = rationale_checks(session=session, project_id=quiz)
    assert (omega.rater, dict(omega.counts)["hallucinated"]) == ("judge:judge-omega", 1)
    assert at.segmented_control(key=f"annotate.rationale.{q0}.judge-omega.0").value == "hallucinated"
    assert at.button(key="annotate.rate_next.sound").disabled  # every rationale is rated
    legend = " ".join(c.value for c in at.caption if c.value.startswith("Keys:"))
    assert "**J K L** rate the next rationale sound / flawed / hallucinated" in legend
    # Cleared by clicking the chosen rating again.
    at.segmented_control(key=f"annotate.rationale.{q0}.judge-zeta.0").set_value(None).run()
    with app_db.read() as session:
        assert ("judge-zeta", 0) not in user_rationale_ratings(session=session, item_id=q0,
                                                               user_id=annotator.id)


def test_the_dashboard_counts_rated_rationales_per_judge(app_db, annotator, admin, quiz):
    from storage.annotation import reveal_verdicts, submit_labels
    from storage.rationale_checks import rate_rationale
    from tests.app.review_helpers import DASHBOARD, open_with, table_with

    for external_id, ratings in (("q0", ("sound", "hallucinated")), ("q1", ("sound", "flawed")),
                                 ("q2", ("sound", "sound"))):
        item = item_id(app_db, quiz, annotator, external_id)
        submit_labels(app_db, project_id=quiz, user_id=annotator.id, item_id=item,
                      labels={"correct": "correct"}, actor=annotator)
        reveal_verdicts(app_db, project_id=quiz, user_id=annotator.id, item_id=item,
                        actor=annotator)
        for judge, rating in zip(("judge-zeta", "judge-omega"), ratings, strict=True):
            rate_rationale(app_db, project_id=quiz, user_id=annotator.id, item_id=item,
                           judge=judge, sample_index=0, rating=rating, actor=annotator)
    at = open_with(DASHBOARD, user=admin, params={"dashboard.project": "quiz"})
    at.segmented_control(key="dashboard.view").set_value("Why judges err").run()

    assert not at.exception
    table = table_with(at, "rated").set_index("judge")
    assert table.loc["judge:judge-omega", ["rated", "sound", "flawed", "hallucinated"]].tolist() == [
        3, 1, 1, 1]
    assert table.loc["judge:judge-omega", "unsound"] == pytest.approx(2 / 3)
    assert table.loc["judge:judge-zeta", "unsound 95% CI"] == "[0%, 56%]"  # Wilson, 0 of 3
