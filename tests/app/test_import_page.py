"""Import page through AppTest: the controls, validate, the report, strict vs skip, the writes.

AppTest (Streamlit 1.67) drives ``st.file_uploader`` directly, so the whole flow runs here; the
database is then read back through ``storage`` to check exactly what was written.
"""

import json

import pandas as pd
import pytest

from core.templates import TEMPLATES
from storage.projects import find_project, project_summaries
from storage.readback import human_labels_frame, items_frame, verdicts_frame
from tests.app.apptest_helpers import open_page

IMPORT_PAGE = "pages/1_Import.py"


def jsonl(*records) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


# Line 3 has a label the correctness template does not know.
ONE_BAD_ROW = jsonl(
    {"id": "q1", "prompt": "Capital of France?", "response": "Paris",
     "judges": {"gpt": {"correct": "yes", "rationale": "matches"}}},
    {"id": "q2", "prompt": "2 + 2?", "response": "5", "judges": {"gpt": {"correct": "no"}},
     "humans": {"alice": {"correct": "incorrect", "comment": "obviously"}}},
    {"id": "q3", "prompt": "Largest ocean?", "response": "Pacific",
     "judges": {"gpt": {"correct": "maybe"}}},
    {"id": "q4", "prompt": "H2O is?", "response": "water", "judges": {"gpt": {"correct": "correct"}}},
)


def upload(at, name: str, data: bytes, *, key: str = "import.uploader"):
    at.file_uploader(key=key).upload(name, data, "application/octet-stream")
    return at.run()


def new_project(at, name: str, template: str = "correctness"):
    at.text_input(key="import.new_project").input(name)
    at.selectbox(key="import.template").set_value(template)
    return at.run()


def validate(at):
    at.button(key="import.validate").click()
    return at.run()


def metrics(at) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def problems_table(at) -> pd.DataFrame:
    tables = [df.value for df in at.dataframe if list(df.value.columns) == ["location", "field", "reason"]]
    assert len(tables) == 1
    return tables[0]


def project_id(db, name: str) -> int | None:
    with db.read() as session:
        info = find_project(session=session, name=name)
    return info.id if info else None


def test_page_renders_its_controls(app_db, admin):
    at = open_page(IMPORT_PAGE, user=admin)
    assert not at.exception
    # No type filter in the browser (it kept a refused file listed beside the next one): the
    # page checks the name itself (test_a_file_of_another_type_is_refused_by_name).
    assert not at.file_uploader(key="import.uploader").allowed_type
    assert at.text_input(key="import.new_project").value == ""
    assert at.radio(key="import.task_source").value == "template"
    template = at.selectbox(key="import.template")
    assert template.options == [schema.title for schema in TEMPLATES.values()]
    assert at.radio(key="import.policy").value == "strict"
    assert at.button(key="import.validate").disabled
    with pytest.raises(KeyError):
        at.radio(key="import.project_mode")  # no projects yet: only "new project" makes sense
    # Each template's description is shown under the choice.
    assert any(TEMPLATES["correctness"].description.split(".")[0] in caption.value.replace("\\", "")
               for caption in at.caption)


