"""Judge runs on projects with image fields (issue 18, item 5), on SQLite and PostgreSQL
against the fake OpenAI-compatible server: the images imported from files reach the endpoint
as ``data:`` URIs of exactly the imported bytes, in the documented order; nothing of them but
the hash is stored; a judge not marked vision-capable is refused before any call (at enqueue
and when a run is carried out); debates and consistency probes send the images too."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import select

import cli
from core.schema import schema_from_dict
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.debates import create_debate, enqueue_debate
from storage.importer import import_file
from storage.judge_images import JudgeImageLoader
from storage.judge_runs import execute_run
from storage.judges import JudgeError, get_judge
from storage.models import Item, JudgeRun, Verdict, utcnow
from storage.probes import add_paraphrases, run_probes
from storage.projects import get_project
from tests.judges.test_judge_images import decoded, drawn, wire_parts
from tests.judges.test_judge_runs import ENV, add_judge, fast_client, run

ALBUM = schema_from_dict({
    "name": "album",
    "fields": [{"name": "cover", "kind": "image"}, {"name": "prompt"},
               {"name": "pages", "kind": "images", "required": False}],
    "dimensions": [{"name": "ok", "scale": "nominal",
                    "labels": [{"value": "yes"}, {"value": "no"}]}],
})


def scoring_project(db, tmp_path: Path) -> tuple[int, dict[str, tuple[str, bytes]]]:
    """An image_scoring project of two items, one PNG and one JPEG read from files next to the
    JSONL; returns its id and, per question, the MIME type and bytes of the item's file."""
    files = {"red.png": drawn("PNG", (210, 30, 30)), "blue.jpg": drawn("JPEG", (20, 60, 220))}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    records = [{"id": "a", "image": "red.png", "prompt": "What colour is the circle?",
                "response": "Red. <<expect:5>>"},
               {"id": "b", "image": "blue.jpg", "prompt": "How many circles are there?",
                "response": "Three. <<expect:1>>"}]
    path = tmp_path / "scoring.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    import_file(db, path, project_name="pictures", schema=TEMPLATES["image_scoring"],
                actor=OPERATOR)
    with db.read() as session:
        project = get_project(session=session, name="pictures").id
    return project, {"What colour is the circle?": ("image/png", files["red.png"]),
                     "How many circles are there?": ("image/jpeg", files["blue.jpg"])}


def sent(request) -> tuple[list[str], list[tuple[str, bytes]]]:
    """The kinds of the user message's parts and its images (MIME type, bytes)."""
    parts = wire_parts(request.body["messages"][-1]["content"])
    return [kind for kind, _ in parts], [payload for kind, payload in parts if kind == "image"]


def test_a_run_sends_each_item_its_own_image_and_stores_only_the_verdict(db, tmp_path,
                                                                         fake_openai):
    project, files = scoring_project(db, tmp_path)
    add_judge(db, fake_openai, vision=True)

    info = run(db, project, samples=2)

    assert (info.status, info.done, info.failed, info.message) == ("done", 4, 0, None)
    assert len(fake_openai.requests) == 4
    for request in fake_openai.requests:
        text = request.user_text
        question = next(q for q in files if q in text)
        kinds, images = sent(request)
        assert kinds == ["text", "image", "text"]
        assert images == [files[question]]
    with db.read() as session:
        rows = session.execute(select(Item.external_id, Verdict.label, Verdict.raw_output,
                                      Verdict.rationale)
                               .join(Item, Item.id == Verdict.item_id)
                               .order_by(Item.external_id, Verdict.sample_index)).all()
    assert [(external, label) for external, label, _, _ in rows] == [
        ("a", "5"), ("a", "5"), ("b", "1"), ("b", "1")]
    # Nothing of an image but its hash (in the item's fields) is stored with the verdicts.
    for data in (mime_data[1] for mime_data in files.values()):
        payload = base64.b64encode(data).decode()[:40]
        assert all(payload not in (raw or "") + (why or "") for _, _, raw, why in rows)


