"""Judges on ranking projects (issue 18, item 5), against the fake OpenAI-compatible server on
SQLite and PostgreSQL: a correct order is stored as ``2,1,4,3``; a repeated number, an order of
the wrong length and prose are stored unparseable with the raw output; the structured-output
request carries the array schema of the item's own number of responses; a ranking over images
sends each image after its number, in order, to a vision judge; debates decide rankings; juries
are refused on rankings; and ``cli.py import --task batch_ranking.toml`` then ``judge run``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

import cli
from core.judges.client import JudgeRequest
from core.judges.prompting import builtin_prompt, compile_prompt
from core.judges.verdicts import verdict_response_format
from core.schema import schema_from_dict
from core.schema_toml import load_schema_toml
from core.templates import TEMPLATE_DIR
from storage.authz import OPERATOR
from storage.debates import create_debate, enqueue_debate
from storage.importer import import_file
from storage.judge_runs import execute_run
from storage.juries import JuryError, create_jury
from storage.models import Item, Judge, Verdict
from storage.projects import get_project
from tests.converters import write_jsonl
from tests.judges.helpers import SECRET, with_client
from tests.judges.test_judge_images import drawn, wire_parts
from tests.judges.test_judge_runs import ENV, add_judge, fast_client, run

TASK_FILE = TEMPLATE_DIR / "batch_ranking.toml"
BATCH = load_schema_toml(TASK_FILE)
RANKING = BATCH.dimension("ranking")
FOUR = ["Paris.", "Paris, on the Seine.", "Lyon.", "Marseille, I think."]
# item: (what the fake judge answers, the responses); the stored label (None: unparseable)
ITEMS = {
    "good": ("[2,1,4,3]", FOUR, "2,1,4,3"),
    "three": ("[3,1,2]", FOUR[:3], "3,1,2"),
    "repeated": ("[1,1,2,3]", FOUR, None),
    "short": ("[1,2,3]", FOUR, None),
    "prose": ("[2,1,4,3]", FOUR, None),  # the fake answers prose for this one (a fault)
}
GALLERY = schema_from_dict({
    "name": "gallery",
    "fields": [{"name": "prompt", "title": "Instruction"},
               {"name": "candidates", "title": "Pictures", "kind": "images"}],
    "dimensions": [{"name": "order", "scale": "ranking", "over": "candidates"}],
})


def ranking_project(db, tmp_path: Path, items=ITEMS) -> int:
    records = [{"id": name, "prompt": f"Capital of France? ({name}) <<expect:{answer}>>",
                "responses": responses} for name, (answer, responses, _) in items.items()]
    import_file(db, write_jsonl(records, tmp_path / "ranking.jsonl"), project_name="ranks",
                schema=BATCH, actor=OPERATOR)
    with db.read() as session:
        return get_project(session=session, name="ranks").id


def stored(db) -> dict[str, tuple[str | None, str | None, str | None]]:
    """Per item: (label, raw output, rationale) of its verdict."""
    with db.read() as session:
        rows = session.execute(select(Item.external_id, Verdict.label, Verdict.raw_output,
                                      Verdict.rationale)
                               .join(Item, Item.id == Verdict.item_id)).all()
    return {item: (label, raw, rationale) for item, label, raw, rationale in rows}


def test_a_call_asks_for_the_item_s_numbers_and_reads_the_order(fake_openai):
    prompt = compile_prompt(builtin_prompt(BATCH, "rationale"), BATCH)
    item = {"prompt": "Capital? <<expect:[2,1,4,3]>>", "responses": FOUR}
    request = JudgeRequest("k", prompt, item, RANKING)

    result = with_client(fake_openai, lambda client: client.call(request))

    assert result.verdict.label == "2,1,4,3" and result.verdict.problem is None
    assert result.verdict.rationale == "The response was checked against the question."
    body = fake_openai.requests[0].body
    assert body["response_format"] == verdict_response_format(RANKING, rationale=True,
                                                              n_responses=4)
    answer = body["response_format"]["json_schema"]["schema"]["properties"]["ranking"]
    assert answer == {"type": "array", "items": {"type": "integer", "enum": [1, 2, 3, 4]},
                      "minItems": 4, "maxItems": 4}
    assert json.loads(result.raw_text)["ranking"] == [2, 1, 4, 3]


def test_a_ranking_is_read_from_the_verdict_line_when_the_format_is_refused(fake_openai):
    fake_openai.add_fault("reject_format")
    prompt = compile_prompt(builtin_prompt(BATCH, "direct"), BATCH)
    item = {"prompt": "Capital? <<expect:[3,1,2]>>", "responses": FOUR[:3]}

    result = with_client(fake_openai, lambda client: client.call(
        JudgeRequest("k", prompt, item, RANKING)))

    assert (result.output, result.verdict.label) == ("verdict", "3,1,2")
    assert result.raw_text.endswith("Verdict: [3,1,2]")
    assert 'single line "Verdict: [<best>, ..., <worst>]"' in fake_openai.requests[1].user_text


def test_a_run_stores_orders_and_keeps_the_rest_unparseable_with_its_raw_output(
        db, tmp_path, fake_openai):
    project = ranking_project(db, tmp_path)
    add_judge(db, fake_openai)
    fake_openai.add_fault("unparseable", times=None, when="(prose)")

    info = run(db, project)

    assert (info.status, info.done, info.unparseable, info.failed) == ("done", 5, 3, 0)
    found = stored(db)
    assert {item: label for item, (label, _, _) in found.items()} == {
        item: label for item, (_, _, label) in ITEMS.items()}
    assert json.loads(found["repeated"][1])["ranking"] == [1, 1, 2, 3]
    assert json.loads(found["short"][1])["ranking"] == [1, 2, 3]
    assert found["prose"][1] == "I cannot decide about this one."
    # Each request's schema asks for as many numbers as that item has responses.
    sizes = {request.user_text.split("(")[1].split(")")[0]:
             request.body["response_format"]["json_schema"]["schema"]["properties"]["ranking"]
             ["maxItems"] for request in fake_openai.requests}
    assert sizes == {item: len(responses) for item, (_, responses, _) in ITEMS.items()}


def test_a_judge_without_structured_output_answers_on_the_verdict_line(db, tmp_path, fake_openai):
    project = ranking_project(db, tmp_path, {k: ITEMS[k] for k in ("good", "short")})
    add_judge(db, fake_openai, structured_output=False)

    info = run(db, project)

    assert (info.done, info.unparseable) == (2, 1)
    found = stored(db)
    assert found["good"][0] == "2,1,4,3" and found["short"][0] is None
    assert found["short"][1].endswith("Verdict: [1,2,3]")
    assert all("response_format" not in request.body for request in fake_openai.requests)


def test_a_ranking_over_images_sends_each_image_after_its_number_in_order(db, tmp_path,
                                                                          fake_openai):
    pictures = {"red.png": ("image/png", drawn("PNG", (220, 20, 20))),
                "green.jpg": ("image/jpeg", drawn("JPEG", (20, 200, 20))),
                "blue.gif": ("image/gif", drawn("GIF", (20, 20, 220)))}
    for name, (_, data) in pictures.items():
        (tmp_path / name).write_bytes(data)
    order = ["green.jpg", "blue.gif", "red.png"]
    record = {"id": "g", "prompt": "A red circle. <<expect:[3,1,2]>>", "candidates": order}
    import_file(db, write_jsonl([record], tmp_path / "gallery.jsonl"), project_name="gallery",
                schema=GALLERY, actor=OPERATOR)
    with db.read() as session:
        project = get_project(session=session, name="gallery").id
    add_judge(db, fake_openai, vision=True)

    info = run(db, project)

    assert (info.done, info.unparseable, info.failed) == (1, 0, 0)
    assert stored(db)["g"][0] == "3,1,2"
    (request,) = fake_openai.requests
    parts = wire_parts(request.body["messages"][-1]["content"])
    assert [kind for kind, _ in parts] == ["text", "image", "text", "image", "text", "image",
                                           "text"]
    assert [payload for kind, payload in parts if kind == "image"] == [pictures[n] for n in order]
    assert parts[0][1].endswith("Pictures:\nResponse 1:\n")
    assert parts[2][1] == "\n\nResponse 2:\n" and parts[4][1] == "\n\nResponse 3:\n"
    assert "the response numbers 1 to 3, each exactly once" in parts[6][1]
    schema = request.body["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["order"]["maxItems"] == 3


def test_a_debate_decides_a_ranking(db, tmp_path, fake_openai):
    project = ranking_project(db, tmp_path, {k: ITEMS[k] for k in ("good", "short")})
    add_judge(db, fake_openai, name="alice")
    add_judge(db, fake_openai, name="bob")
    with db.write() as session:
        create_debate(session=session, project_id=project, name="duel", debater_a="alice",
                      debater_b="bob", rounds=1, actor=OPERATOR)
        run_id = enqueue_debate(session=session, project_id=project, name="duel",
                                claimed_by="test", actor=OPERATOR)

    info = execute_run(db, run_id, worker="test", environ=ENV, client_factory=fast_client)

    assert (info.status, info.done, info.unparseable, info.failed) == ("done", 2, 1, 0)
    found = stored(db)
    assert found["good"][0] == "2,1,4,3" and found["short"][0] is None  # 3 of 4 responses
    assert found["good"][2].startswith("Round 1, alice:")  # the transcript is the rationale
    with db.read() as session:
        assert set(session.execute(select(Judge.name).join(
            Verdict, Verdict.judge_id == Judge.id)).scalars()) == {"debate:duel"}
    argue = fake_openai.requests[0].user_text
    assert "Argue for the verdict you believe is right" in argue


def test_a_jury_is_refused_on_a_ranking_project(db, tmp_path):
    records = [{"id": "r", "prompt": "?", "responses": FOUR,
                "judges": {"a": {"ranking": [2, 1, 4, 3]}, "b": {"ranking": [1, 2, 3, 4]}}}]
    import_file(db, write_jsonl(records, tmp_path / "judged.jsonl"), project_name="judged",
                schema=BATCH, actor=OPERATOR)
    with db.read() as session:
        project = get_project(session=session, name="judged").id
    for rule in ("majority", "median", "mean"):
        with db.write() as session, pytest.raises(JuryError) as refused:
            create_jury(session=session, project_id=project, name="pair", members=["a", "b"],
                        rule=rule, actor=OPERATOR)
        assert str(refused.value) == (
            "jury 'pair': juries combine the labels of nominal, ordinal and interval "
            "dimensions, and dimension 'ranking' is a ranking: compare each judge's ranking "
            "with the experts' instead")


def test_the_cli_imports_a_ranking_task_file_and_runs_a_judge(db, tmp_path, fake_openai, capsys,
                                                              monkeypatch):
    monkeypatch.setenv("DOCKET_AUTH", "none")
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    records = [{"id": name, "prompt": f"Capital of France? ({name}) <<expect:{answer}>>",
                "responses": responses}
               for name, (answer, responses, _) in ITEMS.items() if name != "prose"]
    path = write_jsonl(records, tmp_path / "ranking.jsonl")

    def cli_run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["--database", db.url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, err = cli_run("import", str(path), "--project", "ranks", "--task", str(TASK_FILE))
    assert code == 0, err
    code, out, err = cli_run("judge", "add", "gpt", "--base-url", fake_openai.base_url,
                             "--model", "judge-model", "--api-key-env", "JUDGE_KEY",
                             "--strategy", "rubric")
    assert code == 0, err
    code, out, err = cli_run("judge", "run", "--project", "ranks", "--judge", "gpt")

    assert code == 0, err
    assert "4 of 4 verdicts (2 unparseable), 0 failed" in out + err
    assert {item: label for item, (label, _, _) in stored(db).items()} == {
        "good": "2,1,4,3", "three": "3,1,2", "repeated": None, "short": None}
    assert all("Check each response against the criterion" in request.user_text
               for request in fake_openai.requests)
