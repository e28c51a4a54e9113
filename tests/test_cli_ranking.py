"""``cli.py metrics``, ``audit``, ``estimate`` and ``export report`` on a ranking project
(SQLite and PostgreSQL): the JSON pairs carry kendall_tau_b, spearman, top1_agreement and
normalized_levenshtein, each with its ci95, equal to scipy's and rapidfuzz's; the audit and the
estimates say they do not apply instead of failing; the report (HTML, JSON, CSV) shows the
four metrics and the same reasons."""

from __future__ import annotations

import csv
import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

import cli
from storage.authz import OPERATOR
from storage.importer import import_file
from tests.ranking_data import (
    HAND_EXPECTED,
    HAND_RECORDS,
    METRICS,
    RANKING,
    oracle_pairs,
    random_records,
    write_jsonl,
)

RECORDS = random_records(21, 70, ["ann", "bob", "cy"], ["gpt", "llama"])


def run(db, capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--database", db.url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def ranked(db, tmp_path: Path):
    import_file(db, write_jsonl(RECORDS, tmp_path / "r.jsonl"), project_name="rk",
                schema=RANKING, actor=OPERATOR)
    import_file(db, write_jsonl(HAND_RECORDS, tmp_path / "h.jsonl"), project_name="hand",
                schema=RANKING, actor=OPERATOR)
    return db


def metrics_json(db, capsys, *argv: str) -> dict[str, Any]:
    code, out, err = run(db, capsys, "metrics", *argv, "--json")
    assert (code, err) == (0, ""), err
    return json.loads(out)


def test_metrics_json_pairs_carry_the_four_metrics_with_ci95(ranked, capsys):
    document = metrics_json(ranked, capsys, "--project", "rk", "--bootstrap", "200")

    assert (document["project"], document["dimension"], document["scale"]) == (
        "rk", "ranking", "ranking")
    assert document["consensus"]["method"] == "borda"
    assert document["groups"] == [] and document["bias"] is None
    expected = oracle_pairs(RECORDS)
    assert [(p["a"], p["b"]) for p in document["pairs"]] == list(expected)
    for pair in document["pairs"]:
        wanted = expected[(pair["a"], pair["b"])]
        assert pair["n"] == wanted["n"]
        for metric in METRICS:
            assert pair[metric] == pytest.approx(wanted[metric], abs=1e-12), (pair["a"], metric)
            low, high = pair["ci95"][metric]
            assert low <= pair[metric] <= high


def test_metrics_text_names_the_headline_and_the_hand_values(ranked, capsys):
    code, out, err = run(ranked, capsys, "metrics", "--project", "hand", "--bootstrap", "0")

    assert (code, err) == (0, "")
    assert "human:consensus = borda of the humans: 4 items" in out
    assert "tau_b (the headline)" in out
    line = next(row for row in out.splitlines() if row.split()[:2] == ["human:ann", "human:bob"])
    hand = HAND_EXPECTED[("human:ann", "human:bob")]
    assert line.split()[2:] == [str(hand["n"]), *(f"{hand[m]:.3f}" for m in METRICS)]


def test_binarising_a_ranking_is_a_user_error(ranked, capsys):
    code, _, err = run(ranked, capsys, "metrics", "--project", "rk", "--binarize-at", "2")
    assert code == 1 and "cannot binarise dimension 'ranking': it is a ranking" in err


def test_audit_and_estimate_say_they_do_not_apply(ranked, capsys):
    code, out, err = run(ranked, capsys, "audit", "--project", "rk")
    assert (code, err) == (0, "")
    assert "The judge audit does not apply to 'ranking' (a ranking dimension)" in out
    code, out, err = run(ranked, capsys, "audit", "--project", "rk", "--json", "--by", "group")
    document = json.loads(out)
    assert (code, document["judges"], document["not_applicable"]["analysis"]) == (
        0, [], "judge audit")
    code, out, err = run(ranked, capsys, "estimate", "--project", "rk", "--judge", "gpt")
    assert (code, err) == (0, "")
    assert out.startswith("The PPI++ estimate does not apply to 'ranking' (a ranking dimension)")
    code, out, _ = run(ranked, capsys, "estimate", "--project", "rk", "--judge", "gpt", "--json")
    assert json.loads(out)["not_applicable"] == {
        "analysis": "PPI++ estimate", "dimension": "ranking", "scale": "ranking",
        "reason": json.loads(out)["not_applicable"]["reason"]}
    assert "PPI++ estimates the mean of one number per item" in out


def export_report(db, capsys, monkeypatch, path: Path, fmt: str) -> None:
    monkeypatch.setenv("DOCKET_AUTH", "none")
    code, _, err = run(db, capsys, "export", "report", "--project", "hand", "--format", fmt,
                       "-o", str(path), "--bootstrap", "100")
    assert code == 0, err


def test_report_html_json_csv(ranked, capsys, monkeypatch, tmp_path: Path):
    export_report(ranked, capsys, monkeypatch, tmp_path / "r.html", "html")
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.split("</head>", 1)[1]))
    for title in ("Kendall's τ-b", "Spearman's ρ", "Top-1 agreement",
                  "Normalised Levenshtein distance"):
        assert title in text
    assert "Kendall's τ-b (the headline: it counts every pair of responses)" in text
    assert "The judge audit does not apply to 'ranking'" in text
    assert "The PPI++ estimate does not apply to 'ranking'" in text
    assert "No rater groups: Fleiss' κ and Krippendorff's α are defined on labels" in text
    assert 'data-figure="headline"' in page and 'data-figure="heatmap"' in page
    row = re.search(r"<tr><td>human:consensus</td><td>judge:gpt</td>(.*?)</tr>", page).group(1)
    cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
    hand = HAND_EXPECTED[("human:consensus", "judge:gpt")]
    assert cells[0] == "4"
    assert [c.split()[0] for c in cells[1:]] == [f"{hand['kendall_tau_b']:.3f}",
                                                 f"{hand['spearman']:.3f}", "50.0",
                                                 f"{hand['normalized_levenshtein']:.3f}"]

    export_report(ranked, capsys, monkeypatch, tmp_path / "r.json", "json")
    (dimension,) = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["dimensions"]
    pair = next(p for p in dimension["pairs"] if p["b"] == "judge:gpt" and
                p["a"] == "human:consensus")
    assert pair["kendall_tau_b"] == pytest.approx(hand["kendall_tau_b"])
    assert set(pair["ci95"]) == set(METRICS)
    assert dimension["audit"]["not_applicable"]["analysis"] == "judge audit"

    export_report(ranked, capsys, monkeypatch, tmp_path / "r.csv", "csv")
    with (tmp_path / "r.csv").open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    pairs = [r for r in rows if r["table"] == "pairs" and r["b"] == "judge:gpt"
             and r["a"] == "human:consensus"]
    assert {r["metric"]: float(r["value"]) for r in pairs} == pytest.approx(
        {m: hand[m] for m in METRICS})
    (reason,) = [r for r in rows if r["table"] == "bias_card"]
    assert reason["figure"] == "not_applicable"
    assert reason["undefined_reason"].startswith("The judge audit does not apply")
