"""The agreement report carries the judge audit: an HTML section per dimension, an ``audit``
key per dimension in JSON (the ``cli.py audit --json`` document), three tables in CSV."""

from __future__ import annotations

import csv
import json

import pytest

import cli
from storage.authz import OPERATOR
from storage.demo import load_demo
from tests.export.helpers import export


@pytest.fixture
def demo(db):
    load_demo(db, actor=OPERATOR)
    return db


def test_report_json_audit_is_the_cli_document(demo, tmp_path, capsys):
    summary = export(demo, tmp_path, "pairwise", "report", "json", n_resamples=100, seed=4)
    (dimension,) = json.loads(summary.written.path.read_text("utf-8"))["dimensions"]
    assert cli.main(["--database", demo.url, "audit", "--project", "pairwise", "--bootstrap",
                     "100", "--seed", "4", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    printed.pop("project")
    # The report keeps the error taxonomy and each judge's self-consistency beside the audit,
    # in the dimension's document (as cli.py metrics does); the rest is the same document.
    assert printed.pop("error_taxonomy") == dimension["error_taxonomy"]
    for card in printed["judges"]:
        assert card.pop("self_consistency")["value"] is None  # the demo judges: one sample
    assert dimension["audit"] == printed


def test_report_html_and_csv_have_the_audit(demo, tmp_path):
    html = export(demo, tmp_path, "pairwise", "report", "html", n_resamples=50)
    text = html.written.path.read_text("utf-8")
    assert "Judge audit: bias cards" in text
    assert 'data-figure="win-rates"' in text
    assert "Generator win rates" in text and "llama-7b" in text
    assert "undefined: no judge:gpt-3.5-turbo@swapped run" in text
    table = export(demo, tmp_path, "correctness", "report", "csv", n_resamples=50)
    rows = list(csv.DictReader(table.written.path.open(encoding="utf-8", newline="")))
    card = [r for r in rows if r["table"] == "bias_card"]
    assert {r["rater"] for r in card} == {"judge:gpt-4o", "judge:llama-3.1-70b",
                                          "judge:prometheus-2-7b"}
    lenient = next(r for r in card if r["rater"] == "judge:gpt-4o" and r["figure"] == "leniency")
    assert float(lenient["ci_low"]) <= float(lenient["value"]) <= float(lenient["ci_high"])
    assert any(r["table"] == "ranking_agreement" for r in rows)
