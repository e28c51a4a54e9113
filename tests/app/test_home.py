"""Home page: the first steps on an empty database, the demo button, the project table."""

import json

import pytest

from components.home_view import NO_QUEUES
from core.importing import read_import_bytes, validate_table
from core.templates import TEMPLATES
from storage.annotation import skip_item, submit_labels
from storage.authz import OPERATOR
from storage.demo import demo_files
from storage.importer import write_import
from storage.queues import find_assignment
from tests.app.annotate_helpers import make_annotation_project, quiz_records
from tests.app.apptest_helpers import open_page
from tests.conftest import skip_or_fail


def _projects_table(at):
    frames = [df.value for df in at.dataframe]
    assert len(frames) == 1, "expected exactly one table (the projects)"
    return frames[0]


def test_empty_database_offers_the_demo_and_the_import_page(app_db, admin):
    at = open_page(user=admin)
    assert not at.exception
    button = at.button(key="home.load_demo")
    assert button.label == "Load demo data"
    assert button.proto.type == "primary"
    assert "no projects yet" in at.info[0].value
    main_links = [link.label for link in at.main.get("page_link")]
    assert "Import your own data" in main_links
    assert not at.dataframe


def test_demo_button_loads_the_demo_projects(app_db, tiny_demo, admin):
    at = open_page(user=admin)
    at.button(key="home.load_demo").click().run()
    assert not at.exception
    assert not at.error
    table = _projects_table(at)
    assert list(table["project"]) == sorted(tiny_demo)
    by_name = table.set_index("project")
    for template, records in tiny_demo.items():
        assert by_name.loc[template, "template"] == template
        assert by_name.loc[template, "items"] == len(records)
        judges = {name for record in records for name in record.get("judges", {})}
        labels = sum(len(dims) for record in records for dims in record.get("humans", {}).values())
        assert by_name.loc[template, "judges"] == len(judges)
        assert by_name.loc[template, "human labels"] == labels
    total = sum(len(records) for records in tiny_demo.values())
    assert at.success[0].value == f"Demo data loaded: {len(tiny_demo)} projects, {total} new items."
    # With projects, the demo button is still there, but no longer the primary action.
    assert at.button(key="home.load_demo").proto.type == "secondary"


def test_demo_button_with_the_shipped_demo_data(app_db, admin):
    missing = [path.name for path in demo_files().values() if not path.is_file()]
    if missing:
        skip_or_fail(f"storage/demo_data is incomplete, missing: {', '.join(missing)}")
    at = open_page(user=admin)
    at.button(key="home.load_demo").click().run()
    assert not at.exception
    table = _projects_table(at)
    assert sorted(table["project"]) == sorted(TEMPLATES)
    assert list(table.set_index("project").loc[sorted(TEMPLATES), "template"]) == sorted(TEMPLATES)
    assert (table["items"] > 0).all()


def test_missing_demo_files_show_an_error_instead_of_crashing(app_db, tmp_path, monkeypatch, admin):
    import storage.demo

    monkeypatch.setattr(storage.demo, "DEMO_DIR", tmp_path / "nowhere")
    at = open_page(user=admin)
    at.button(key="home.load_demo").click().run()
    assert not at.exception
    message = at.error[0].value
    assert "demo data is not installed" in message
    for template in TEMPLATES:
        assert template.replace("_", "\\_") in message
    assert not at.dataframe  # nothing was written


def test_broken_demo_file_is_reported(app_db, tiny_demo, monkeypatch, admin):
    import storage.demo

    (storage.demo.DEMO_DIR / "pairwise.jsonl").write_text('{"prompt": "no id"}\n', encoding="utf-8")
    at = open_page(user=admin)
    at.button(key="home.load_demo").click().run()
    assert not at.exception
    assert "missing column 'id'" in at.error[0].value.replace("\\", "")


@pytest.fixture
def imported_project(app_db):
    """A project written through the importer, independent of the UI."""
    lines = [
        {"id": "a", "prompt": "q1", "judges": {"j1": {"correct": "yes"}, "j2": {"correct": "no"}},
         "humans": {"ann": {"correct": "yes"}}},
        {"id": "b", "prompt": "q2", "judges": {"j1": {"correct": "no"}}},
        {"id": "c", "prompt": "q3"},
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    batch = validate_table(read_import_bytes(data, fmt="jsonl", name="x.jsonl"),
                           TEMPLATES["correctness"])
    write_import(app_db, project_name="My eval", schema=TEMPLATES["correctness"], batch=batch, actor=OPERATOR)
    return {"items": 3, "judges": 2, "human labels": 1}


def test_projects_table_shows_the_counts(app_db, imported_project, admin):
    at = open_page(user=admin)
    assert not at.exception
    row = _projects_table(at).set_index("project").loc["My eval"]
    assert row["template"] == "correctness"
    for column, expected in imported_project.items():
        assert row[column] == expected
    assert at.button(key="home.load_demo").proto.type == "secondary"
    assert not at.info




def test_annotator_gets_neither_the_demo_button_nor_the_import_links(app_db, annotator):
    at = open_page(user=annotator)
    assert not at.exception
    with pytest.raises(KeyError):
        at.button(key="home.load_demo")
    assert not at.main.get("page_link")
    assert at.info[0].value == NO_QUEUES


def test_annotator_sees_only_their_own_queues_with_progress_and_a_way_in(
        app_db, imported_project, annotator, tmp_path):
    # "My eval" is not theirs: no table of every project, no way into it.
    project = make_annotation_project(app_db, tmp_path, [annotator], records=quiz_records(4))
    with app_db.read() as session:
        first, second = (find_assignment(session=session, project_id=project,
                                         user_id=annotator.id, external_id=f"q{i}").item_id
                         for i in (0, 1))
    submit_labels(app_db, project_id=project, user_id=annotator.id, item_id=first,
                  labels={"correct": "correct"}, actor=OPERATOR)
    skip_item(app_db, project_id=project, user_id=annotator.id, item_id=second, reason="unsure",
              actor=OPERATOR)

    at = open_page(user=annotator)

    assert not at.exception
    assert not at.dataframe
    assert "My eval" not in "\n".join(m.value for m in at.markdown)
    assert [m.value for m in at.markdown if m.value.startswith("**")] == ["**quiz**"]
    assert [(p.proto.value, p.proto.text) for p in at.get("progress")] == [
        (50, "1 of 4 labelled · 1 skipped")]
    (link,) = at.main.get("page_link")
    assert (link.proto.label, link.proto.page, link.proto.query_string) == (
        "Continue", "Annotate", f"project={project}")
