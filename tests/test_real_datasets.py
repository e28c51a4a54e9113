"""Real human + LLM-judge datasets (../shared/data) through the import path and back.

Oracle values come from ../shared/data/README.md (published or independently recomputed) or
are counted here from the raw files; agreement is computed in the test with plain pandas and
scikit-learn on the frames read back from the database. The TriviaQA data has no license: it
is read in place and converted into tmp_path, never copied into the repository.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

import cli
from core.importing import ImportRejected
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.projects import ProjectError, get_project
from storage.readback import human_labels_frame, items_frame, verdicts_frame
from tests.converters import (
    GPT_JUDGE,
    PANDALM_ANNOTATORS,
    PANDALM_JUDGE,
    TRIVIAQA_HUMAN,
    TRIVIAQA_JUDGES,
    TRIVIAQA_V1,
    pandalm_records,
    triviaqa_v1_records,
    write_csv,
    write_jsonl,
)

pytestmark = pytest.mark.shared_data


def read_back(db, project: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with db.read() as session:
        project_id = get_project(session=session, name=project).id
        return (items_frame(session=session, project_id=project_id),
                verdicts_frame(session=session, project_id=project_id),
                human_labels_frame(session=session, project_id=project_id))


# --- PandaLM -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pandalm_raw(shared_data: Path) -> dict[str, list[dict]]:
    data = shared_data / "PandaLM" / "data"
    return {name: json.loads((data / f"{name}.json").read_text(encoding="utf-8"))
            for name in ("testset-v1", "gpt-3.5-turbo-testset-v1", "pandalm-7b-testset-v1")}


def test_pandalm_strict_lists_exactly_the_garbage_verdicts(db, tmp_path: Path, capsys, shared_data: Path,
                                                           pandalm_raw, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # where the full problem report goes
    path = write_jsonl(pandalm_records(shared_data / "PandaLM"), tmp_path / "pandalm.jsonl")
    garbage_idx = sorted(r["idx"] for r in pandalm_raw["gpt-3.5-turbo-testset-v1"]
                         if r["gpt_result"] == "garbage")
    assert len(garbage_idx) == 25  # README: 460/476/38/25

    code = cli.main(["--database", db.url, "import", str(path), "--project", "pandalm",
                     "--task", "pairwise"])

    err = capsys.readouterr().err.splitlines()
    assert code == 1
    # JSONL line = idx + 1 (the converter writes the records in idx order). The first 20 are
    # printed, all 25 are in the report.
    assert err[:20] == [
        f"problem: {path}:line {idx + 1}: judge.gpt-3.5-turbo.preference: unknown label 'garbage' "
        "(allowed: A, B, tie)"
        for idx in garbage_idx[:20]
    ]
    assert err[20:-1] == ["problem: ... and 5 more problems; full report: pandalm.problems.jsonl"]
    report = [json.loads(line) for line in (tmp_path / "pandalm.problems.jsonl").read_text().splitlines()]
    assert [(r["line"], r["field"], r["message"]) for r in report] == [
        (idx + 1, "judge.gpt-3.5-turbo.preference", "unknown label 'garbage' (allowed: A, B, tie)")
        for idx in garbage_idx]
    assert err[-1].startswith(f"error: {path}: 25 problem(s) in 25 of 999 records; nothing was imported")
    with db.read() as session, pytest.raises(ProjectError, match="no project named 'pandalm'"):
        get_project(session=session, name="pandalm")


def test_pandalm_strict_raises_import_rejected(db, tmp_path: Path, shared_data: Path) -> None:
    path = write_jsonl(pandalm_records(shared_data / "PandaLM"), tmp_path / "pandalm.jsonl")
    with pytest.raises(ImportRejected) as caught:
        import_file(db, path, project_name="pandalm", schema=TEMPLATES["pairwise"], actor=OPERATOR)
    assert len(caught.value.batch.problems) == 25
    assert {p.field for p in caught.value.batch.problems} == {"judge.gpt-3.5-turbo.preference"}


def test_pandalm_skip_imports_the_974_clean_items(db, tmp_path: Path, shared_data: Path) -> None:
    path = write_jsonl(pandalm_records(shared_data / "PandaLM"), tmp_path / "pandalm.jsonl")

    batch, summary = import_file(db, path, project_name="pandalm", schema=TEMPLATES["pairwise"],
                                 on_error="skip", actor=OPERATOR)

    assert (summary.total_records, summary.added, summary.skipped) == (999, 974, 25)
    assert (summary.verdicts, summary.human_labels) == (2 * 974, 3 * 974)
    items, verdicts, humans = read_back(db, "pandalm")
    skipped = {str(p.row) for p in batch.problems}  # id == idx == 0-based record index
    assert len(items) == 974
    assert set(items["id"]).isdisjoint(skipped)
    assert verdicts.groupby("judge").size().to_dict() == {GPT_JUDGE: 974, PANDALM_JUDGE: 974}
    assert len(humans) == 3 * 974


def test_pandalm_with_garbage_as_no_verdict(db, tmp_path: Path, shared_data: Path, pandalm_raw) -> None:
    path = write_jsonl(pandalm_records(shared_data / "PandaLM", garbage="empty"),
                       tmp_path / "pandalm.jsonl")

    batch, summary = import_file(db, path, project_name="pandalm", schema=TEMPLATES["pairwise"],
                                 actor=OPERATOR)

    assert batch.problems == []
    assert (summary.added, summary.skipped, summary.verdicts, summary.human_labels) == (
        999, 0, 974 + 999, 3 * 999)
    assert summary.judges == (GPT_JUDGE, PANDALM_JUDGE)
    assert summary.annotators == PANDALM_ANNOTATORS
    items, verdicts, humans = read_back(db, "pandalm")
    assert len(items) == 999
    assert verdicts.groupby("judge").size().to_dict() == {GPT_JUDGE: 974, PANDALM_JUDGE: 999}
    assert humans.groupby("annotator").size().to_dict() == dict.fromkeys(PANDALM_ANNOTATORS, 999)

    # Label counts: GPT from the README (460/476/38), PandaLM-7B counted in the raw file.
    by_judge = {judge: frame["label"].value_counts().to_dict()
                for judge, frame in verdicts.groupby("judge")}
    assert by_judge[GPT_JUDGE] == {"A": 460, "B": 476, "tie": 38}
    raw_pandalm = Counter(r["pandalm_result"] for r in pandalm_raw["pandalm-7b-testset-v1"])
    assert by_judge[PANDALM_JUDGE] == {"tie": raw_pandalm[0], "A": raw_pandalm[1], "B": raw_pandalm[2]}

    # Human majority labels (README, published): 0/1/2 = 105/422/472.
    wide = humans.pivot(index="id", columns="annotator", values="label")
    majority = wide.mode(axis=1)[0]
    assert wide.mode(axis=1).shape[1] == 1  # three raters, three labels: never a 1-1-1 tie here
    assert majority.value_counts().to_dict() == {"tie": 105, "A": 422, "B": 472}

    # Cohen's kappa between annotators (README, published): 0.8520 / 0.8789 / 0.8617.
    def kappa(a: str, b: str) -> float:
        return round(cohen_kappa_score(wide[a], wide[b]), 4)

    assert (kappa("annotator1", "annotator2"), kappa("annotator1", "annotator3"),
            kappa("annotator2", "annotator3")) == (0.8520, 0.8789, 0.8617)

    # Texts and rationales as in the raw files.
    first = items.set_index("id").loc["0"]
    raw0 = pandalm_raw["testset-v1"][0]
    assert first["fields"] == {"prompt": f"{raw0['instruction']}\n\n{raw0['input']}",
                               "response_a": raw0["response1"], "response_b": raw0["response2"]}
    assert (first["model"], first["group"]) == (raw0["cmp_key"], raw0["motivation_app"])
    rationale = verdicts[(verdicts["id"] == "0") & (verdicts["judge"] == PANDALM_JUDGE)]["rationale"]
    assert rationale.item() == pandalm_raw["pandalm-7b-testset-v1"][0]["pandalm_reason"]


def test_pandalm_empty_responses_import_as_empty_text(db, tmp_path: Path, shared_data: Path) -> None:
    """54 PandaLM responses are empty: a model that answered nothing is still compared."""
    records = pandalm_records(shared_data / "PandaLM", garbage="empty")
    path = write_jsonl(records, tmp_path / "pandalm.jsonl")

    import_file(db, path, project_name="pandalm", schema=TEMPLATES["pairwise"], actor=OPERATOR)

    with db.read() as session:
        project_id = get_project(session=session, name="pandalm").id
        items = items_frame(session=session, project_id=project_id)
    empty = Counter(side for fields in items["fields"] for side in ("response_a", "response_b")
                    if fields[side] == "")
    assert empty == {"response_a": 29, "response_b": 25}


# --- TriviaQA "Judging the Judges" V1 ------------------------------------------------------

@pytest.fixture(scope="module")
def triviaqa_raw(shared_data: Path) -> list[dict[str, str]]:
    with (shared_data / TRIVIAQA_V1).open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


def percent_agreement(verdicts: pd.DataFrame, humans: pd.DataFrame, judge: str) -> tuple[float, int]:
    pairs = verdicts.loc[verdicts["judge"] == judge, ["id", "label"]].merge(
        humans[["id", "label"]], on="id", suffixes=("_judge", "_human"))
    agree = (pairs["label_judge"] == pairs["label_human"]).mean()
    return round(100 * agree, 2), len(pairs)


def test_triviaqa_v1_via_cli(db, tmp_path: Path, capsys, shared_data: Path, triviaqa_raw) -> None:
    path = write_csv(triviaqa_v1_records(shared_data), tmp_path / "triviaqa_v1.csv")
    expected_verdicts = sum(row[judge] != "" for row in triviaqa_raw for judge in TRIVIAQA_JUDGES)
    assert expected_verdicts == 10 * 3595 + 3465  # Llama-70B has 135 empty cells, the rest 5

    code = cli.main(["--database", db.url, "import", str(path), "--project", "triviaqa",
                     "--task", "correctness"])

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"triviaqa: 3600 added, 0 updated, 0 unchanged, 0 skipped; {expected_verdicts} verdicts "
        "written (11 judges), 3600 human labels written (1 annotator)"]
    items, verdicts, humans = read_back(db, "triviaqa")
    assert len(items) == 3600
    assert sorted(verdicts["judge"].unique()) == sorted(TRIVIAQA_JUDGES)
    assert len(verdicts) == expected_verdicts
    assert humans["annotator"].unique().tolist() == [TRIVIAQA_HUMAN]
    assert humans["label"].value_counts().to_dict() == {"correct": 2507, "incorrect": 1093}
    assert items["model"].value_counts().to_dict() == Counter(row["model"] for row in triviaqa_raw)
    # Items carry the question and the newline-separated accepted answers, and no response.
    by_id = items.set_index("id")
    for row_number in (0, 1234, 3599):
        raw = triviaqa_raw[row_number]
        assert by_id.loc[str(row_number), "fields"] == {"prompt": raw["question"],
                                                        "reference": raw["references"]}
        assert by_id.loc[str(row_number), "model"] == raw["model"]
    assert "\n" in by_id.loc["0", "fields"]["reference"]

    # README, independently computed on V1 pairs where both labels are present.
    assert percent_agreement(verdicts, humans, "GPT-4") == (91.15, 3595)
    assert percent_agreement(verdicts, humans, "Llama3-70B") == (92.66, 3595)
    assert percent_agreement(verdicts, humans, "Contains") == (84.78, 3595)
    assert percent_agreement(verdicts, humans, "EM") == (70.88, 3595)
    gpt4 = verdicts.loc[verdicts["judge"] == "GPT-4", ["id", "label"]].merge(humans, on="id")
    assert round(cohen_kappa_score(gpt4["label_x"], gpt4["label_y"]), 4) == 0.7876

    # Importing the same file again changes nothing.
    assert cli.main(["--database", db.url, "import", str(path), "--project", "triviaqa"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "triviaqa: 0 added, 0 updated, 3600 unchanged, 0 skipped; 0 verdicts written (11 judges), "
        "0 human labels written (1 annotator)"]