def test_strict_blocks_a_file_with_a_bad_row_and_skip_imports_the_rest(app_db_any, admin):
    db = app_db_any
    at = open_page(IMPORT_PAGE, user=admin)
    upload(at, "answers.jsonl", ONE_BAD_ROW)
    new_project(at, "Trivia check")
    assert not at.button(key="import.validate").disabled
    validate(at)
    assert not at.exception

    assert metrics(at) == {"Records": "4", "Valid": "3", "With problems": "1", "Problems": "1"}
    problems = problems_table(at)
    assert problems.to_dict("records") == [{
        "location": "line 3", "field": "judge.gpt.correct",
        "reason": "unknown label 'maybe' (allowed: correct, incorrect)"}]
    assert any("Nothing will be written unless the file is clean" in e.value for e in at.error)
    assert [b.label for b in at.get("download_button")] == ["Download answers.problems.jsonl"]
    # That is all the page says about writing: no "Create project ...: 3 records" and no
    # (disabled) Import button beside it.
    with pytest.raises(KeyError):
        at.button(key="import.run")
    assert not [c.value for c in at.caption if "Create project" in c.value]
    assert [t.value for t in at.text] == ["gpt", "alice"]  # judges, annotators
    assert "Judges found: 1" in _markdown(at) and "Annotators found: 1" in _markdown(at)
    preview = next(df.value for df in at.dataframe if "id" in df.value.columns)
    assert list(preview["id"]) == ["q1", "q2", "q3", "q4"]
    assert list(preview["judge.gpt.correct"]) == ["yes", "no", "maybe", "correct"]
    assert project_id(db, "Trivia check") is None  # validating wrote nothing

    at.radio(key="import.policy").set_value("skip").run()
    assert not at.button(key="import.run").disabled
    assert any("Skip: 3 valid records will be imported" in i.value for i in at.info)
    at.button(key="import.run").click().run()
    assert not at.exception
    assert metrics(at)["Added"] == "3"
    assert metrics(at)["Skipped"] == "1"
    assert metrics(at)["Verdicts"] == "3"
    assert metrics(at)["Human labels"] == "1"
    assert "(new project)" in at.success[-1].value

    pid = project_id(db, "Trivia check")
    with db.read() as session:
        items = items_frame(session=session, project_id=pid)
        verdicts = verdicts_frame(session=session, project_id=pid)
        labels = human_labels_frame(session=session, project_id=pid)
    assert list(items["id"]) == ["q1", "q2", "q4"]
    assert items.set_index("id").loc["q1", "fields"] == {"prompt": "Capital of France?",
                                                         "response": "Paris"}
    assert sorted(zip(verdicts["id"], verdicts["label"], strict=True)) == [
        ("q1", "correct"), ("q2", "incorrect"), ("q4", "correct")]
    assert verdicts.set_index("id").loc["q1", "rationale"] == "matches"
    assert labels[["id", "annotator", "label", "comment"]].values.tolist() == [
        ["q2", "alice", "incorrect", "obviously"]]


def _markdown(at) -> str:
    return "\n".join(md.value for md in at.markdown).replace("\\", "")


def test_a_file_of_another_type_is_refused_by_name_and_the_next_file_replaces_it(app_db, admin):
    at = open_page(IMPORT_PAGE, user=admin)
    new_project(at, "Trivia check")
    upload(at, "notes.txt", b"hello")
    assert not at.exception
    assert [e.value.replace("\\", "") for e in at.error] == [
        "notes.txt: unknown file type '.txt'; use .jsonl, .ndjson, .json, .csv, .parquet, .pq. "
        "Nothing was read; upload another file in its place."]
    assert at.button(key="import.validate").disabled
    upload(at, "answers.jsonl", ONE_BAD_ROW)
    assert not at.error
    assert not at.button(key="import.validate").disabled


def test_clean_csv_imports_under_strict_and_reimport_changes_nothing(app_db, admin):
    csv = (b"id,prompt,response,judge.j1.correct,human.bob.correct,topic\n"
           b"1,Q one,A one,correct,incorrect,geo\n"
           b"2,Q two,A two,incorrect,,math\n")
    at = open_page(IMPORT_PAGE, user=admin)
    upload(at, "labels.csv", csv)
    new_project(at, "csv project")
    validate(at)
    assert any("No problems: 2 records, all valid." in s.value for s in at.success)
    assert not at.button(key="import.run").disabled
    at.button(key="import.run").click().run()
    assert metrics(at)["Added"] == "2"
    assert metrics(at)["Human labels"] == "1"
    assert not at.exception

    # Same file again into the now existing project: everything is unchanged.
    at = open_page(IMPORT_PAGE, user=admin)
    assert at.radio(key="import.project_mode").value == "existing"
    assert at.selectbox(key="import.project").value == "csv project"
    upload(at, "labels.csv", csv)
    validate(at)
    at.button(key="import.run").click().run()
    assert metrics(at)["Added"] == "0"
    assert metrics(at)["Unchanged"] == "2"
    with app_db.read() as session:
        summary = project_summaries(session=session)[0]
    assert (summary.items, summary.judges, summary.human_labels) == (2, 1, 1)


def test_whole_file_problem_is_shown_and_nothing_is_written(app_db, admin):
    at = open_page(IMPORT_PAGE, user=admin)
    upload(at, "no_ids.jsonl", jsonl({"prompt": "q"}, {"prompt": "r"}))
    new_project(at, "never")
    validate(at)
    assert not at.exception
    assert any("cannot be imported as it is" in e.value for e in at.error)
    assert problems_table(at).to_dict("records") == [{
        "location": "header", "field": "id",
        "reason": "missing column 'id' (every row needs a unique id)"}]
    assert [b.label for b in at.get("download_button")] == ["Download no_ids.problems.jsonl"]
    with pytest.raises(KeyError):
        at.button(key="import.run")
    assert project_id(app_db, "never") is None


