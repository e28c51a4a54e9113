"""``python cli.py audit``: the JSON contract of issue 16 on SQLite and PostgreSQL, the PandaLM
test set's win rates (humans vs both judges) against an independent count, a judge's own
model family from its definition, ``--judge``, ``--by`` and every user error."""

from __future__ import annotations

import json
from typing import Any

import pytest

import cli
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.demo import load_demo
from storage.importer import import_file
from storage.judges import JudgeSpec, create_judge
from tests.converters import PANDALM_ANNOTATORS, pandalm_records, write_jsonl

CARD = ["rater", "position", "length", "self_preference", "leniency", "error_rates",
        "answerable_split", "reference_effect", "consistency_probes", "self_consistency"]


def run(db, capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--database", db.url, "audit", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def audit_json(db, capsys, *argv: str) -> dict[str, Any]:
    code, out, err = run(db, capsys, *argv, "--json")
    assert (code, err) == (0, ""), err
    return json.loads(out)


def figures(node: Any):
    """Every figure in a document (a dict with ``value``)."""
    if isinstance(node, dict) and "value" in node and ("n" in node):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from figures(value)
    elif isinstance(node, list):
        for value in node:
            yield from figures(value)


@pytest.fixture
def demo_db(db):
    load_demo(db, actor=OPERATOR)
    return db


@pytest.mark.parametrize("project", ["pairwise", "correctness", "exam_question"])
def test_json_contract(demo_db, capsys, project):
    document = audit_json(demo_db, capsys, "--project", project, "--bootstrap", "100",
                          "--seed", "2")
    assert list(document)[:3] == ["project", "dimension", "scale"]
    assert {"judges", "win_rates", "ranking_agreement"} <= set(document)
    assert document["project"] == project
    for card in document["judges"]:
        assert list(card) == CARD
        assert card["rater"].startswith("judge:")
        assert {"consistency", "first_position_rate"} <= set(card["position"])
    for rater, rows in document["win_rates"].items():
        assert rater == "human:consensus" or rater.startswith("judge:")
        for row in rows:
            assert list(row) == ["model", "win_rate", "bt_strength", "comparisons"]
    for entry in document["ranking_agreement"]:
        assert list(entry) == ["rater", "kendall_tau_b"]
    found = list(figures(document))
    assert found
    for figure in found:
        if figure["value"] is None:
            assert isinstance(figure["undefined"], str) and figure["undefined"]
            assert "not built" not in figure["undefined"]
        else:
            assert len(figure["ci95"]) == 2 and figure["ci95"][0] <= figure["ci95"][1]
            assert isinstance(figure["n"], int)
    if project == "pairwise":
        assert set(document["win_rates"]) == {"human:consensus", "judge:gpt-3.5-turbo",
                                              "judge:pandalm-7b"}
        assert document["ranking_by"] == "bt_strength"
    # The same seed prints the same document.
    assert audit_json(demo_db, capsys, "--project", project, "--bootstrap", "100",
                      "--seed", "2") == document


def test_pandalm_win_rates_humans_vs_judges(sqlite_db, capsys, tmp_path, shared_data):
    records = pandalm_records(shared_data / "PandaLM", garbage="empty", pair_models=True)
    import_file(sqlite_db, write_jsonl(records, tmp_path / "pandalm.jsonl"),
                project_name="pandalm", schema=TEMPLATES["pairwise"], actor=OPERATOR)
    document = audit_json(sqlite_db, capsys, "--project", "pandalm", "--bootstrap", "200")
    # Independent count from the records: A is a win for model_a, B for model_b, a tie half
    # each; the humans' label is the majority of the three annotators (no majority: skipped).
    expected: dict[str, dict[str, list[float]]] = {}
    for record in records:
        votes = [record["humans"][name]["preference"] for name in PANDALM_ANNOTATORS]
        top = max(set(votes), key=votes.count)
        labels = {"human:consensus": top if votes.count(top) >= 2 else None}
        for judge, verdict in record["judges"].items():
            labels[f"judge:{judge}"] = verdict["preference"] or None
        for rater, label in labels.items():
            if label is None:
                continue
            share = {"A": 1.0, "B": 0.0, "tie": 0.5}[label]
            for model, won in ((record["model_a"], share), (record["model_b"], 1 - share)):
                wins = expected.setdefault(rater, {}).setdefault(model, [0.0, 0])
                wins[0] += won
                wins[1] += 1
    assert set(document["win_rates"]) == set(expected)
    for rater, rows in document["win_rates"].items():
        got = {row["model"]: (row["win_rate"]["value"], row["comparisons"]) for row in rows}
        assert got == {model: (pytest.approx(w / n), n) for model, (w, n) in
                       expected[rater].items()}, rater
    humans = {row["model"]: row for row in document["win_rates"]["human:consensus"]}
    assert max(humans, key=lambda m: humans[m]["bt_strength"]["value"]) == "llama-7b"
    assert {entry["rater"] for entry in document["ranking_agreement"]} == {
        "judge:gpt-3.5-turbo", "judge:pandalm-7b"}


def test_family_from_the_judge_definition_and_only_one_judge(demo_db, capsys):
    with demo_db.write() as session:
        create_judge(session=session, spec=JudgeSpec(
            name="pandalm-7b", model="pandalm", base_url="http://127.0.0.1:9/v1",
            family="llama"), actor=OPERATOR)
    document = audit_json(demo_db, capsys, "--project", "pairwise", "--judge", "pandalm-7b",
                          "--bootstrap", "50")
    (card,) = document["judges"]
    assert card["rater"] == "judge:pandalm-7b"
    assert card["self_preference"]["family"] == "llama"
    assert card["self_preference"]["self_preference"]["value"] is not None
    assert set(document["win_rates"]) == {"human:consensus", "judge:pandalm-7b"}


def test_by_metadata_key_and_readable_text(sqlite_db, capsys, tmp_path):
    records = [{"id": f"q{i}", "prompt": "p", "response": "r" * (i + 1),
                "difficulty": "hard" if i % 2 else "easy",
                "judges": {"j": {"correct": "correct" if i % 3 else "incorrect"}},
                "humans": {"ann": {"correct": "correct" if i % 2 else "incorrect"}}}
               for i in range(12)]
    import_file(sqlite_db, write_jsonl(records, tmp_path / "q.jsonl"), project_name="q",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    document = audit_json(sqlite_db, capsys, "--project", "q", "--by", "meta.difficulty",
                          "--bootstrap", "50")
    strata = document["stratified"]
    assert strata["by"] == "meta.difficulty"
    by_value = {s["value"]: s for s in strata["strata"]}
    assert set(by_value) == {"easy", "hard"}
    # easy items are i = 0, 2, ..., 10: the judge says correct where i % 3, the human never.
    easy = by_value["easy"]["metrics"]["percent_agreement"]
    assert easy["value"] == pytest.approx(2 / 6) and easy["n"] == 6
    code, out, err = run(sqlite_db, capsys, "--project", "q", "--bootstrap", "0")
    assert code == 0 and err == ""
    assert "judge:j" in out and "leniency:" in out and "false positive rate:" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["--project", "nope"], "nope"),
    (["--project", "pairwise", "--dimension", "nope"], "has no dimension 'nope'"),
    (["--project", "pairwise", "--judge", "nope"], "unknown judge 'nope'"),
    (["--project", "pairwise", "--by", "colour"], "--by must be group, model or meta.KEY"),
    (["--project", "pairwise", "--bootstrap", "-1"], "bootstrap resamples"),
])
def test_user_errors(demo_db, capsys, argv, message):
    code, out, err = run(demo_db, capsys, *argv)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err


