"""The Judges page (AppTest): define judges, edit a prompt with its live preview, save prompt
versions, try a prompt on one item against the fake OpenAI-compatible server, run it (the
worker run here), and the prompt versions' agreement with the paired difference.

Expected numbers are computed here with scikit-learn from the labels the test wrote, never
read from Docket's output. The API key (``SECRET``) must never reach the page or the session.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import select

from components.judges_prompt import editor_key
from core.judges.prompting import builtin_prompt
from core.metrics.paired import paired_difference
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.judge_runs import RunOptions, enqueue_run, project_runs
from storage.judge_worker import run_worker
from storage.judges import JudgeSpec, create_judge, find_judge, get_judge, prompt_versions
from storage.models import JudgeRun
from storage.projects import get_project
from storage.users import change_role
from tests.app.annotate_helpers import page_text
from tests.app.apptest_helpers import open_page
from tests.converters import write_jsonl
from tests.judges.fake_openai import FakeOpenAI
from tests.judges.helpers import SECRET

JUDGES_PAGE = "pages/8_Judges.py"
CORRECTNESS = TEMPLATES["correctness"]
# Per item: (what v1 answers, what v2 answers, the expert's label). The shipped correctness
# prompt shows the question before the response, so the fake server answers the marker in the
# question; the edited v2 below shows only the response, so it answers the response's marker.
ITEMS = [("correct", "correct", "correct"), ("correct", "incorrect", "incorrect"),
         ("incorrect", "incorrect", "incorrect"), ("correct", "correct", "correct"),
         ("incorrect", "correct", "correct"), ("correct", "incorrect", "incorrect"),
         ("incorrect", "incorrect", "correct"), ("correct", "correct", "correct"),
         ("correct", "incorrect", "incorrect"), ("incorrect", "incorrect", "incorrect"),
         ("correct", "correct", "incorrect"), ("incorrect", "correct", "correct")]
VERDICT_FORMAT = ('Answer with a single line "Verdict: <label>" and nothing else, where <label> '
                  "is exactly one of: correct, incorrect.")
V2_USER = "Response:\n{response}\n\nCriterion: {dimension}\nAllowed labels: {labels}\n{output_format}"




def quiz(db, tmp_path: Path, items=ITEMS, *, humans: bool = True) -> int:
    records = [{"id": f"q{i}", "prompt": f"Question {i}? <<expect:{v1}>>",
                "response": f"Answer {i} <<expect:{v2}>>", "reference": f"Reference {i}",
                **({"humans": {"expert": {"correct": human}}} if humans else {})}
               for i, (v1, v2, human) in enumerate(items)]
    import_file(db, write_jsonl(records, tmp_path / "quiz.jsonl"), project_name="quiz",
                schema=CORRECTNESS, actor=OPERATOR)
    with db.read() as session:
        return get_project(session=session, name="quiz").id


def add_judge(db, server: FakeOpenAI, name: str = "gpt", **settings) -> None:
    with db.write() as session:
        create_judge(session=session, spec=JudgeSpec(
            name=name, base_url=server.base_url, model="judge-model", api_key_env="JUDGE_KEY",
            **settings), actor=OPERATOR)


def judge_id(db, name: str = "gpt") -> int:
    with db.read() as session:
        return get_judge(session=session, name=name).id


def user_key(db, project_id: int, name: str = "gpt") -> str:
    with db.read() as session:
        judge = get_judge(session=session, name=name)
        project = get_project(session=session, name="quiz")
    assert project.id == project_id
    return editor_key(judge, project, "user")


def plain(text: str) -> str:
    """A message as the browser shows it (markdown escapes removed)."""
    return text.replace("\\", "")


def preview(at) -> list[str]:
    return [block.value for block in at.code]


def no_secret_anywhere(at) -> bool:
    state = {key: at.session_state[key] for key in at.session_state}
    return SECRET not in page_text(at) and SECRET not in repr(state)


def work(db) -> int:
    """Carry out every queued run, as the worker process would (the key from its environment)."""
    return run_worker(db, worker="test", environ={"JUDGE_KEY": SECRET}, stop=threading.Event(),
                      until_idle=True)


# --- defining judges -----------------------------------------------------------------------------

def test_admin_defines_an_llm_judge_and_the_list_shows_only_the_key_variable(app_db_any, admin,
                                                                            judge_key):
    db = app_db_any
    at = open_page(JUDGES_PAGE, user=admin)
    assert not at.exception
    assert at.info[0].value == "No judge yet: define one below."
    at.text_input(key="judges.define.name").input("gpt-4o")
    at.text_input(key="judges.define.base_url").input("https://api.openai.com/v1")
    at.text_input(key="judges.define.model").input("gpt-4o-2024-08-06")
    at.text_input(key="judges.define.api_key_env").input("JUDGE_KEY")
    at.selectbox(key="judges.define.strategy").set_value("rubric")
    at.checkbox(key="judges.define.reference_guided").check()
    at.number_input(key="judges.define.temperature").set_value(0.2)
    at.number_input(key="judges.define.seed").set_value(7)
    at.number_input(key="judges.define.price_input").set_value(2.5)
    at.number_input(key="judges.define.price_output").set_value(10.0)
    at.text_input(key="judges.define.family").input("gpt-4o")
    at.text_input(key="judges.define.provider").input("OpenAI")
    at.button(key="judges.define.submit").click().run()

    assert not at.exception
    assert plain(at.success[0].value) == "Judge gpt-4o defined."
    with db.read() as session:
        spec = get_judge(session=session, name="gpt-4o").spec
    assert (spec.base_url, spec.model, spec.api_key_env, spec.strategy, spec.reference_guided,
            spec.temperature, spec.seed, spec.price_input_per_million, spec.family,
            spec.provider, spec.size) == (
        "https://api.openai.com/v1", "gpt-4o-2024-08-06", "JUDGE_KEY", "rubric", True, 0.2, 7,
        2.5, "gpt-4o", "OpenAI", None)
    table = at.dataframe[0].value
    row = table[table["judge"] == "gpt-4o"].iloc[0]
    assert row["API key variable"] == "JUDGE_KEY (set)"
    assert row["strategy"] == "Rubric-guided + reference"
    assert row["price in / out per M tokens"] == "2.5 / 10"
    assert no_secret_anywhere(at)


def test_a_key_pasted_into_the_variable_box_is_refused_and_never_echoed(app_db, admin):
    at = open_page(JUDGES_PAGE, user=admin)
    at.text_input(key="judges.define.name").input("leaky")
    at.text_input(key="judges.define.base_url").input("https://api.openai.com/v1")
    at.text_input(key="judges.define.model").input("gpt-4o")
    at.text_input(key="judges.define.api_key_env").input(SECRET)
    at.button(key="judges.define.submit").click().run()

    assert not at.exception
    assert plain(at.error[0].value).startswith(
        "Not defined: judge 'leaky': api_key_env: is not an environment variable name")
    assert SECRET not in page_text(at)
    with app_db.read() as session:
        assert find_judge(session=session, name="leaky") is None


def test_admin_defines_a_lexical_judge(app_db, admin):
    at = open_page(JUDGES_PAGE, user=admin)
    at.segmented_control(key="judges.define.kind").set_value("lexical").run()
    at.text_input(key="judges.define.name").input("em")
    at.selectbox(key="judges.define.lexical").set_value("contains")
    at.button(key="judges.define.submit").click().run()

    assert not at.exception
    with app_db.read() as session:
        spec = get_judge(session=session, name="em").spec
    assert (spec.kind, spec.lexical, spec.base_url) == ("lexical", "contains", None)
    assert at.dataframe[0].value.iloc[0]["model"] == "lexical: contains"


# --- the prompt editor and its preview ------------------------------------------------------------

def test_the_preview_shows_the_exact_messages_and_follows_the_editor(app_db, admin, tmp_path,
                                                                    fake_openai):
    project = quiz(app_db, tmp_path)
    add_judge(app_db, fake_openai, reference_guided=True)
    at = open_page(JUDGES_PAGE, user=admin)
    assert not at.exception
    shipped = builtin_prompt(CORRECTNESS, "direct", reference=True)
    system, user = preview(at)
    assert system == shipped.system
    assert user.startswith("Question:\nQuestion 0? <<expect:correct>>\n\nResponse to grade:\n"
                           "Answer 0 <<expect:correct>>\n\nReference answer (accepted as correct")
    assert "Reference 0" in user and '{"label": "<label>"}' in user
    assert "Saved as v1 (the shipped strategy): a run uses this prompt." in [c.value for c in at.caption]

    at.text_area(key=user_key(app_db, project)).input(V2_USER).run()

    assert not at.exception
    assert preview(at)[1] == ("Response:\nAnswer 0 <<expect:correct>>\n\nCriterion: Correct?\n"
                              "Allowed labels: correct, incorrect\nAnswer with a JSON object "
                              '{"label": "<label>"} and nothing else, where <label> is exactly '
                              "one of: correct, incorrect.")
    assert "Unsaved changes: a run uses v1 (the shipped strategy) until you save." in [
        c.value for c in at.caption]
    at.selectbox(key=f"judges.preview.item.{project}").set_value(2).run()  # q1's item id
    assert preview(at)[1].startswith("Response:\nAnswer 1 <<expect:incorrect>>\n")
    at.selectbox(key=f"judges.preview.output.{judge_id(app_db)}").set_value("verdict").run()
    assert preview(at)[1].endswith(VERDICT_FORMAT)


def test_item_text_is_previewed_as_plain_text(app_db, admin, tmp_path, fake_openai):
    hostile = "![pixel](http://tracker.invalid/p.png) <img src=x onerror=alert(1)> **bold**"
    records = [{"id": "h0", "prompt": "Question?", "response": hostile,
                "humans": {"expert": {"correct": "correct"}}}]
    import_file(app_db, write_jsonl(records, tmp_path / "hostile.jsonl"), project_name="quiz",
                schema=CORRECTNESS, actor=OPERATOR)
    add_judge(app_db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)

    assert hostile in preview(at)[1]  # verbatim, in a code block
    assert not [md for md in at.markdown if "tracker.invalid" in md.value]
    assert all("tracker" not in str(element.proto) for element in at.get("html"))


def test_a_prompt_error_is_shown_with_its_line_and_cannot_be_saved(app_db, admin, tmp_path,
                                                                  fake_openai):
    project = quiz(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)

    at.text_area(key=user_key(app_db, project)).input(
        "Question: {prompt}\nAnswer: {answer}\n{output_format}").run()

    assert not at.exception
    assert plain(at.error[0].value).startswith(
        "Prompt error: user message, line 2: unknown field {answer} (allowed: ")
    assert preview(at) == []
    assert at.button(key=f"judges.prompt.save.{judge_id(app_db)}").disabled

    at.text_area(key=user_key(app_db, project)).input("Question: {prompt}").run()
    assert "the template must contain {output_format}" in plain(at.error[0].value)


def test_a_reference_guided_prompt_says_when_an_item_has_no_reference(app_db, admin, tmp_path,
                                                                     fake_openai):
    records = [{"id": "n0", "prompt": "Question?", "response": "Answer",
                "humans": {"expert": {"correct": "correct"}}}]
    import_file(app_db, write_jsonl(records, tmp_path / "noref.jsonl"), project_name="quiz",
                schema=CORRECTNESS, actor=OPERATOR)
    add_judge(app_db, fake_openai, reference_guided=True)
    at = open_page(JUDGES_PAGE, user=admin)
    assert not at.exception
    assert plain(at.error[0].value).startswith(
        "Prompt error for item n0: the template is reference-guided (uses {reference}) but no "
        "reference answer was given for this item")


def test_saving_adds_a_prompt_version_and_an_identical_save_adds_none(app_db_any, admin, tmp_path,
                                                                       fake_openai):
    db = app_db_any
    project = quiz(db, tmp_path)
    add_judge(db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)
    save = f"judges.prompt.save.{judge_id(db)}"

    at.text_area(key=user_key(db, project)).input(V2_USER)
    at.text_input(key=editor_key_for(db, "note")).input("only the response")
    at.button(key=save).click().run()

    assert not at.exception
    assert at.success[0].value == "Saved as v2."
    with db.read() as session:
        versions = prompt_versions(session=session, judge_id=judge_id(db), task="correctness")
    assert [(v.version, v.note, v.template.user) for v in versions] == [
        (1, "shipped strategy", builtin_prompt(CORRECTNESS, "direct").user),
        (2, "only the response", V2_USER)]
    assert "Saved as v2: a run uses this prompt." in [c.value for c in at.caption]

    at.button(key=save).click().run()
    assert at.success[0].value == "No change: the prompt is v2 as saved."
    with db.read() as session:
        assert len(prompt_versions(session=session, judge_id=judge_id(db), task="correctness")) == 2

    # Every version is listed and can be loaded back into the editor.
    at.button(key=f"judges.prompt.load.{judge_id(db)}.1").click().run()
    assert at.text_area(key=user_key(db, project)).value == builtin_prompt(CORRECTNESS, "direct").user


def test_a_shipped_prompt_can_be_loaded_into_the_editor(app_db, admin, tmp_path, fake_openai):
    project = quiz(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)
    at.selectbox(key=editor_key_for(app_db, "shipped")).set_value("rationale")
    at.checkbox(key=editor_key_for(app_db, "shipped_reference")).check()

    at.button(key=f"judges.prompt.shipped.load.{judge_id(app_db)}").click().run()

    assert not at.exception
    shipped = builtin_prompt(CORRECTNESS, "rationale", reference=True)
    assert at.text_area(key=user_key(app_db, project)).value == shipped.user
    assert at.selectbox(key=editor_key_for(app_db, "strategy")).value == "rationale"
    assert "Reference 0" in preview(at)[1]  # the preview follows at once
    with app_db.read() as session:  # nothing saved
        assert prompt_versions(session=session, judge_id=judge_id(app_db), task="correctness") == []


def editor_key_for(db, part: str) -> str:
    with db.read() as session:
        judge = get_judge(session=session, name="gpt")
        project = get_project(session=session, name="quiz")
    return editor_key(judge, project, part)


# --- trying on one item ---------------------------------------------------------------------------

def test_try_on_one_item_calls_the_endpoint_and_stores_nothing(app_db, admin, tmp_path,
                                                              fake_openai, judge_key):
    quiz(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)

    at.button(key=f"judges.try.{judge_id(app_db)}").click().run()

    assert not at.exception
    assert plain(at.success[0].value) == "Label: **correct** (gpt on item q0, correct)"
    [sent] = fake_openai.requests
    assert sent.headers["authorization"] == f"Bearer {SECRET}"
    assert sent.body["messages"][1]["content"] == preview(at)[1]
    raw = '{"label": "correct"}'
    assert preview(at)[-1] == raw
    words = sum(len(m["content"].split()) for m in sent.body["messages"])
    assert any(c.value.startswith(f"Tokens in + out: {words} + 2 · latency ")
               for c in at.caption)
    with app_db.read() as session:
        assert session.execute(select(JudgeRun.id)).first() is None
        assert prompt_versions(session=session, judge_id=judge_id(app_db), task="correctness") == []
    assert no_secret_anywhere(at)


def test_try_shows_an_unparseable_answer_as_such(app_db, admin, tmp_path, fake_openai, judge_key):
    quiz(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    fake_openai.add_fault("unparseable")
    at = open_page(JUDGES_PAGE, user=admin)

    at.button(key=f"judges.try.{judge_id(app_db)}").click().run()

    assert plain(at.warning[0].value).startswith("Unparseable (gpt on item q0, correct): the output is "
                                          "not a JSON verdict")
    assert preview(at)[-1] == "I cannot decide about this one."


def test_try_errors_name_the_variable_and_never_show_the_key(app_db, admin, tmp_path, fake_openai,
                                                             monkeypatch):
    quiz(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    monkeypatch.delenv("JUDGE_KEY", raising=False)
    at = open_page(JUDGES_PAGE, user=admin)
    try_button = f"judges.try.{judge_id(app_db)}"

    at.button(key=try_button).click().run()
    assert plain(at.error[0].value) == (
        "The call failed (gpt on item q0, correct): the API key variable JUDGE_KEY is not set in "
        "the server's environment or Streamlit secrets")
    assert fake_openai.requests == []

    # The server echoes the Authorization header back in its error: the page shows it scrubbed.
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    fake_openai.add_fault("echo_key")
    at.button(key=try_button).click().run()
    assert "HTTP 401" in at.error[0].value and "[API key]" in plain(at.error[0].value)
    assert len(fake_openai.requests) == 1
    assert no_secret_anywhere(at)


# --- running, the progress and the versions table ---------------------------------------------------

def test_run_from_the_page_then_the_versions_table_shows_the_paired_difference(
        app_db_any, admin, tmp_path, fake_openai, judge_key):
    db = app_db_any
    project = quiz(db, tmp_path)
    add_judge(db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)
    assert at.radio(key="judges.run.scope").options == [
        "All items with human labels (12)", "A random sample of them"]

    at.button(key="judges.run.submit").click().run()  # v1, the shipped strategy
    assert not at.exception
    assert at.success[0].value == "Run 1 of gpt with prompt v1 queued."
    assert "queued" in at.get("progress")[0].proto.text
    assert at.button(key="judges.run.cancel.1")  # an active run can be cancelled
    assert work(db) == 1

    at.text_area(key=user_key(db, project)).input(V2_USER)
    at.button(key=f"judges.prompt.save.{judge_id(db)}").click().run()
    at.button(key="judges.run.submit").click().run()  # v2
    assert at.success[0].value == "Run 2 of gpt with prompt v2 queued."
    assert work(db) == 1
    at.run()

    assert not at.exception
    progress = [bar.proto for bar in at.get("progress")]
    assert [bar.value for bar in progress] == [100, 100]
    assert plain(progress[0].text).startswith(
        "prompt v2 · run 2 (gpt): done; 12 of 12 verdicts (0 unparseable), 0 failed, 0 remaining")
    table = at.dataframe[-1].value
    assert list(table["version"]) == ["v1", "v2"]
    assert list(table["rater"]) == ["gpt", "gpt@v2"]
    human = [h for _, _, h in ITEMS]
    v1, v2 = [a for a, _, _ in ITEMS], [b for _, b, _ in ITEMS]
    assert list(table["Cohen's κ"]) == [f"{cohen_kappa_score(human, v1):.3f}",
                                        f"{cohen_kappa_score(human, v2):.3f}"]
    assert list(table["n"]) == [12, 12]
    assert list(table["unparseable"]) == ["0 of 12", "0 of 12"]
    delta = cohen_kappa_score(human, v2) - cohen_kappa_score(human, v1)
    codes = {"correct": 0.0, "incorrect": 1.0}
    expected = paired_difference([codes[x] for x in human], [codes[x] for x in v1],
                                 [codes[x] for x in v2], CORRECTNESS.dimension("correct"),
                                 n_resamples=1000, seed=1)
    assert expected.delta == pytest.approx(delta)
    sentence = table["vs the previous version"][1]
    assert sentence == expected.sentence("v2", "v1")
    assert sentence.startswith(f"v2 is better than v1 (Δκ {delta:+.2f} [")  # κ -0.17 -> 0.67
    assert table["vs the previous version"][0] == ""
    assert no_secret_anywhere(at)


def test_a_random_sample_run_and_its_options(app_db, admin, tmp_path, fake_openai):
    quiz(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)
    at.radio(key="judges.run.scope").set_value("sample")
    at.number_input(key="judges.run.limit").set_value(5)
    at.number_input(key="judges.run.samples").set_value(3)
    at.number_input(key="judges.run.concurrency").set_value(4)
    assert at.checkbox(key="judges.run.swap").disabled  # correctness has nothing to swap
    at.button(key="judges.run.submit").click().run()

    with app_db.read() as session:
        [run] = project_runs(session=session, project_id=get_project(session=session,
                                                                         name="quiz").id)
    assert run.options == RunOptions(samples=3, swap=False, limit=5, only_with_humans=True,
                                     concurrency=4)


def test_cancel_a_queued_run(app_db, admin, tmp_path, fake_openai):
    project = quiz(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)
    at.button(key="judges.run.submit").click().run()

    at.button(key="judges.run.cancel.1").click().run()

    assert not at.exception
    with app_db.read() as session:
        [run] = project_runs(session=session, project_id=project)
    assert (run.status, run.cancel_requested) == ("cancelled", True)
    assert at.success[0].value == "Run 1: cancelled."
    assert "judges.run.cancel.1" not in [button.key for button in at.button]


def test_without_human_labels_there_is_nothing_to_run(app_db, admin, tmp_path, fake_openai):
    quiz(app_db, tmp_path, humans=False)
    add_judge(app_db, fake_openai)
    at = open_page(JUDGES_PAGE, user=admin)
    assert not at.exception
    assert any(info.value.startswith("No item of this project has a human label yet")
               for info in at.info)
    assert not [button for button in at.button if button.key == "judges.run.submit"]


# --- every change re-checks who acts ------------------------------------------------------------------

def test_a_demoted_admin_changes_nothing(app_db, admin, tmp_path, fake_openai):
    project = quiz(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    with app_db.write() as session:
        enqueue_run(session=session, project_id=project, judge_name="gpt", options=RunOptions(),
                    actor=OPERATOR)
    second = _second_admin(app_db)
    pages = [open_page(JUDGES_PAGE, user=second) for _ in range(4)]
    pages[0].text_input(key="judges.define.name").input("mallory")
    pages[1].text_area(key=user_key(app_db, project)).input(V2_USER)
    with app_db.write() as session:
        change_role(session=session, user_id=second.id, role="annotator", actor=OPERATOR)

    pages[0].button(key="judges.define.submit").click().run()
    pages[1].button(key=f"judges.prompt.save.{judge_id(app_db)}").click().run()
    pages[2].button(key="judges.run.submit").click().run()
    pages[3].button(key="judges.run.cancel.1").click().run()

    for at in pages:
        assert not at.exception
        assert at.title[0].value == "Sign in to Docket"
    with app_db.read() as session:
        assert find_judge(session=session, name="mallory") is None
        assert len(prompt_versions(session=session, judge_id=judge_id(app_db),
                                   task="correctness")) == 1  # v1 from the queued run
        runs = project_runs(session=session, project_id=project)
    assert [(run.status, run.cancel_requested) for run in runs] == [("queued", False)]


def _second_admin(db):
    from storage.users import create_user

    with db.write() as session:
        return create_user(session=session, name="admin2", role="admin",
                           password="second admin password", actor=OPERATOR)


def test_an_unparseable_share_is_counted_in_the_versions_table(app_db, admin, tmp_path,
                                                               fake_openai, judge_key):
    quiz(app_db, tmp_path)
    add_judge(app_db, fake_openai)
    fake_openai.add_fault("unparseable", times=None, when="Question 3?")
    fake_openai.add_fault("unparseable", times=None, when="Question 5?")
    with app_db.write() as session:
        enqueue_run(session=session, project_id=1, judge_name="gpt", options=RunOptions(),
                    actor=OPERATOR)
    work(app_db)
    at = open_page(JUDGES_PAGE, user=admin)

    table = at.dataframe[-1].value
    parsed = [i for i in range(len(ITEMS)) if i not in (3, 5)]
    human = [ITEMS[i][2] for i in parsed]
    v1 = [ITEMS[i][0] for i in parsed]
    assert list(table["unparseable"]) == ["2 of 12"]
    assert list(table["n"]) == [10]
    assert list(table["Cohen's κ"]) == [f"{cohen_kappa_score(human, v1):.3f}"]
    assert np.isfinite(float(table["Cohen's κ"][0]))