def test_the_limits_of_cli_import_apply_and_a_change_asks_for_a_new_validation(app_db, admin):
    at = open_page(IMPORT_PAGE, user=admin)
    assert (at.number_input(key="import.max_text_chars").value,
            at.number_input(key="import.max_total_mib").value,
            at.number_input(key="import.max_rows").value) == (1_000_000, 512, 1_000_000)
    upload(at, "answers.jsonl", ONE_BAD_ROW)
    new_project(at, "limited")
    validate(at)
    assert metrics(at)["Records"] == "4"
    at.number_input(key="import.max_rows").set_value(3).run()
    assert not at.metric  # validated under other limits: the report no longer applies
    validate(at)
    assert problems_table(at).to_dict("records") == [{
        "location": "file", "field": "", "reason": "more than 3 records (--max-rows)"}]
    assert project_id(app_db, "limited") is None


def test_changing_the_task_after_validating_asks_for_a_new_validation(app_db, admin):
    at = open_page(IMPORT_PAGE, user=admin)
    upload(at, "answers.jsonl", ONE_BAD_ROW)
    new_project(at, "p")
    validate(at)
    assert at.metric
    at.selectbox(key="import.template").set_value("pairwise").run()
    assert not at.metric  # the old report no longer applies
    assert not at.button(key="import.validate").disabled
    validate(at)
    assert any("missing column 'response_a'" in r for r in problems_table(at)["reason"])


def test_name_of_an_existing_project_is_refused_for_a_new_one(app_db, admin):
    at = open_page(IMPORT_PAGE, user=admin)
    upload(at, "answers.jsonl", ONE_BAD_ROW)
    new_project(at, "taken")
    at.radio(key="import.policy").set_value("skip").run()
    validate(at)
    at.button(key="import.run").click().run()
    at = open_page(IMPORT_PAGE, user=admin)
    at.radio(key="import.project_mode").set_value("new").run()
    at.text_input(key="import.new_project").input("taken").run()
    assert "already exists" in at.error[0].value
    assert at.button(key="import.validate").disabled


SCHEMA_TOML = b"""
name = "helpfulness"
title = "Helpfulness"

[[fields]]
name = "prompt"

[[fields]]
name = "response"

[[dimensions]]
name = "helpful"
scale = "ordinal"

  [[dimensions.labels]]
  value = "1"
  display = "Not helpful"

  [[dimensions.labels]]
  value = "2"
  display = "Helpful"
"""


def test_custom_schema_file_creates_a_project_with_that_schema(app_db, admin):
    at = open_page(IMPORT_PAGE, user=admin)
    at.text_input(key="import.new_project").input("custom")
    at.radio(key="import.task_source").set_value("toml").run()
    assert at.button(key="import.validate").disabled
    upload(at, "schema.toml", SCHEMA_TOML, key="import.schema_file")
    assert not at.error
    assert "Helpfulness" in _markdown(at)
    schema_table = next(df.value for df in at.dataframe if "dimension" in df.value.columns)
    assert schema_table.values.tolist() == [["helpful", "ordinal", "1, 2"]]
    upload(at, "h.jsonl", jsonl({"id": 1, "prompt": "p", "response": "r",
                                 "judges": {"j": {"helpful": "Helpful"}}}))
    validate(at)
    at.button(key="import.run").click().run()
    assert not at.exception
    assert metrics(at)["Added"] == "1"
    with app_db.read() as session:
        project = find_project(session=session, name="custom")
        verdicts = verdicts_frame(session=session, project_id=project.id)
    assert project.schema.name == "helpfulness"
    assert list(verdicts["label"]) == ["2"]


def test_bad_schema_file_shows_the_schema_error(app_db, admin):
    at = open_page(IMPORT_PAGE, user=admin)
    at.text_input(key="import.new_project").input("custom")
    at.radio(key="import.task_source").set_value("toml").run()
    bad = SCHEMA_TOML.replace(b'scale = "ordinal"', b'scale = "ordinall"')
    upload(at, "schema.toml", bad, key="import.schema_file")
    assert not at.exception
    message = at.error[0].value.replace("\\", "")
    assert message == ("schema.toml: dimensions[0].scale: 'ordinall' is not one of nominal, "
                       "ordinal, interval, ranking")
    upload(at, "h.jsonl", jsonl({"id": 1, "prompt": "p", "response": "r"}))
    assert at.button(key="import.validate").disabled


