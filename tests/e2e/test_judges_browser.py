"""Browser walk through the Judges page against the fake OpenAI-compatible server: a try on one
item made by the real server with the key from its own environment, a run started from the
page whose progress the page follows while a worker carries it out, the prompt version's κ in
the versions table, and the API key nowhere in the page's HTML or the websocket messages."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from sklearn.metrics import cohen_kappa_score

from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.database import Database
from storage.importer import import_file
from storage.judge_runs import project_runs
from storage.judge_worker import run_worker
from storage.judges import JudgeSpec, create_judge
from storage.projects import get_project
from tests.converters import write_jsonl
from tests.e2e.conftest import running_server
from tests.e2e.test_browser import by_key, grid_cells, sign_in, snapshot
from tests.e2e.test_review_browser import settled
from tests.judges.fake_openai import FakeOpenAI

pytestmark = pytest.mark.browser

KEY = "sk-e2e-judge-key-5f1c9a0d7b3e"  # set in the server's environment only
JUDGE_ANSWERS = ["correct", "incorrect", "correct", "correct", "incorrect", "incorrect",
                 "correct", "incorrect", "correct", "correct", "incorrect", "correct"]
HUMAN_LABELS = ["correct", "incorrect", "incorrect", "correct", "incorrect", "correct",
                "correct", "incorrect", "correct", "incorrect", "incorrect", "correct"]

# Measured from the boxes the browser laid out: the user-message editor, the preview of the
# user message, the main area's horizontal overflow, and selects whose text is cut.
LAYOUT = """() => {
  const editor = document.querySelector('[class*="st-key-judges-prompt-user-"] textarea')
    .getBoundingClientRect();
  const codes = [...document.querySelectorAll('[data-testid="stCode"]')];
  const preview = codes[1].getBoundingClientRect();
  const main = document.querySelector('[data-testid="stMain"]');
  const cut = [...document.querySelectorAll('[data-testid="stSelectbox"] [data-baseweb="select"] div')]
    .filter(e => e.children.length === 0 && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
    .length;
  return {editor: editor.width, preview: preview.width, editor_left: editor.left,
          preview_left: preview.left, overflow: main.scrollWidth - main.clientWidth,
          cut_selects: cut};
}"""


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def judges_server(tmp_path_factory, chromium_path, fake_server):
    folder = tmp_path_factory.mktemp("e2e-judges")
    with running_server(folder, env={"JUDGE_KEY": KEY}) as server:
        db = Database(server.database_url)
        try:
            records = [{"id": f"q{i}", "prompt": f"Question {i}?",
                        "response": f"Answer {i} <<expect:{answer}>>",
                        "humans": {"expert": {"correct": human}}}
                       for i, (answer, human) in enumerate(zip(JUDGE_ANSWERS, HUMAN_LABELS,
                                                               strict=True))]
            import_file(db, write_jsonl(records, folder / "quiz.jsonl"), project_name="quiz",
                        schema=TEMPLATES["correctness"], actor=OPERATOR)
            with db.write() as session:
                create_judge(session=session, spec=JudgeSpec(
                    name="gpt", base_url=fake_server.base_url, model="judge-model",
                    api_key_env="JUDGE_KEY", price_input_per_million=1.0,
                    price_output_per_million=4.0), actor=OPERATOR)
        finally:
            db.dispose()
        yield server


def test_a_run_started_from_the_page_finishes_with_its_progress_and_the_key_stays_hidden(
        page, judges_server, fake_server):
    frames: list[str | bytes] = []
    page.on("websocket", lambda socket: socket.on("framereceived",
                                                  lambda payload: frames.append(payload)))
    page.goto(f"{judges_server.url}/Judges?judges.project=quiz&judges.judge=gpt")
    sign_in(page, judges_server.admin_name, judges_server.admin_password)
    page.get_by_role("heading", name="Prompt lab").wait_for()
    settled(page)
    assert "JUDGE_KEY (set)" in grid_cells(page, "API key variable")

    # Try on one item: the server calls the endpoint with the key from its own environment.
    by_key(page, "judges.try.1").get_by_role("button").click()
    page.get_by_text("Label: correct").wait_for()
    assert fake_server.requests[-1].headers["authorization"] == f"Bearer {KEY}"

    # A failing endpoint that echoes the key back: the error on the page has it scrubbed.
    fake_server.add_fault("echo_key")
    by_key(page, "judges.try.1").get_by_role("button").click()
    page.get_by_text(re.compile(r"HTTP 401.*\[API key\]")).wait_for()

    # Run it, slowly enough to watch: 12 calls, 2 at a time, 1 s each.
    fake_server.set_delay(1.0)
    concurrency = by_key(page, "judges.run.concurrency").get_by_role("spinbutton")
    concurrency.fill("2")
    by_key(page, "judges.run.submit").get_by_role("button").click()
    page.get_by_text("Run 1 of gpt with prompt v1 queued.").wait_for()
    page.get_by_text(re.compile(r"run 1 \(gpt\): queued")).wait_for()

    db = Database(judges_server.database_url)
    worker = threading.Thread(target=run_worker, kwargs={
        "db": db, "worker": "e2e", "environ": {"JUDGE_KEY": KEY}, "stop": threading.Event(),
        "until_idle": True})
    try:
        worker.start()
        page.get_by_text(re.compile(r"run 1 \(gpt\): running; [1-9]\d* of 12 verdicts")).wait_for(
            timeout=30_000)
        snapshot(page, "docket_judges_running.png")
        page.get_by_text(re.compile(r"run 1 \(gpt\): done; 12 of 12 verdicts")).wait_for(
            timeout=60_000)
        worker.join(timeout=60)
        settled(page)
        with db.read() as session:
            [run] = project_runs(session=session,
                                 project_id=get_project(session=session, name="quiz").id)
    finally:
        fake_server.set_delay(0.0)
        worker.join(timeout=60)
        db.dispose()
    assert (run.status, run.done, run.failed) == ("done", 12, 0)
    assert page.get_by_text(re.compile(r"cost ≈ \d")).count() == 1

    kappa = cohen_kappa_score(HUMAN_LABELS, JUDGE_ANSWERS)
    cells = grid_cells(page, "vs the previous version")
    assert cells[:5] == ["v1", "gpt", f"{kappa:.3f}", cells[3], "12"]
    snapshot(page, "docket_judges.png")

    for width in (1024, 1920):
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(300)
        boxes = page.evaluate(LAYOUT)
        # The editor and the preview side by side, each wide enough to read and edit.
        assert boxes["editor"] >= 280 and boxes["preview"] >= 280, (width, boxes)
        assert boxes["editor_left"] < boxes["preview_left"], (width, boxes)
        assert boxes["overflow"] <= 0 and boxes["cut_selects"] == 0, (width, boxes)
        page.screenshot(path=f"/tmp/docket_judges_{width}.png")

    html = page.content()
    assert KEY not in html
    received = b"".join(frame if isinstance(frame, bytes) else frame.encode() for frame in frames)
    assert len(received) > 10_000  # the page really came through the websocket
    assert KEY.encode() not in received
