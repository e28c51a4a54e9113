"""Consistency probes end to end against the fake OpenAI-compatible server, on SQLite and
PostgreSQL: paraphrases written by an admin and by a judge's model, a probe run through the
judge engine (only what is missing; a failed call stores nothing and a rerun retries it), the
per-item listing, and the figures in ``cli.py audit --json`` checked against hand counts."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

import cli
from storage.authz import OPERATOR
from storage.models import ProbeParaphrase, ProbeVerdict
from storage.probes import ProbeError, add_paraphrases, item_probes, run_probes
from tests.judges.helpers import SECRET
from tests.judges.test_judge_runs import ENV, add_judge, fast_client, quiz, run


@pytest.fixture
def probed(db, tmp_path, fake_openai, monkeypatch):
    """Project ``quiz`` (q0, q1 answered correct, q2 incorrect) judged once by ``gpt`` (a
    prompt asking for a rationale)."""
    monkeypatch.setenv("DOCKET_AUTH", "none")
    monkeypatch.setenv("JUDGE_KEY", SECRET)
    project_id = quiz(db, tmp_path, ["correct", "correct", "incorrect"])
    add_judge(db, fake_openai, strategy="rationale")
    assert run(db, project_id).status == "done"
    return db


def main(db, capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--database", db.url, "probe", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_paraphrases_run_list_and_audit(probed, capsys, fake_openai):
    db = probed
    # q0: one wording tells the fake server to answer "incorrect" (the question comes before
    # the response in the prompt, so its marker wins); q1: two wordings by the judge's model.
    code, out, err = main(db, capsys, "add", "--project", "quiz", "--item", "q0",
                          "Question zero, reworded <<expect:incorrect>>", "Is it question 0?")
    assert (code, err) == (0, "") and "positions 1, 2" in out
    code, out, _ = main(db, capsys, "generate", "--project", "quiz", "--item", "q1",
                        "--judge", "gpt", "--k", "2")
    assert code == 0 and "wrote 2 paraphrase(s)" in out
    asked = fake_openai.requests[-1].user_text
    assert "Write 2 paraphrases" in asked and "<question>\nQuestion 1?\n</question>" in asked

    code, out, _ = main(db, capsys, "run", "--project", "quiz", "--judge", "gpt")
    assert code == 0 and "judge:gpt: 6 of 6 verdicts stored (0 unparseable), 0 failed" in out
    code, out, _ = main(db, capsys, "run", "--project", "quiz", "--judge", "gpt")
    assert code == 0 and "0 of 0 verdicts" in out  # only what is missing

    code, out, _ = main(db, capsys, "list", "--project", "quiz", "--json")
    listed = {entry["item"]: entry for entry in json.loads(out)["items"]}
    assert sorted(listed) == ["q0", "q1"]
    assert [v["source"] for v in listed["q1"]["variants"]] == ["item", "judge:gpt", "judge:gpt"]
    assert listed["q1"]["variants"][1]["question"] == "Question 1? (wording 1)"
    labels = {item: [v["label"] for v in entry["verdicts"]["judge:gpt"]["correct"]]
              for item, entry in listed.items()}
    assert labels == {"q0": ["correct", "incorrect", "correct"],
                      "q1": ["correct", "correct", "correct"]}
    code, out, _ = main(db, capsys, "list", "--project", "quiz", "--item", "q0")
    assert "label agreement 0.33" in out and "[1] (admin) Question zero, reworded" in out

    code = cli.main(["--database", db.url, "audit", "--project", "quiz", "--bootstrap", "200",
                     "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    (card,) = document["judges"]
    probes = card["consistency_probes"]
    # q0: labels c, i, c -> 1 agreeing pair of 3; q1: all agree -> 1.
    assert probes["items"] == 2
    assert probes["label_agreement"]["value"] == pytest.approx((1 / 3 + 1) / 2)
    assert probes["label_agreement"]["n"] == 2
    low, high = probes["label_agreement"]["ci95"]
    assert low == pytest.approx(1 / 3) and high == pytest.approx(1.0)
    assert (probes["unanimous_rate"]["value"], probes["unanimous_rate"]["n"]) == (0.5, 2)
    # The fake gives every verdict the same rationale: identical texts, cosine 1.
    assert probes["text_similarity"]["value"] == pytest.approx(1.0)

    code = cli.main(["--database", db.url, "audit", "--project", "quiz", "--bootstrap", "0"])
    assert "consistency probes (2 items)" in capsys.readouterr().out

    code, out, _ = main(db, capsys, "remove", "--project", "quiz", "--item", "q0")
    assert code == 0 and "removed 2 paraphrase(s)" in out
    with db.read() as session:
        assert session.execute(select(func.count()).select_from(ProbeVerdict)).scalar() == 3
        assert session.execute(select(func.count()).select_from(ProbeParaphrase)).scalar() == 2


def test_a_failed_call_stores_nothing_and_a_rerun_retries_it(probed, fake_openai):
    db = probed
    with db.write() as session:
        add_paraphrases(session=session, project="quiz", item="q2",
                        questions=["Question two, reworded?"], actor=OPERATOR)
    fake_openai.add_fault("500", times=None, when="reworded")
    summary = run_probes(db, project="quiz", judge="gpt", environ=ENV, actor=OPERATOR,
                         client_factory=fast_client)
    assert (summary.asked, summary.stored, summary.failed) == (2, 1, 1)
    assert "HTTP 500" in summary.first_error
    fake_openai._server.state.faults.clear()
    again = run_probes(db, project="quiz", judge="gpt", environ=ENV, actor=OPERATOR,
                       client_factory=fast_client)
    assert (again.asked, again.stored, again.failed) == (1, 1, 0)
    with db.read() as session:
        (probe,) = item_probes(session=session, project="quiz")
    assert [v.label for v in probe.verdicts["judge:gpt"]["correct"]] == ["incorrect", "incorrect"]


@pytest.mark.parametrize(("item", "questions", "message"), [
    ("nope", ["x?"], "has no item 'nope'"),
    ("q0", ["Question 0?"], "repeats the question"),
    ("q0", ["Again?", " again? "], "repeats the question or another paraphrase"),
    ("q0", ["  "], "must have 1 to"),
    ("q0", [], "at least one"),
])
def test_bad_paraphrases_are_refused(probed, item, questions, message):
    with probed.write() as session, pytest.raises(ProbeError, match=message):
        add_paraphrases(session=session, project="quiz", item=item, questions=questions,
                        actor=OPERATOR)


def test_a_run_without_paraphrases_or_with_an_unknown_dimension_says_why(probed, capsys):
    code, _, err = main(probed, capsys, "run", "--project", "quiz", "--judge", "gpt")
    assert code != 0 and "has no paraphrases" in err
    code, _, err = main(probed, capsys, "run", "--project", "quiz", "--judge", "gpt",
                        "--dimension", "style")
    assert code != 0 and "no dimension 'style'" in err


def test_the_report_carries_the_probe_figures(probed, tmp_path):
    import csv

    from tests.export.helpers import export

    db = probed
    with db.write() as session:
        add_paraphrases(session=session, project="quiz", item="q2",
                        questions=["Question two <<expect:correct>>?", "Question two, again?"],
                        actor=OPERATOR)
    run_probes(db, project="quiz", judge="gpt", environ=ENV, actor=OPERATOR,
               client_factory=fast_client)
    table = export(db, tmp_path, "quiz", "report", "csv", n_resamples=50)
    rows = [r for r in csv.DictReader(table.written.path.open(encoding="utf-8", newline=""))
            if r["table"] == "bias_card" and r["group"] == "consistency_probes"]
    by_figure = {r["figure"]: r for r in rows}
    # q2: incorrect, correct (its wording's marker wins), incorrect -> 1 agreeing pair of 3.
    assert float(by_figure["label_agreement"]["value"]) == pytest.approx(1 / 3)
    assert by_figure["label_agreement"]["n"] == "1"
    assert float(by_figure["unanimous_rate"]["value"]) == 0.0
    html = export(db, tmp_path, "quiz", "report", "html", n_resamples=50)
    assert "Consistency probes" in html.written.path.read_text("utf-8")


def test_a_bad_concurrency_is_refused(probed, capsys):
    code, _, err = main(probed, capsys, "run", "--project", "quiz", "--judge", "gpt",
                        "--concurrency", "0")
    assert code != 0 and "--concurrency must be 1 to 64, got 0" in err
