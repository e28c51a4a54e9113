"""``python cli.py judge answer`` (issue 16, item 4 ▸): the judge's model answers each
question it judged, the answer is graded against the reference with a lexical judge, and the
outcome feeds the audit's answerable split; against the fake OpenAI-compatible server, on
SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

import cli
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.models import Item, Judge, Verdict
from storage.own_answers import ANSWER_SYSTEM, answer_questions
from storage.probes import ProbeError
from tests.converters import write_jsonl
from tests.judges.helpers import SECRET
from tests.judges.test_judge_runs import ENV, add_judge, fast_client, run

# Per item: what the judge's model answers (None: no marker, "I do not know"), the reference
# (accepted answers, one per line) and the human label; the fake judge says "correct" on all.
ITEMS = [("Paris", "Paris\nParis, France", "correct"), ("Lyon", "Paris", "incorrect"),
         (None, "Rome", "correct"), ("the Rome", "Rome", "correct"),
         ("It is Madrid.", "Madrid", "incorrect"), ("Berlin", None, "correct")]


@pytest.fixture
def judged(db, tmp_path, fake_openai, monkeypatch):
    monkeypatch.setenv("DOCKET_AUTH", "none")
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    records = []
    for i, (answer, reference, human) in enumerate(ITEMS):
        marker = f" <<answer:{answer}>>" if answer else ""
        record = {"id": f"q{i}", "prompt": f"Capital number {i}?{marker}",
                  "response": f"Answer {i} <<expect:correct>>",
                  "humans": {"ann": {"correct": human}}}
        if reference is not None:
            record["reference"] = reference
        records.append(record)
    import_file(db, write_jsonl(records, tmp_path / "capitals.jsonl"), project_name="capitals",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    add_judge(db, fake_openai)
    with db.read() as session:
        project_id = session.execute(select(Item.project_id)).scalars().first()
    assert run(db, project_id).status == "done"
    return db


def answered(db) -> dict[str, bool | None]:
    with db.read() as session:
        return dict(session.execute(
            select(Item.external_id, Verdict.answered_correctly)
            .join(Verdict, Verdict.item_id == Item.id).join(Judge, Judge.id == Verdict.judge_id)
            .where(Judge.name == "gpt")).all())


def test_answers_graded_and_stored_for_the_answerable_split(judged, capsys, fake_openai):
    code = cli.main(["--database", judged.url, "judge", "answer", "--project", "capitals",
                     "--judge", "gpt"])
    out = capsys.readouterr().out
    assert code == 0
    # contains: q0 "Paris" yes; q1 "Lyon" no; q2 "I do not know" no; q3 "the Rome" yes
    # (articles are dropped); q4 "It is Madrid." yes (whole words); q5 has no reference.
    assert "asked 5 question(s): 3 answered correctly, 2 not (contains), 0 failed; 1 " in out
    assert answered(judged) == {"q0": True, "q1": False, "q2": False, "q3": True, "q4": True,
                                "q5": None}
    asked = [r for r in fake_openai.requests if r.body["messages"][0]["content"] == ANSWER_SYSTEM]
    assert len(asked) == 5 and asked[0].user_text.startswith("Capital number")
    assert "Answer 0" not in json.dumps([r.body for r in asked])  # the response is not shown

    code = cli.main(["--database", judged.url, "audit", "--project", "capitals",
                     "--bootstrap", "0", "--json"])
    (card,) = json.loads(capsys.readouterr().out)["judges"]
    split = card["answerable_split"]
    # The split's n counts the items on each side: answered q0, q3, q4; not answered q1, q2
    # (q5 unknown: no reference).
    assert split["answered"]["n"] == 3 and split["not_answered"]["n"] == 2

    # A rerun asks nothing: every item with a reference has its answer stored.
    code = cli.main(["--database", judged.url, "judge", "answer", "--project", "capitals",
                     "--judge", "gpt", "--grader", "exact_match"])
    assert code == 0 and "asked 0 question(s)" in capsys.readouterr().out


def test_exact_match_grading_and_a_failed_call(judged, fake_openai):
    fake_openai.add_fault("500", times=None, when="Capital number 3")
    summary = answer_questions(judged, project="capitals", judge="gpt", environ=ENV,
                               actor=OPERATOR, grader="exact_match", client_factory=fast_client)
    assert (summary.asked, summary.correct, summary.incorrect, summary.failed) == (5, 1, 3, 1)
    assert "HTTP 500" in summary.first_error
    # exact_match: q0 "Paris" equals an accepted answer; "It is Madrid." does not.
    assert answered(judged) == {"q0": True, "q1": False, "q2": False, "q3": None, "q4": False,
                                "q5": None}
    with pytest.raises(ProbeError, match="--grader must be one of"):
        answer_questions(judged, project="capitals", judge="gpt", environ=ENV, actor=OPERATOR,
                         grader="fuzzy")
