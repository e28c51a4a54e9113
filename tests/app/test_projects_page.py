"""Projects page (AppTest): settings, annotators, queue rebuild, progress and flagged items.

Every change is read back from the database through ``storage``.
"""

from __future__ import annotations

import pytest

from storage.annotation import set_flag, submit_labels
from storage.annotation_settings import ProjectSettings, get_settings, member_ids
from storage.authz import OPERATOR
from storage.queues import next_assignment, queue_counts
from storage.users import create_user, set_active
from tests.app.annotate_helpers import PROJECTS_PAGE, make_annotation_project, open_annotate


def key(project_id: int, name: str) -> str:
    return f"projects.{name}.{project_id}"


@pytest.fixture
def team(app_db, admin, annotator):
    with app_db.write() as session:
        bob = create_user(session=session, name="bob", role="annotator", password=None, actor=OPERATOR)
    return annotator, bob


def test_admin_changes_settings_and_team_and_the_queues_follow(app_db, admin, team, tmp_path):
    ann, bob = team
    project = make_annotation_project(app_db, tmp_path, [ann])
    at = open_annotate(admin, page=PROJECTS_PAGE)
    assert not at.exception
    assert at.multiselect(key=key(project, "members")).value == [ann.id]
    assert at.dataframe[1].value["annotator"].tolist() == ["ann", "all annotators"]

    at.toggle(key=key(project, "blind")).set_value(False)
    at.multiselect(key=key(project, "members")).set_value([ann.id, bob.id])
    at.number_input(key=key(project, "overlap")).set_value(2)
    at.selectbox(key=key(project, "order")).set_value("random")
    at.number_input(key=key(project, "seed")).set_value(7)
    at.multiselect(key=key(project, "trusted")).set_value(["response"])
    at.button(key=f"projects.apply.{project}").click().run()

    assert not at.exception
    assert "8 items are waiting in the annotators' queues" in at.success[0].value
    with app_db.read() as session:
        assert get_settings(session=session, project_id=project) == ProjectSettings(
            blind=False, overlap=2, queue_order="random", queue_seed=7,
            trusted_fields=("response",))
        assert member_ids(session=session, project_id=project) == sorted([ann.id, bob.id])
        assert queue_counts(session=session, project_id=project, user_id=bob.id)["pending"] == 4
    assert "biased towards the judges" in at.warning[0].value
    progress = at.dataframe[1].value
    assert progress[["annotator", "to label", "queue"]].values.tolist() == [
        ["ann", 4, 4], ["bob", 4, 4], ["all annotators", 8, 8]]


def test_progress_and_flagged_items_are_listed(app_db, admin, team, tmp_path):
    ann, bob = team
    project = make_annotation_project(app_db, tmp_path, [ann, bob])
    with app_db.read() as session:
        first = next_assignment(session=session, project_id=project, user_id=ann.id)
    submit_labels(app_db, project_id=project, user_id=ann.id, item_id=first.item_id,
                  labels={"correct": "correct"}, actor=OPERATOR)
    set_flag(app_db, project_id=project, user_id=bob.id,
             item_id=_next(app_db, project, bob).item_id, flagged=True, note="<b>unclear</b>", actor=OPERATOR)
    at = open_annotate(admin, page=PROJECTS_PAGE)
    progress = at.dataframe[1].value
    assert progress.values.tolist() == [
        ["ann", 1, 0, 1, 0, 2, 50.0], ["bob", 0, 0, 2, 1, 2, 0.0],
        ["all annotators", 1, 0, 3, 1, 4, 25.0]]
    assert at.get("progress")[0].proto.text == "1 of 4 queue items done (25.0 %)"
    flagged = at.dataframe[2].value
    assert flagged[["item", "annotator", "status", "note"]].values.tolist() == [
        ["q1", "bob", "pending", "<b>unclear</b>"]]


def _next(db, project, user):
    with db.read() as session:
        return next_assignment(session=session, project_id=project, user_id=user.id)


def test_an_inactive_member_blocks_apply_and_nothing_is_half_written(app_db, admin, team,
                                                                     tmp_path):
    ann, bob = team
    project = make_annotation_project(app_db, tmp_path, [ann, bob])
    with app_db.write() as session:
        set_active(session=session, user_id=bob.id, active=False, actor=admin)
    at = open_annotate(admin, page=PROJECTS_PAGE)
    members = at.multiselect(key=key(project, "members"))
    assert members.format_func(bob.id) == "bob (annotator, inactive: remove)"
    at.number_input(key=key(project, "overlap")).set_value(3)
    at.button(key=f"projects.apply.{project}").click().run()
    assert at.error[0].value == f"Not applied: user {bob.id} does not exist or is not active."
    with app_db.read() as session:
        assert get_settings(session=session, project_id=project).overlap == 1  # rolled back

    at.multiselect(key=key(project, "members")).set_value([ann.id])
    at.button(key=f"projects.apply.{project}").click().run()
    assert not at.error
    with app_db.read() as session:
        assert member_ids(session=session, project_id=project) == [ann.id]
        assert queue_counts(session=session, project_id=project, user_id=ann.id)["pending"] == 4


def test_no_projects_points_to_import(app_db, admin):
    at = open_annotate(admin, page=PROJECTS_PAGE)
    assert not at.exception
    assert at.info[0].value == "There are no projects yet: import items first."


def test_an_annotator_cannot_open_projects_even_by_link(app_db, annotator, tmp_path):
    project = make_annotation_project(app_db, tmp_path, [annotator])
    at = open_annotate(annotator, project_id=project, page=PROJECTS_PAGE)
    assert not at.exception
    assert "You are not allowed to open **Projects**" in at.error[0].value
    assert not [w for w in (*at.button, *at.toggle, *at.multiselect)
                if w.key and w.key.startswith("projects.")]


def test_admin_sets_the_active_design_and_the_target_half_width(app_db, admin, team, tmp_path):
    ann, _ = team
    project = make_annotation_project(app_db, tmp_path, [ann])
    at = open_annotate(admin, page=PROJECTS_PAGE)
    assert at.number_input(key=key(project, "target")).value == 0.05
    at.selectbox(key=key(project, "order")).set_value("active")
    at.number_input(key=key(project, "target")).set_value(0.08)
    at.button(key=f"projects.apply.{project}").click().run()
    assert not at.exception
    with app_db.read() as session:
        settings = get_settings(session=session, project_id=project)
    assert (settings.queue_order, settings.target_halfwidth) == ("active", 0.08)
    # every queue slot records its item's draw share; the judges disagree on every item here
    # (one says correct, the other incorrect), so the shares are uniform: 1/4 each
    from storage.estimates import queue_design
    with app_db.read() as session:
        design = queue_design(session=session, project_id=project)
    assert sorted(slot.share for slot in design.values()) == pytest.approx([0.25] * 4)