def test_a_list_field_sends_its_images_in_list_order_after_the_cover(db, tmp_path, fake_openai):
    pictures = {name: drawn(fmt, colour) for name, fmt, colour in (
        ("cover.png", "PNG", (250, 200, 0)), ("p1.jpg", "JPEG", (0, 120, 0)),
        ("p2.gif", "GIF", (90, 0, 90)))}
    for name, data in pictures.items():
        (tmp_path / name).write_bytes(data)
    record = {"id": "x", "cover": "cover.png", "prompt": "Same style? <<expect:yes>>",
              "pages": ["p2.gif", "p1.jpg"]}
    (tmp_path / "album.jsonl").write_text(json.dumps(record) + "\n")
    import_file(db, tmp_path / "album.jsonl", project_name="album", schema=ALBUM, actor=OPERATOR)
    with db.read() as session:
        project = get_project(session=session, name="album").id
    add_judge(db, fake_openai, vision=True)

    info = run(db, project)

    assert (info.done, info.failed) == (1, 0)
    (request,) = fake_openai.requests
    kinds, images = sent(request)
    # The generic block of a custom schema names every field: Cover, Question, Pages.
    assert kinds == ["text", "image", "text", "image", "image", "text"]
    assert images == [("image/png", pictures["cover.png"]), ("image/gif", pictures["p2.gif"]),
                      ("image/jpeg", pictures["p1.jpg"])]


def test_a_judge_not_marked_vision_capable_is_refused_before_any_call(db, tmp_path, fake_openai):
    project, _ = scoring_project(db, tmp_path)
    add_judge(db, fake_openai)
    message = (f"judge 'gpt': endpoint judge-model at {fake_openai.base_url} is not marked "
               "vision-capable; the project has image fields image")

    with pytest.raises(JudgeError) as refused:
        run(db, project)
    assert str(refused.value).startswith(message)
    with db.read() as session:
        assert session.execute(select(JudgeRun.id)).first() is None

    # A run stored without the check (e.g. queued by an older Docket) fails when carried out.
    with db.write() as session:
        judge = get_judge(session=session, name="gpt")
        row = JudgeRun(project_id=project, judge_definition_id=judge.id, samples=1, swap=False,
                       only_with_humans=False, concurrency=2, status="running", worker="test",
                       created_at=utcnow(), heartbeat_at=utcnow())
        session.add(row)
        session.flush()
        run_id = row.id
    info = execute_run(db, run_id, worker="test", environ=ENV, client_factory=fast_client)
    assert info.status == "failed" and info.message.startswith(message)
    assert fake_openai.requests == []


def test_a_text_project_is_sent_plain_strings_by_a_vision_judge(db, tmp_path, fake_openai):
    from tests.judges.test_judge_runs import quiz

    project = quiz(db, tmp_path, ["correct", "incorrect"])
    add_judge(db, fake_openai, vision=True)
    assert run(db, project).done == 2
    assert all(isinstance(message["content"], str)
               for request in fake_openai.requests for message in request.body["messages"])


def test_the_loader_reads_each_image_once_and_leaves_an_unknown_hash_for_the_prompt_to_refuse(
        db, tmp_path):
    _, files = scoring_project(db, tmp_path)
    schema = TEMPLATES["image_scoring"]
    loader = JudgeImageLoader(db, schema)
    digests = {hashlib.sha256(data).hexdigest(): (mime, data) for mime, data in files.values()}
    for _ in range(3):
        for digest, (mime, data) in digests.items():
            image = loader.fields({"image": digest, "prompt": "q"})["image"]
            assert (image.sha256, image.mime, image.data) == (digest, mime, data)
            assert decoded(image.data_uri) == (mime, data)
    assert loader.reads == 2
    assert loader.fields({"image": "f" * 64})["image"] == "f" * 64
    text_only = JudgeImageLoader(db, TEMPLATES["correctness"])

    async def call(request, cancel=None):
        return request

    assert text_only.wrap(call) is call  # no image field: no extra step per call


