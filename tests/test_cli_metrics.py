"""``python cli.py metrics`` and the label reader behind it (storage.labels), on SQLite and
PostgreSQL: the JSON contract of issue 4, the readable table, every user error, and that the
matrix read from the database is the one the import wrote (checked against the independent
read-back frames of storage.readback and scikit-learn)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from sqlalchemy import text

import cli
from core.metrics import MetricsInputError, pair_metrics_for
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.demo import load_demo
from storage.importer import import_file
from storage.labels import load_ratings
from storage.projects import get_project
from storage.readback import human_labels_frame, verdicts_frame
from tests.converters import write_jsonl

CONTRACT = ["project", "dimension", "scale", "binarized_at", "raters", "pairs", "groups"]
PAIR_KEYS = {"a", "b", "n", "ci95", "undefined"}
GROUP_KEYS = {"name", "raters", "krippendorff_alpha", "alpha_level", "n", "ci95", "undefined"}


def run(db, capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--database", db.url, "metrics", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def metrics_json(db, capsys, *argv: str) -> dict[str, Any]:
    code, out, err = run(db, capsys, *argv, "--json")
    assert (code, err) == (0, ""), err
    return json.loads(out)


@pytest.fixture
def demo_db(db):
    load_demo(db, actor=OPERATOR)
    return db


@pytest.mark.parametrize(("project", "dimension", "scale"), [
    ("correctness", "correct", "nominal"), ("pairwise", "preference", "nominal"),
    ("exam_question", "difficulty", "ordinal"), ("thematic_alignment", "alignment", "ordinal"),
])
def test_json_contract(demo_db, capsys, project, dimension, scale):
    document = metrics_json(demo_db, capsys, "--project", project, "--dimension", dimension,
                            "--bootstrap", "100", "--seed", "3")
    assert list(document)[:len(CONTRACT)] == CONTRACT
    assert (document["project"], document["dimension"], document["scale"],
            document["binarized_at"]) == (project, dimension, scale, None)
    metrics = {d.name for d in pair_metrics_for(scale)}
    assert len(document["pairs"]) == len(document["raters"]) * (len(document["raters"]) - 1) // 2
    for entry in document["pairs"]:
        assert set(entry) == PAIR_KEYS | metrics | {"confusion_matrix"}
        assert entry["a"] in document["raters"] and entry["b"] in document["raters"]
        for metric in metrics:
            assert (entry[metric] is None) == (metric in entry["undefined"])
        assert set(entry["ci95"]) <= metrics
    for entry in document["groups"]:
        assert set(entry) == GROUP_KEYS | {"fleiss_kappa"}
        assert entry["alpha_level"] == scale
    assert document["raters"][:3] == sorted(document["raters"][:3])  # humans first, by name
    assert "human:consensus" in document["raters"]


def test_json_values_match_an_independent_readback(demo_db, capsys):
    document = metrics_json(demo_db, capsys, "--project", "correctness", "--bootstrap", "0")
    with demo_db.read() as session:
        project_id = get_project(session=session, name="correctness").id
        humans = human_labels_frame(session=session, project_id=project_id)
        verdicts = verdicts_frame(session=session, project_id=project_id)
    human = humans[humans["annotator"] == "maria"][["id", "label"]]
    judge = verdicts[(verdicts["judge"] == "gpt-4o") & (verdicts["sample_index"] == 0)]
    merged = human.merge(judge[["id", "label"]], on="id", suffixes=("_h", "_j"))
    entry = next(p for p in document["pairs"]
                 if (p["a"], p["b"]) == ("human:maria", "judge:gpt-4o"))
    assert entry["n"] == len(merged)
    assert entry["cohen_kappa"] == pytest.approx(cohen_kappa_score(merged["label_h"],
                                                                   merged["label_j"]))
    assert entry["percent_agreement"] == pytest.approx(np.mean(merged["label_h"] == merged["label_j"]))


def test_readable_table(demo_db, capsys):
    code, out, err = run(demo_db, capsys, "--project", "exam_question", "--dimension", "relevance",
                         "--bootstrap", "50", "--jury", "both=gpt-4o,llama-3.1-8b")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "exam_question · dimension relevance (ordinal)"
    assert lines[1].startswith("human:consensus = majority of the humans: ")
    assert lines[2].startswith("jury:both = median of gpt-4o, llama-3.1-8b: ")
    header = next(line for line in lines if line.startswith("a "))
    assert header.split()[:6] == ["a", "b", "n", "agree", "kappa", "pi"]
    assert any(line.startswith("human:consensus") and "jury:both" in line for line in lines)
    assert "groups" in lines and any(line.startswith("humans+judges") for line in lines)


def test_binarize_and_jury_options(demo_db, capsys):
    document = metrics_json(demo_db, capsys, "--project", "exam_question", "--dimension",
                            "difficulty", "--binarize-at", "4", "--bootstrap", "0",
                            "--jury", "panel=gpt-4o,llama-3.1-8b")
    assert (document["scale"], document["binarized_at"]) == ("nominal", "4")
    assert document["raters"][-1] == "jury:panel"
    assert set(document["pairs"][0]) == PAIR_KEYS | {d.name for d in pair_metrics_for("nominal")} | {
        "confusion_matrix"}
    assert document["pairs"][0]["confusion_matrix"]["labels"] == [">=4", "<4"]


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["--project", "nope"], 1, "error: no project named 'nope'"),
    (["--project", "correctness", "--dimension", "tone"], 1,
     "error: project 'correctness' has no dimension 'tone' (dimensions: correct)"),
    (["--project", "correctness", "--binarize-at", "correct"], 1,
     "error: cannot binarise dimension 'correct': it is nominal"),
    (["--project", "exam_question", "--binarize-at", "9"], 1, "error: binarise at '9': unknown label"),
    (["--project", "correctness", "--bootstrap", "-5"], 1,
     "error: bootstrap resamples must be 0 (no CI) or more, got -5"),
    (["--project", "correctness", "--jury", "j=gpt-4o,nobody"], 1,
     "error: unknown judge 'nobody' in jury (judges: gpt-4o, llama-3.1-70b, prometheus-2-7b)"),
    (["--project", "correctness", "--jury", "j=gpt-4o,llama-3.1-70b", "--jury",
      "j=gpt-4o,prometheus-2-7b"], 1, "error: --jury: each jury needs its own name"),
    (["--project", "correctness", "--jury", "gpt-4o"], 2, "expected NAME=judge1,judge2,..."),
])
def test_user_errors(demo_db, capsys, argv, code, message):
    returned, out, err = run(demo_db, capsys, *argv)
    assert returned == code
    assert out == ""
    assert message in err


# --- storage.labels ----------------------------------------------------------------------------

RECORDS = [
    {"id": "q1", "prompt": "?", "model": "m1", "group": "g",
     "judges": {"zeta": [{"correct": "correct"}, {"correct": "incorrect"}],
                "alpha": {"correct": "incorrect"}},
     "humans": {"zoe": {"correct": "correct"}, "adam": {"correct": "incorrect"}}},
    {"id": "q2", "prompt": "?", "model": "m2",
     "judges": {"zeta": [{"correct": "incorrect"}, {"correct": "correct"}]},
     "humans": {"zoe": {"correct": "incorrect"}}},
    {"id": "q3", "prompt": "?"},
]


@pytest.fixture
def small_project(db, tmp_path: Path):
    import_file(db, write_jsonl(RECORDS, tmp_path / "small.jsonl"), project_name="small",
                schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.read() as session:
        project_id = get_project(session=session, name="small").id
    return db, project_id


def read(db, project_id: int, **options):
    with db.read() as session:
        return load_ratings(session=session, project_id=project_id,
                            dimension=TEMPLATES["correctness"].dimension("correct"), **options)


def test_load_ratings_reads_the_samples_majority_or_one_sample_and_every_item(small_project):
    db, project_id = small_project
    ratings = read(db, project_id, sample_index=0)
    assert ratings.raters == ("human:adam", "human:zoe", "judge:alpha", "judge:zeta")
    assert list(ratings.item_ids) == ["q1", "q2", "q3"]
    assert ratings.models.values() == ["m1", "m2", None]
    assert ratings.groups.values() == ["g", None, None]
    nan = np.nan
    assert np.array_equal(ratings.values, [[1, 0, 1, 0], [nan, 1, nan, 1], [nan] * 4],
                          equal_nan=True)
    # By default zeta's two samples per item are a tie on each item: no label, not unparseable.
    majority = read(db, project_id)
    assert np.array_equal(majority.column("judge:zeta"), [nan] * 3, equal_nan=True)
    assert not majority.unparseable.any()
    second = read(db, project_id, sample_index=1)
    assert second.raters == ("human:adam", "human:zoe", "judge:zeta")
    assert np.array_equal(second.column("judge:zeta"), [1, 0, nan], equal_nan=True)


def test_load_ratings_of_an_empty_dimension_keeps_the_items(db, tmp_path: Path):
    import_file(db, write_jsonl([{"id": "q1", "prompt": "?"}], tmp_path / "bare.jsonl"),
                project_name="bare", schema=TEMPLATES["correctness"], actor=OPERATOR)
    with db.read() as session:
        project_id = get_project(session=session, name="bare").id
    ratings = read(db, project_id)
    assert ratings.raters == () and ratings.values.shape == (1, 0)


def test_load_ratings_names_a_stored_label_off_the_scale(small_project):
    db, project_id = small_project
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE verdict SET label = 'maybe' WHERE judge_id IN "
                                "(SELECT id FROM judge WHERE name = 'alpha')"))
    with pytest.raises(MetricsInputError, match="judge alpha: stored label 'maybe' is not on the "
                                                "scale of dimension 'correct'"):
        read(db, project_id)
