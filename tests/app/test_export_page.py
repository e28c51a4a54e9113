"""Export page (AppTest): an admin prepares each kind of export from the demo projects and gets
the file, its metadata and a preview; the file matches the CLI's code path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import storage.export
from components.export_view import STATE, export_root
from core.export.writers import TEMP_FOLDER
from core.safe_text import escape_markdown
from storage.authz import OPERATOR
from storage.demo import load_demo
from tests.app.apptest_helpers import open_page
from tests.app.conftest import ADMIN_PASSWORD
from tests.app.review_helpers import open_with
from tests.conftest import REPO_ROOT

EXPORT = "pages/7_Export.py"


@pytest.fixture
def demo(app_db):
    load_demo(app_db, actor=OPERATOR)
    return app_db


def prepare(at, kind: str, fmt: str | None = None):
    at.segmented_control(key="export.kind").set_value(kind).run()
    if fmt is not None:
        at.radio(key=f"export.format.{kind}").set_value(fmt)
    at.button(key=f"FormSubmitter:export.form.{kind}-Prepare export").click()
    return at.run()


def test_an_admin_exports_gold_and_sees_a_preview(demo, admin):
    at = open_with(EXPORT, user=admin, params={"export.project": "correctness"})
    assert not at.exception and at.title[0].value == "Export"

    at = prepare(at, "gold")

    assert not at.exception and not at.error
    assert at.caption[1].value == ("Gold label per dimension and gold reference answer, one row "
                                   "per item.")
    last = at.session_state[STATE]
    path = Path(last["path"])
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert path.name == "correctness-gold.jsonl" and len(rows) == last["metadata"]["rows"] > 0
    assert at.success[0].value.startswith(f"{len(rows):,} rows")
    assert [b.label for b in at.get("download_button")] == [
        "Download correctness-gold.jsonl", "Download correctness-gold.jsonl.meta.json"]
    preview = at.dataframe[0].value
    assert list(preview["id"]) == [row["id"] for row in rows[:5]]
    assert any(c.value.startswith("Left out: ") and "items without gold" in c.value
               for c in at.caption)


@pytest.mark.parametrize(("project", "kind", "fmt"), [
    ("pairwise", "preferences", "parquet"), ("exam_question", "labels", "csv"),
    ("thematic_alignment", "report", "html")])
def test_every_kind_is_prepared(demo, admin, project, kind, fmt):
    at = open_with(EXPORT, user=admin, params={"export.project": project})
    if kind == "report":
        at.segmented_control(key="export.kind").set_value(kind).run()
        at.number_input(key="export.resamples").set_value(0)
    at = prepare(at, kind, fmt)
    assert not at.exception and not at.error
    last = at.session_state[STATE]
    assert (last["kind"], last["fmt"]) == (kind, fmt)
    assert Path(last["path"]).stat().st_size == last["metadata"]["bytes"] > 0


def test_a_new_export_replaces_the_previous_file(demo, admin):
    at = prepare(open_with(EXPORT, user=admin, params={"export.project": "pairwise"}), "gold")
    first = Path(at.session_state[STATE]["path"])
    at = prepare(at, "labels")
    assert not first.exists() and Path(at.session_state[STATE]["path"]).is_file()


def test_rating_preferences_ask_for_the_dimension(demo, admin):
    at = open_with(EXPORT, user=admin, params={"export.project": "exam_question"})
    at.segmented_control(key="export.kind").set_value("preferences").run()
    assert at.selectbox(key="export.dimension").options == [
        "correctness", "evidence_based", "professionalism", "relevance", "difficulty"]
    at = prepare(at, "preferences")
    assert not at.exception and at.session_state[STATE]["skipped"]


def store_pair_jury(db) -> None:
    from storage.juries import create_jury

    with db.write() as session:
        create_jury(session=session, project_id=demo_project_ids(db, "correctness")[0],
                    name="pair", members=["gpt-4o", "llama-3.1-70b"], rule="majority",
                    actor=OPERATOR)


def test_stored_juries_go_into_the_labels_export(demo, admin):
    store_pair_jury(demo)
    at = open_with(EXPORT, user=admin, params={"export.project": "correctness"})
    at.segmented_control(key="export.kind").set_value("labels").run()
    listed = (f"The project's juries are included: **pair** (majority of "
              f"{escape_markdown('gpt-4o, llama-3.1-70b')})")
    assert listed in [c.value for c in at.caption]
    at = prepare(at, "labels")
    rows = [json.loads(line) for line in
            Path(at.session_state[STATE]["path"]).read_text("utf-8").splitlines()]
    jury = [row for row in rows if row["rater_kind"] == "jury"]
    assert jury and {row["rater"] for row in jury} == {"pair"}
    assert at.session_state[STATE]["metadata"]["juries"] == {
        "pair": {"members": ["gpt-4o", "llama-3.1-70b"], "rule": "majority"}}


def demo_project_ids(db, name: str) -> list[int]:
    from storage.projects import get_project

    with db.read() as session:
        return [get_project(session=session, name=name).id]


def test_exports_left_by_closed_sessions_are_removed_after_a_day(tmp_path):
    from components.export_view import remove_stale_exports

    old, fresh = tmp_path / "export-old", tmp_path / "export-fresh"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "x.jsonl").write_text("{}\n")
    day_ago = time.time() - 25 * 3600
    os.utime(old, (day_ago, day_ago))
    assert remove_stale_exports(tmp_path) == 1
    assert not old.exists() and (fresh / "x.jsonl").is_file()


def test_the_export_lives_under_the_shared_export_folder(demo, admin):
    at = prepare(open_with(EXPORT, user=admin, params={"export.project": "pairwise"}), "gold")
    path = Path(at.session_state[STATE]["path"])
    assert path.parent.parent == export_root()


EXPORTED_AT = datetime(2026, 11, 29, 7, 30, tzinfo=UTC)
# ``python cli.py`` in a fresh interpreter (as a user runs it: Streamlit never imported) with
# the export clock fixed at argv[1]; the rest of argv is the command line.
CLI_AT_A_FIXED_TIME = (
    "import datetime, sys; import storage.export; "
    "storage.export.utc_now = lambda: datetime.datetime.fromisoformat(sys.argv[1]); "
    "import cli; code = cli.main(sys.argv[2:]); "
    "assert 'streamlit' not in sys.modules, 'the CLI imported streamlit'; sys.exit(code)")


@pytest.mark.parametrize("fmt", ["html", "json", "csv"])
def test_the_page_writes_the_same_report_bytes_as_the_cli(demo, admin, monkeypatch, tmp_path,
                                                          fmt):
    # The same data, options and timestamp; the page runs in this process, where Streamlit
    # (imported) changes plotly's default template, the CLI in a process without it.
    monkeypatch.setattr(storage.export, "utc_now", lambda: EXPORTED_AT)
    store_pair_jury(demo)  # both the page and the CLI include the project's stored juries
    at = open_with(EXPORT, user=admin, params={"export.project": "correctness"})
    at.segmented_control(key="export.kind").set_value("report").run()
    at.radio(key="export.format.report").set_value(fmt)
    at.number_input(key="export.resamples").set_value(50)
    at.number_input(key="export.seed").set_value(3)
    at = at.button(key="FormSubmitter:export.form.report-Prepare export").click().run()
    assert not at.exception and not at.error
    page_file = Path(at.session_state[STATE]["path"])

    cli_file = tmp_path / page_file.name  # same name: the sidecars name the file
    result = subprocess.run(
        [sys.executable, "-c", CLI_AT_A_FIXED_TIME, EXPORTED_AT.isoformat(),
         "--database", demo.url, "export", "report", "--project", "correctness",
         "--format", fmt, "-o", str(cli_file), "--user", admin.name,
         "--bootstrap", "50", "--seed", "3"],
        input=ADMIN_PASSWORD + "\n", cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=300, check=False)
    assert result.returncode == 0, result.stderr

    assert cli_file.read_bytes() == page_file.read_bytes()
    assert (Path(f"{cli_file}.meta.json").read_bytes()
            == Path(f"{page_file}.meta.json").read_bytes())
    assert json.loads(Path(f"{cli_file}.meta.json").read_text())["juries"] == {
        "pair": {"members": ["gpt-4o", "llama-3.1-70b"], "rule": "majority"}}


def test_the_first_page_run_sweeps_what_killed_exports_left(app_db, monkeypatch, tmp_path):
    # Cold, nobody signed in: the sweep runs once per server process, before any sign-in.
    leftover = tmp_path / "export-old" / TEMP_FOLDER / "gold.jsonl.abc.tmp"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"partial")
    monkeypatch.setattr("components.export_view.export_root", lambda: tmp_path)

    at = open_page("app.py")

    assert not at.exception
    assert not leftover.exists() and not leftover.parent.exists()


def test_a_gold_export_with_images_is_one_zip_download(demo, admin):
    """The image_scoring demo (issue 18): the JSONL names images/<sha256>.png; the page zips
    the file (the same bytes), its metadata and the images into one download."""
    import zipfile

    at = open_with(EXPORT, user=admin, params={"export.project": "image_scoring"})
    at = prepare(at, "gold")
    assert not at.exception and not at.error
    last = at.session_state[STATE]
    path, bundle = Path(last["path"]), Path(last["bundle"])
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert rows and all(row["image"].startswith("images/") for row in rows)
    assert at.get("download_button")[0].label == f"Download {bundle.name}"
    with zipfile.ZipFile(bundle) as archive:
        assert archive.read(path.name) == path.read_bytes()
        names = set(archive.namelist())
        assert {row["image"] for row in rows} <= names
        assert f"{path.name}.meta.json" in names


@pytest.fixture
def rankings(app_db, tmp_path):
    """A batch ranking project (issue 18): two items with two human orders each."""
    from core.templates import TEMPLATES
    from storage.importer import import_file
    from tests.converters import write_jsonl

    records = [{"id": "a", "prompt": "P", "responses": ["r1", "r2", "r3", "r4"],
                "humans": {"ann": {"ranking": [2, 1, 4, 3]}, "bob": {"ranking": [2, 1, 4, 3]}}},
               {"id": "b", "prompt": "Q", "responses": ["s1", "s2", "s3"],
                "humans": {"ann": {"ranking": [1, 2, 3]}, "bob": {"ranking": [2, 1, 3]}}}]
    import_file(app_db, write_jsonl(records, tmp_path / "rank.jsonl"), project_name="rank",
                schema=TEMPLATES["batch_ranking"], actor=OPERATOR)
    return app_db


def test_gold_rankings_with_a_tau_floor_and_their_preview(rankings, admin):
    at = open_with(EXPORT, user=admin, params={"export.project": "rank"})
    # b's two orders have τ-b 1/3: a floor of 0.5 leaves only a.
    at.number_input(key="export.min_tau").set_value(0.5)
    at.radio(key="export.format.gold").set_value("parquet")
    at = at.button(key="FormSubmitter:export.form.gold-Prepare export").click().run()
    assert not at.exception and not at.error
    last = at.session_state[STATE]
    assert last["metadata"]["policy"]["min_tau"] == 0.5 and last["metadata"]["rows"] == 1
    preview = at.dataframe[0].value
    assert list(preview["gold_ranking"]) == ["[2, 1, 4, 3]"]
    assert list(preview["responses"]) == ['["r1", "r2", "r3", "r4"]']


def test_adjacent_preference_pairs_are_the_same_file_as_the_storage_export(rankings, admin,
                                                                          tmp_path):
    from core.export.gold import GoldPolicy

    at = open_with(EXPORT, user=admin, params={"export.project": "rank"})
    at.segmented_control(key="export.kind").set_value("preferences").run()
    assert at.radio(key="export.pairs").options == ["all", "adjacent"]
    at.radio(key="export.pairs").set_value("adjacent")
    at = at.button(key="FormSubmitter:export.form.preferences-Prepare export").click().run()
    assert not at.exception and not at.error
    page_file = Path(at.session_state[STATE]["path"])
    rows = [json.loads(line) for line in page_file.read_text(encoding="utf-8").splitlines()]
    # a: 2 > 1 > 4 > 3; b: points 3, 3, 0, first places 1 each -> by position (1, 2, 3).
    assert [(row["chosen"], row["rejected"]) for row in rows] == [
        ("r2", "r1"), ("r1", "r4"), ("r4", "r3"), ("s1", "s2"), ("s2", "s3")]
    assert at.session_state[STATE]["metadata"]["pairs"] == "adjacent"

    same = storage.export.export_project(
        rankings, project_name="rank", path=tmp_path / "same.jsonl", actor=OPERATOR,
        request=storage.export.ExportRequest(kind="preferences", fmt="jsonl",
                                             policy=GoldPolicy("majority", 2), pairs="adjacent"))
    assert same.written.path.read_bytes() == page_file.read_bytes()
