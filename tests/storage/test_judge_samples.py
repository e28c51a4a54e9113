"""A judge's several samples per item: the metrics use the per-item majority (mean for an
interval scale), a tie gives no label, an item none of whose samples parsed is unparseable;
the samples come back for self-consistency (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import krippendorff
import numpy as np
import pytest

from core.metrics import compare_dimension
from core.schema import Dimension, TaskSchema
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.labels import load_ratings, load_ratings_and_samples
from storage.projects import get_project
from tests.converters import write_jsonl

NAN = np.nan
C, I = "correct", "incorrect"  # noqa: E741 (short labels keep the table readable)


def sample(*labels: str | None) -> list[dict[str, str | None]]:
    return [{"correct": label} for label in labels]


# judge "multi": 3 samples (q4: 4 samples, 2-2 tie; q5: all unparseable; q6: one of three
# unparseable); judge "single": one sample each.
RECORDS = [
    {"id": "q1", "prompt": "p", "response": "r", "humans": {"ann": {"correct": C}},
     "judges": {"multi": sample(C, C, I), "single": sample(C)}},
    {"id": "q2", "prompt": "p", "response": "r", "humans": {"ann": {"correct": I}},
     "judges": {"multi": sample(I, I, I), "single": sample(I)}},
    {"id": "q3", "prompt": "p", "response": "r", "humans": {"ann": {"correct": I}},
     "judges": {"multi": sample(C, I, I), "single": sample(C)}},
    {"id": "q4", "prompt": "p", "response": "r", "humans": {"ann": {"correct": C}},
     "judges": {"multi": sample(C, I, C, I), "single": sample(I)}},
    {"id": "q5", "prompt": "p", "response": "r", "humans": {"ann": {"correct": C}},
     "judges": {"multi": sample(None, None, None), "single": sample(C)}},
    {"id": "q6", "prompt": "p", "response": "r", "humans": {"ann": {"correct": C}},
     "judges": {"multi": sample(None, C, I), "single": sample(C)}},
    {"id": "q7", "prompt": "p", "response": "r", "humans": {"ann": {"correct": I}},
     "judges": {"single": sample(I)}},
]


def load(db, records, tmp_path: Path, schema=TEMPLATES["correctness"], dimension="correct"):
    for record in records:  # an unparseable sample needs its raw output
        for samples in record["judges"].values():
            for entry in samples:
                if entry[dimension] is None:
                    entry["raw"] = "no idea"
    path = write_jsonl(records, tmp_path / "s.jsonl")
    batch, _ = import_file(db, path, project_name="p", schema=schema, actor=OPERATOR)
    assert batch.problems == []
    with db.read() as session:
        project = get_project(session=session, name="p")
        return load_ratings_and_samples(session=session, project_id=project.id,
                                        dimension=project.schema.dimension(dimension))


def test_majority_of_the_samples_ties_and_unparseable_items(db, tmp_path: Path) -> None:
    ratings, samples = load(db, RECORDS, tmp_path)

    assert ratings.raters == ("human:ann", "judge:multi", "judge:single")
    # codes: correct 0, incorrect 1
    assert np.array_equal(ratings.column("judge:multi"), [0, 1, 1, NAN, NAN, NAN, NAN],
                          equal_nan=True)
    assert np.array_equal(ratings.column("judge:single"), [0, 1, 0, 1, 0, 0, 1])
    # q5: no sample parsed -> unparseable; q4 is a tie and q6 is 1-1 among the parsed: no
    # label, not unparseable; q7: no verdict at all.
    assert ratings.unparseable[:, 1].tolist() == [False, False, False, False, True, False, False]
    assert list(samples) == ["judge:multi"]
    expected = np.array([[0, 0, 1, NAN], [1, 1, 1, NAN], [0, 1, 1, NAN], [0, 1, 0, 1],
                         [NAN, NAN, NAN, NAN], [NAN, 0, 1, NAN], [NAN] * 4])
    assert np.array_equal(samples["judge:multi"], expected, equal_nan=True)
    document = compare_dimension(ratings, n_resamples=0, samples=samples).to_dict()
    pair = next(p for p in document["pairs"] if p["b"] == "judge:multi" and p["a"] == "human:ann")
    # The majority agrees with the human on q1-q3; sample 0 alone said "correct" on q3.
    assert (pair["n"], pair["percent_agreement"]) == (3, 1.0)
    entry, = document["self_consistency"]
    assert (entry["rater"], entry["samples"], entry["items"]) == ("judge:multi", 4, 5)
    # Independent: the krippendorff package on samples x items.
    assert entry["krippendorff_alpha"]["value"] == pytest.approx(krippendorff.alpha(
        expected.T, level_of_measurement="nominal", value_domain=[0, 1]))


def test_one_sample_only_when_asked(db, tmp_path: Path) -> None:
    load(db, RECORDS, tmp_path)
    with db.read() as session:
        project = get_project(session=session, name="p")
        first = load_ratings(session=session, project_id=project.id,
                             dimension=project.schema.dimension("correct"), sample_index=0)
    assert np.array_equal(first.column("judge:multi"), [0, 1, 0, 0, NAN, NAN, NAN],
                          equal_nan=True)
    assert first.unparseable[:, 1].tolist() == [False] * 4 + [True, True, False]


def test_interval_samples_are_averaged_like_the_human_consensus(db, tmp_path: Path) -> None:
    schema = TaskSchema(name="scores", title="Scores", description="",
                        fields=TEMPLATES["correctness"].fields[:2],
                        dimensions=(Dimension("score", "interval", "Score", minimum=0,
                                              maximum=10),))
    records = [{"id": f"q{i}", "prompt": "p", "response": "r",
                "humans": {"ann": {"score": str(i)}},
                "judges": {"j": [{"score": str(i)}, {"score": str(i + 1)}, {"score": str(i + 3)}]}}
               for i in range(4)]
    ratings, samples = load(db, records, tmp_path, schema=schema, dimension="score")
    assert np.allclose(ratings.column("judge:j"), [i + 4 / 3 for i in range(4)])
    entry, = compare_dimension(ratings, samples=samples).to_dict()["self_consistency"]
    values = np.array([[i, i + 1, i + 3] for i in range(4)], dtype=float)
    assert entry["krippendorff_alpha"]["value"] == pytest.approx(
        krippendorff.alpha(values.T, level_of_measurement="interval"))
    assert "fleiss_kappa" not in entry