def test_a_schema_file_with_several_problems_shows_each_on_its_own_line(app_db, admin):
    at = open_page(IMPORT_PAGE, user=admin)
    at.text_input(key="import.new_project").input("custom")
    at.radio(key="import.task_source").set_value("toml").run()
    bad = SCHEMA_TOML.replace(b'scale = "ordinal"', b'scale = "ordinall"').replace(
        b'name = "helpfulness"', b'name = "Helpfulness"')
    upload(at, "schema.toml", bad, key="import.schema_file")
    assert not at.exception
    assert at.error[0].value.replace("\\", "").split("  \n") == [
        "schema.toml: name: 'Helpfulness' is not a valid name (lowercase letter first, then a-z, "
        "0-9 or _, at most 64 characters)",
        "schema.toml: dimensions[0].scale: 'ordinall' is not one of nominal, ordinal, interval, "
        "ranking",
    ]


def test_untrusted_text_is_shown_literally(app_db, admin):
    at = open_page(IMPORT_PAGE, user=admin)
    image = "![x](http://example.invalid/p.png)"
    upload(at, "e.jsonl", jsonl({"id": 1, "prompt": "p", "judges": {f"**{image}": {"correct": "yes"}}}))
    new_project(at, f"{image} :red[p]")
    validate(at)
    assert at.text[0].value == f"**{image}"  # judge names from the file: plain text
    at.button(key="import.run").click().run()
    done = at.success[-1].value  # the project name, in markdown, escaped
    assert r"\!\[x\]\(http\:\/\/example\.invalid\/p\.png\) \:red\[p\]" in done
    assert "![" not in done and ":red[" not in done


def test_human_labels_declared_a_uniform_sample_are_marked_for_estimates(app_db, admin):
    from sqlalchemy import select

    from storage.models import Annotation

    csv = (b"id,prompt,response,judge.j1.correct,human.bob.correct\n"
           b"1,Q one,A one,correct,incorrect\n"
           b"2,Q two,A two,incorrect,\n")
    at = open_page(IMPORT_PAGE, user=admin)
    upload(at, "labels.csv", csv)
    new_project(at, "sampled")
    validate(at)
    at.checkbox(key="import.sampled_uniform").check()
    at.button(key="import.run").click().run()
    assert not at.exception and metrics(at)["Human labels"] == "1"
    with app_db.read() as session:
        assert session.execute(select(Annotation.sampled)).scalars().all() == ["uniform"]


def test_an_images_zip_is_read_again_when_the_validated_file_is_imported(app_db, admin):
    """The validated batch holds the zip open, not the images' bytes: pressing Import (a
    later rerun) reads them from it again and stores exactly those bytes."""
    import hashlib
    import io
    import zipfile

    from PIL import Image

    from storage.images import read_image

    pictures = {}
    for name, color in (("a.png", (250, 0, 0)), ("sub/b.png", (0, 0, 250))):
        buffer = io.BytesIO()
        Image.new("RGB", (12, 8), color).save(buffer, format="PNG")
        pictures[name] = buffer.getvalue()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in pictures.items():
            z.writestr(name, data)
    at = open_page(IMPORT_PAGE, user=admin)
    upload(at, "pics.jsonl", jsonl(
        {"id": "1", "image": "a.png", "prompt": "p", "response": "r"},
        {"id": "2", "image": "sub/b.png", "prompt": "p", "response": "r"}))
    upload(at, "pics.zip", archive.getvalue(), key="import.images")
    new_project(at, "pictures", template="image_scoring")
    validate(at)
    assert any("No problems: 2 records, all valid." in s.value for s in at.success)
    at.button(key="import.run").click().run()
    assert not at.exception and not at.error
    assert metrics(at)["Added"] == "2"
    with app_db.read() as session:
        frame = items_frame(session=session, project_id=project_id(app_db, "pictures"))
    hashes = {row["id"]: row["fields"]["image"] for _, row in frame.iterrows()}
    assert hashes == {"1": hashlib.sha256(pictures["a.png"]).hexdigest(),
                      "2": hashlib.sha256(pictures["sub/b.png"]).hexdigest()}
    assert read_image(app_db, sha256=hashes["2"]).data == pictures["sub/b.png"]