def test_debaters_all_see_the_image_and_must_all_be_vision_capable(db, tmp_path, fake_openai):
    project, files = scoring_project(db, tmp_path)
    add_judge(db, fake_openai, name="alice", vision=True)
    add_judge(db, fake_openai, name="bob", vision=True)
    add_judge(db, fake_openai, name="carol")
    with db.write() as session:
        for name, decider in (("duel", None), ("mixed", "carol")):
            create_debate(session=session, project_id=project, name=name, debater_a="alice",
                          debater_b="bob", rounds=1, decider=decider, actor=OPERATOR)
    with db.write() as session, pytest.raises(JudgeError, match=r"judge 'carol': endpoint "
                                              r".* is not marked vision-capable"):
        enqueue_debate(session=session, project_id=project, name="mixed", actor=OPERATOR)

    with db.write() as session:
        run_id = enqueue_debate(session=session, project_id=project, name="duel",
                                claimed_by="test", actor=OPERATOR)
    info = execute_run(db, run_id, worker="test", environ=ENV, client_factory=fast_client)

    assert (info.status, info.done, info.failed) == ("done", 2, 0)
    assert len(fake_openai.requests) == 2 * 3  # two arguments and the verdict per item
    for request in fake_openai.requests:
        question = next(q for q in files if q in request.user_text)
        assert sent(request)[1] == [files[question]]


def test_probes_send_the_image_with_every_wording(db, tmp_path, fake_openai):
    _, files = scoring_project(db, tmp_path)
    add_judge(db, fake_openai, vision=True)
    with db.write() as session:
        add_paraphrases(session=session, project="pictures", item="a",
                        questions=["Which colour does the circle have?"], actor=OPERATOR)

    summary = run_probes(db, project="pictures", judge="gpt", environ=ENV, actor=OPERATOR,
                         client_factory=fast_client)

    assert (summary.asked, summary.stored) == (2, 2)
    assert {request.user_text.split("Question about the image:\n")[1].split("\n")[0]
            for request in fake_openai.requests} == {"What colour is the circle?",
                                                      "Which colour does the circle have?"}
    assert all(sent(request)[1] == [files["What colour is the circle?"]]
               for request in fake_openai.requests)


def test_the_cli_defines_a_vision_judge_and_refuses_a_text_only_one_on_images(
        db, tmp_path, fake_openai, capsys, monkeypatch):
    monkeypatch.setenv("DOCKET_AUTH", "none")
    _, files = scoring_project(db, tmp_path)

    def cli_run(*argv: str) -> tuple[int, str, str]:
        code = cli.main(["--database", db.url, *argv])
        out, err = capsys.readouterr()
        return code, out, err

    for name, extra in (("seeing", ["--vision"]), ("blind", [])):
        code, out, _ = cli_run("judge", "add", name, "--base-url", fake_openai.base_url,
                               "--model", "judge-model", *extra)
        assert code == 0, out
    with db.read() as session:
        assert get_judge(session=session, name="seeing").spec.vision is True
        assert get_judge(session=session, name="blind").spec.vision is False
    _, listing, _ = cli_run("judge", "list")
    lines = {line.split()[0]: line for line in listing.splitlines()}
    assert "vision" in lines["seeing"].split("; ") and "vision" not in lines["blind"]

    code, _, err = cli_run("judge", "run", "--project", "pictures", "--judge", "blind")
    assert code == 1
    assert err.splitlines()[-1].startswith(
        f"error: judge 'blind': endpoint judge-model at {fake_openai.base_url} is not marked "
        "vision-capable; the project has image fields image; define a judge marked "
        "vision-capable")
    assert fake_openai.requests == []

    code, _, err = cli_run("judge", "run", "--project", "pictures", "--judge", "seeing")
    assert code == 0, err
    assert sorted(sent(request)[1] for request in fake_openai.requests) == sorted(
        [mime_data] for mime_data in files.values())