def test_answerable_split_and_reference_effect(sqlite_db, capsys, tmp_path):
    from sklearn.metrics import cohen_kappa_score

    human = ["correct", "incorrect"] * 6
    plain = ["correct", "correct", "correct", "incorrect", "incorrect", "incorrect"] * 2
    guided = [*human[:10], "incorrect", "correct"]
    answered = [True] * 6 + [False] * 6
    records = [{"id": f"q{i}", "prompt": "p", "response": "r",
                "judges": {"plain": {"correct": plain[i], "answered_correctly": answered[i]},
                           "guided": {"correct": guided[i]}},
                "humans": {"ann": {"correct": human[i]}}} for i in range(12)]
    import_file(sqlite_db, write_jsonl(records, tmp_path / "q.jsonl"), project_name="q",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    document = audit_json(sqlite_db, capsys, "--project", "q", "--judge", "plain",
                          "--pair-with", "plain=guided", "--bootstrap", "100")
    (card,) = document["judges"]
    split = card["answerable_split"]
    assert split["metric"] == "cohen_kappa"
    assert split["answered"]["value"] == pytest.approx(cohen_kappa_score(human[:6], plain[:6]))
    assert split["not_answered"]["value"] == pytest.approx(cohen_kappa_score(human[6:],
                                                                             plain[6:]))
    effect = card["reference_effect"]
    assert effect["with_reference"] == "judge:guided"
    assert effect["delta"]["value"] == pytest.approx(
        cohen_kappa_score(human, guided) - cohen_kappa_score(human, plain))
    code, _, err = run(sqlite_db, capsys, "--project", "q", "--pair-with", "plain")
    assert code == 2 and "expected JUDGE=OTHER" in err


def test_self_consistency_and_error_taxonomy_in_the_document(sqlite_db, capsys, tmp_path):
    import krippendorff
    import numpy as np

    from storage.error_tags import set_error_tags
    from storage.projects import get_project
    from storage.review import find_item_id
    from tests.golden.comparison_cases import sample_records

    # Judge "s" answered three samples per item; "one" a single sample.
    records = sample_records()
    patterns = [tuple(sample["correct"] for sample in r["judges"]["s"]) for r in records]
    import_file(sqlite_db, write_jsonl(records, tmp_path / "s.jsonl"), project_name="s",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with sqlite_db.write() as session:
        project_id = get_project(session=session, name="s").id
        item = find_item_id(session=session, project_id=project_id, external_id="q1")
        set_error_tags(session=session, item_id=item, judge="one", dimension="correct",
                       categories=["format", "length"], actor=OPERATOR)

    document = audit_json(sqlite_db, capsys, "--project", "s", "--bootstrap", "50")
    cards = {card["rater"]: card for card in document["judges"]}
    consistency = cards["judge:s"]["self_consistency"]
    codes = np.array([[0 if label == "correct" else 1 for label in labels] for labels in patterns],
                     dtype=float)
    expected = krippendorff.alpha(reliability_data=codes.T, level_of_measurement="nominal")
    assert (consistency["samples"], consistency["items"]) == (3, len(patterns))
    assert consistency["krippendorff_alpha"]["value"] == pytest.approx(expected, abs=1e-9)
    assert cards["judge:one"]["self_consistency"]["value"] is None
    assert "--samples K" in cards["judge:one"]["self_consistency"]["undefined"]
    (tagged,) = document["error_taxonomy"]["judges"]
    assert (tagged["rater"], tagged["tagged_verdicts"]) == ("judge:one", 1)
    assert {k: v for k, v in tagged["counts"].items() if v} == {"format": 1, "length": 1}

    code, out, _ = run(sqlite_db, capsys, "--project", "s", "--bootstrap", "0")
    assert code == 0
    assert "self-consistency of judge:s over 3 samples (18 items)" in out
    assert "error taxonomy of judge:one (1 tagged): length 1, format 1" in out  # list order
