"""Agreement on real datasets, end to end: convert, import (storage.importer), read back
(storage.labels) and compute, through ``python cli.py metrics --json``, on SQLite and
PostgreSQL.

Every expected number comes from ../shared/data/README.md (published or independently
recomputed there), never from Docket's own output. The TriviaQA data has no license: it is
read in place and converted into tmp_path, never copied into the repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import cli
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from tests.converters import (
    HANNA_CRITERIA,
    PANDALM_ANNOTATORS,
    hanna_records,
    hanna_schema,
    pandalm_records,
    triviaqa_v1_records,
    write_csv,
    write_jsonl,
)

pytestmark = pytest.mark.shared_data


def metrics_json(db, capsys, project: str, *options: str) -> dict[str, Any]:
    code = cli.main(["--database", db.url, "metrics", "--project", project, "--json",
                     "--bootstrap", "0", *options])
    out, err = capsys.readouterr()
    assert (code, err) == (0, ""), err
    return json.loads(out)


def pair(document: dict[str, Any], a: str, b: str) -> dict[str, Any]:
    return next(p for p in document["pairs"] if (p["a"], p["b"]) == (a, b))


def group(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(g for g in document["groups"] if g["name"] == name)


# --- PandaLM ---------------------------------------------------------------------------------

def test_pandalm_inter_annotator_agreement(db, tmp_path: Path, capsys, shared_data: Path):
    path = write_jsonl(pandalm_records(shared_data / "PandaLM", garbage="empty"),
                       tmp_path / "pandalm.jsonl")
    import_file(db, path, project_name="pandalm", schema=TEMPLATES["pairwise"], actor=OPERATOR)

    document = metrics_json(db, capsys, "pandalm")

    assert (document["project"], document["dimension"], document["scale"]) == (
        "pandalm", "preference", "nominal")
    a1, a2, a3 = (f"human:{name}" for name in PANDALM_ANNOTATORS)
    # Published in PandaLM's README: 0.85 / 0.88 / 0.86; reproduced as 0.8520 / 0.8789 / 0.8617.
    assert round(pair(document, a1, a2)["cohen_kappa"], 4) == 0.8520
    assert round(pair(document, a1, a3)["cohen_kappa"], 4) == 0.8789
    assert round(pair(document, a2, a3)["cohen_kappa"], 4) == 0.8617
    assert pair(document, a1, a2)["n"] == 999
    humans = group(document, "humans")
    assert humans["raters"] == [a1, a2, a3]
    assert (round(humans["fleiss_kappa"], 4), round(humans["krippendorff_alpha"], 4)) == (0.8642,
                                                                                         0.8642)
    assert (humans["alpha_level"], humans["n"]) == ("nominal", 999)
    # Majority labels (published): 0/1/2 = tie 105 / A 422 / B 472, with no 1-1-1 split.
    assert document["consensus"] == {"method": "majority", "items": 999, "ties": 0}
    assert document["bias"]["distributions"]["human:consensus"] == {"A": 422, "B": 472, "tie": 105}
    # README: the GPT verdicts are 460/476/38 plus 25 unparseable ones (imported as no verdict).
    assert document["bias"]["distributions"]["judge:gpt-3.5-turbo"] == {"A": 460, "B": 476, "tie": 38}
    assert pair(document, "human:consensus", "judge:gpt-3.5-turbo")["n"] == 974


# --- TriviaQA "Judging the Judges" V1 --------------------------------------------------------

# README, independently computed on V1 pairs where both labels are present: kappa, % agreement.
TRIVIAQA_V1_JUDGES = {"GPT-4": (0.7876, 91.15), "Llama3-70B": (0.8179, 92.66),
                      "Contains": (0.6832, 84.78), "EM": (0.4578, 70.88)}


def test_pandalm_garbage_kept_as_unparseable_is_counted_and_left_out(db, tmp_path: Path, capsys,
                                                                      shared_data: Path):
    """The 25 "garbage" GPT verdicts imported as unparseable (no label, raw text kept): the
    judge shows 974 parsed of 999, and every metric is the one of the 974 parsed verdicts
    (the same as importing them as no verdict at all)."""
    unparseable = write_jsonl(pandalm_records(shared_data / "PandaLM", garbage="unparseable"),
                              tmp_path / "unparseable.jsonl")
    empty = write_jsonl(pandalm_records(shared_data / "PandaLM", garbage="empty"),
                        tmp_path / "empty.jsonl")
    _, summary = import_file(db, unparseable, project_name="kept", schema=TEMPLATES["pairwise"],
                             actor=OPERATOR)
    import_file(db, empty, project_name="dropped", schema=TEMPLATES["pairwise"], actor=OPERATOR)
    assert (summary.verdicts, summary.unparseable_verdicts) == (2 * 999, 25)
    assert "1998 verdicts written (2 judges; 25 unparseable)" in summary.line()

    kept, dropped = metrics_json(db, capsys, "kept"), metrics_json(db, capsys, "dropped")

    assert {e["rater"]: (e["parsed"], e["unparseable"]) for e in kept["verdicts"]} == {
        "judge:gpt-3.5-turbo": (974, 25), "judge:pandalm-7b": (999, 0)}
    gpt = pair(kept, "human:consensus", "judge:gpt-3.5-turbo")
    assert gpt["n"] == 974
    assert gpt == pair(dropped, "human:consensus", "judge:gpt-3.5-turbo")
    assert kept["bias"]["distributions"]["judge:gpt-3.5-turbo"] == {"A": 460, "B": 476, "tie": 38}
    assert cli.main(["--database", db.url, "metrics", "--project", "kept", "--bootstrap", "0"]) == 0
    assert ("judge:gpt-3.5-turbo: 974 parsed of 999 verdicts (25 unparseable, left out)"
            in capsys.readouterr().out)


def test_triviaqa_v1_judges_against_the_human(db, tmp_path: Path, capsys, shared_data: Path):
    path = write_csv(triviaqa_v1_records(shared_data), tmp_path / "triviaqa_v1.csv")
    import_file(db, path, project_name="triviaqa", schema=TEMPLATES["correctness"], actor=OPERATOR)

    document = metrics_json(db, capsys, "triviaqa")

    for judge, (kappa, agreement) in TRIVIAQA_V1_JUDGES.items():
        entry = pair(document, "human:human", f"judge:{judge}")
        assert entry["n"] == 3595, judge
        assert (round(entry["cohen_kappa"], 4), round(100 * entry["percent_agreement"], 2)) == (
            kappa, agreement), judge
        # A single annotator is their own consensus.
        assert pair(document, "human:consensus", f"judge:{judge}")["cohen_kappa"] == entry[
            "cohen_kappa"]
    assert document["ranking"]["models"] and len(document["ranking"]["models"]) == 9


# --- HANNA -----------------------------------------------------------------------------------

# README: human-human Krippendorff's alpha (interval) over all 1,056 stories.
HANNA_HUMAN_ALPHA = {"RE": 0.138, "CH": -0.055, "EM": 0.116, "SU": 0.051, "EG": 0.180, "CX": 0.278}
# README: ChatGPT prompt 1 vs the human mean over the 960 non-Human stories, Spearman's rho.
HANNA_CHATGPT_RHO = {"RE": 0.1931, "CH": 0.2583, "EM": 0.2398, "SU": 0.0572, "EG": 0.2254,
                     "CX": 0.3305}


def test_hanna_human_alpha_per_criterion(db, tmp_path: Path, capsys, shared_data: Path):
    path = write_jsonl(hanna_records(shared_data), tmp_path / "hanna.jsonl")
    batch, summary = import_file(db, path, project_name="hanna", schema=hanna_schema(), actor=OPERATOR)
    assert (summary.added, len(batch.problems)) == (1056, 0)

    for code, dimension in HANNA_CRITERIA.items():
        document = metrics_json(db, capsys, "hanna", "--dimension", dimension)
        humans = group(document, "humans")
        assert (document["scale"], humans["alpha_level"], humans["n"]) == ("interval", "interval",
                                                                            1056)
        assert round(humans["krippendorff_alpha"], 3) == HANNA_HUMAN_ALPHA[code], dimension
        assert "fleiss_kappa" not in humans


def test_hanna_chatgpt_prompt_1_against_the_human_mean(db, tmp_path: Path, capsys,
                                                       shared_data: Path):
    generated = [r for r in hanna_records(shared_data) if r["model"] != "Human"]
    assert len(generated) == 960
    path = write_jsonl(generated, tmp_path / "hanna_generated.jsonl")
    import_file(db, path, project_name="hanna-generated", schema=hanna_schema(), actor=OPERATOR)

    for code, dimension in HANNA_CRITERIA.items():
        document = metrics_json(db, capsys, "hanna-generated", "--dimension", dimension)
        assert document["consensus"] == {"method": "mean", "items": 960, "ties": 0}
        entry = pair(document, "human:consensus", "judge:ChatGPT p1")
        assert entry["n"] == 960
        assert round(entry["spearman"], 4) == HANNA_CHATGPT_RHO[code], dimension
