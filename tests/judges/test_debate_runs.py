"""Debates carried out as runs against the fake OpenAI-compatible server (SQLite and
PostgreSQL): the transcript stored in order with both debaters' arguments, the verdict parsed
strictly, resume without duplicates, the CLI, and ``cli.py metrics`` listing the debate; and a
judge run with several samples scored by its majority with its self-consistency."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

import cli
from core.judges.debate import FIRST_SPEAKER
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.debates import DebateSetupError, create_debate, enqueue_debate, list_debates
from storage.importer import import_file
from storage.judge_runs import execute_run, run_info
from storage.judges import JudgeSpec, create_judge
from storage.models import Judge, Verdict
from tests.converters import write_jsonl
from tests.judges.helpers import SECRET
from tests.judges.test_judge_runs import ENV, add_judge, fast_client, quiz, run

ARGUMENT = "The response was checked against the question."


def judges(db, server) -> None:
    for name in ("alice", "bob", "carol"):
        add_judge(db, server, name=name)


def debate(db, project, name="duel", decider=None, rounds=2):
    with db.write() as session:
        return create_debate(session=session, project_id=project, name=name, debater_a="alice",
                             debater_b="bob", rounds=rounds, decider=decider, actor=OPERATOR)


def run_debate(db, project, name="duel"):
    with db.write() as session:
        run_id = enqueue_debate(session=session, project_id=project, name=name,
                                claimed_by="test", actor=OPERATOR)
    return execute_run(db, run_id, worker="test", environ=ENV, client_factory=fast_client)


def stored(db):
    with db.read() as session:
        return [tuple(row) for row in session.execute(
            select(Judge.name, Verdict.item_id, Verdict.label, Verdict.rationale, Verdict.raw_output)
            .join(Judge, Judge.id == Verdict.judge_id).order_by(Verdict.item_id))]


def test_a_debate_stores_the_verdict_with_the_transcript_in_order(db, tmp_path, fake_openai):
    project = quiz(db, tmp_path, ["incorrect", "correct"])
    judges(db, fake_openai)
    debate(db, project, decider="carol")

    info = run_debate(db, project)

    assert (info.status, info.judge, info.total, info.done, info.failed) == (
        "done", "debate:duel", 2, 2, 0)
    rows = stored(db)
    assert [(name, label) for name, _, label, _, _ in rows] == [
        ("debate:duel", "incorrect"), ("debate:duel", "correct")]
    transcript = rows[0][3]
    headings = [line for line in transcript.splitlines() if line.endswith(":")
                and (line.startswith("Round") or line.startswith("Final"))]
    assert headings == ["Round 1, alice:", "Round 1, bob:", "Round 2, alice:", "Round 2, bob:",
                        "Final verdict, carol:"]
    assert transcript.count(ARGUMENT) == 5 and rows[0][4].endswith("Verdict: incorrect")
    # 2 items x (2 rounds x 2 debaters + 1 decision); per item: alice, bob, alice, bob, carol.
    calls = [r for r in fake_openai.requests if "Answer 0" in r.user_text]
    assert len(calls) == 5 and all(r.body.get("response_format") is None for r in calls)
    assert FIRST_SPEAKER in calls[0].user_text  # alice opens round 1
    assert f"The other judge's last argument:\n{ARGUMENT}" in calls[1].user_text  # bob answers her
    assert "Round 2, bob:" in calls[4].user_text  # the decider saw the whole debate
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in fake_openai.requests)


def test_an_unparseable_final_answer_is_stored_as_such_never_guessed(db, tmp_path, fake_openai):
    project = quiz(db, tmp_path, ["correct"])
    judges(db, fake_openai)
    debate(db, project, rounds=1)
    fake_openai.add_fault("unparseable", times=None, when="Two judges debated")

    info = run_debate(db, project)

    assert (info.done, info.unparseable) == (1, 1)
    (name, _, label, transcript, raw), = stored(db)
    assert (name, label, raw) == ("debate:duel", None, "I cannot decide about this one.")
    assert transcript.startswith("Round 1, alice:") and "Final verdict, alice:" in transcript


def test_a_failed_debate_stores_nothing_and_the_rerun_does_only_what_is_missing(db, tmp_path,
                                                                               fake_openai):
    project = quiz(db, tmp_path, ["correct", "incorrect", "correct"])
    judges(db, fake_openai)
    debate(db, project, rounds=1)
    fake_openai.add_fault("500", times=2, when="Answer 1")  # both attempts of alice's turn

    first = run_debate(db, project)
    assert (first.status, first.done, first.failed) == ("done", 2, 1)
    assert "1 verdicts missing after failed calls" in first.message
    asked = len(fake_openai.requests)

    second = run_debate(db, project)

    assert (second.total, second.done, second.failed) == (3, 3, 0)
    resent = fake_openai.requests[asked:]
    assert len(resent) == 3 and all("Answer 1" in r.user_text for r in resent)
    assert [label for _, _, label, _, _ in stored(db)] == ["correct", "incorrect", "correct"]
    third = run_debate(db, project)  # nothing missing: no call, no duplicate
    assert (third.total, third.done) == (3, 3) and len(fake_openai.requests) == asked + 3
    assert len(stored(db)) == 3


def test_bad_debates_are_refused(db, tmp_path, fake_openai):
    project = quiz(db, tmp_path, ["correct"])
    judges(db, fake_openai)
    with db.write() as session:
        create_judge(session=session, spec=JudgeSpec(name="exact", kind="lexical",
                                                     lexical="exact_match"), actor=OPERATOR)
    cases = [({"debater_b": "alice"}, "judge 'alice' cannot debate itself"),
             ({"debater_b": "nobody"}, "debater B: no judge named 'nobody'"),
             ({"decider": "exact"}, "decider: judge 'exact' is lexical"),
             ({"rounds": 0}, "rounds: expected 1 to 10, got 0"),
             ({"name": "a:b"}, "debate name 'a:b'")]
    for change, message in cases:
        options = {"name": "duel", "debater_a": "alice", "debater_b": "bob", "rounds": 2,
                   "decider": None} | change
        with pytest.raises(DebateSetupError, match=message.replace("(", r"\(")), \
                db.write() as session:
            create_debate(session=session, project_id=project, actor=OPERATOR, **options)
    debate(db, project)
    with pytest.raises(DebateSetupError, match="has a debate named 'duel' already"), \
            db.write() as session:
        create_debate(session=session, project_id=project, name="DUEL", debater_a="alice",
                      debater_b="bob", rounds=1, actor=OPERATOR)
    with db.read() as session:
        assert [d.name for d in list_debates(session=session, project_id=project)] == ["duel"]


def test_the_cli_adds_and_runs_a_debate_and_metrics_list_it(db, tmp_path, fake_openai, capsys,
                                                            monkeypatch):
    records = [{"id": f"q{i}", "prompt": f"Question {i}?",
                "response": f"Answer {i} <<expect:{label}>>", "reference": "r",
                "humans": {"ann": {"correct": human}}}
               for i, (label, human) in enumerate([("correct", "correct"), ("incorrect", "incorrect"),
                                                   ("correct", "incorrect")])]
    import_file(db, write_jsonl(records, tmp_path / "q.jsonl"), project_name="quiz",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    judges(db, fake_openai)
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    base = ["--database", db.url, "debate"]
    assert cli.main([*base, "add", "--project", "quiz", "duel", "--a", "alice", "--b", "bob",
                     "--rounds", "1", "--decider", "carol"]) == 0
    assert "debate stored: debate:duel = alice vs bob, 1 rounds, decided by carol" in (
        capsys.readouterr().out)
    assert cli.main([*base, "run", "--project", "quiz", "duel"]) == 0
    out, err = capsys.readouterr()
    assert "(debate:duel): done; 3 of 3 verdicts" in out and "run " in err
    assert cli.main([*base, "list", "--project", "quiz"]) == 0
    assert capsys.readouterr().out == ("debate:duel  alice vs bob, 1 rounds, decided by carol\n")
    assert cli.main([*base, "run", "--project", "quiz", "nope"]) == 1
    assert "error: no debate named 'nope' in this project (debates: duel)" in capsys.readouterr().err

    assert cli.main(["--database", db.url, "metrics", "--project", "quiz", "--bootstrap", "0",
                     "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert "judge:debate:duel" in document["raters"]
    pair = next(p for p in document["pairs"]
                if (p["a"], p["b"]) == ("human:ann", "judge:debate:duel"))
    assert (pair["n"], pair["percent_agreement"]) == (3, pytest.approx(2 / 3))


def test_a_run_with_samples_is_scored_by_its_majority_with_its_self_consistency(
        db, tmp_path, fake_openai, capsys):
    labels = ["correct", "incorrect", "correct", "incorrect"]
    project = quiz(db, tmp_path, labels)
    add_judge(db, fake_openai)
    # Item 1's first sample is unparseable: its other two samples still decide.
    fake_openai.add_fault("unparseable", times=1, when="Answer 1")

    info = run(db, project, samples=3)

    assert (info.total, info.done, info.unparseable) == (12, 12, 1)
    assert cli.main(["--database", db.url, "metrics", "--project", "quiz", "--bootstrap", "0",
                     "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    entry, = document["self_consistency"]
    assert (entry["rater"], entry["samples"], entry["items"]) == ("judge:gpt", 3, 4)
    # Every parsed sample repeats the item's label and the labels vary across items: kappa 1.
    assert entry["fleiss_kappa"]["value"] == pytest.approx(1.0)
    assert document["verdicts"] == [{"rater": "judge:gpt", "parsed": 4, "unparseable": 0}]
    with db.read() as session:
        assert run_info(session=session, run_id=info.id).unparseable == 1
    assert cli.main(["--database", db.url, "metrics", "--project", "quiz", "--bootstrap", "0"]) == 0
    assert "self-consistency across samples" in capsys.readouterr().out
