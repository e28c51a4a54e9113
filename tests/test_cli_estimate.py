"""``python cli.py estimate`` on SQLite and PostgreSQL: the JSON document of issue 15, the
refusal of labels without a known design, and on real data (TriviaQA V1, read in place)
each model's PPI++ interval equal to ``ppi_py``'s on the same arrays read from the CSV."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import cli
from core.estimate.ppi import ppi_mean
from tests.converters import TRIVIAQA_V1, triviaqa_v1_records, write_jsonl

ESTIMATE_KEYS = ["slice", "n_labelled", "n_total", "classical", "ppi", "effective_labels",
                 "labels_needed"]


def run(db, capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--database", db.url, *argv])
    out, err = capsys.readouterr()
    return code, out, err


def small_file(tmp_path, humans_every: int = 3):
    records = [{"id": f"q{i}", "prompt": f"Q{i}?", "response": f"A{i}", "model": f"m{i % 2}",
                "judges": {"gpt": {"correct": "correct" if i % 4 else "incorrect"}},
                **({"humans": {"ann": {"correct": "correct" if i % 5 else "incorrect"}}}
                   if i % humans_every == 0 else {})} for i in range(60)]
    return str(write_jsonl(records, tmp_path / "small.jsonl"))


def test_estimate_refuses_labels_without_a_known_design(db, capsys, tmp_path):
    path = small_file(tmp_path)
    assert run(db, capsys, "import", path, "--project", "p", "--task", "correctness")[0] == 0
    code, out, err = run(db, capsys, "estimate", "--project", "p", "--judge", "gpt")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and err.startswith("error: No label on dimension 'correct'")
    assert "none of its 20 labelled items was drawn with a known probability" in err


def test_estimate_json_document_and_text(db, capsys, tmp_path):
    path = small_file(tmp_path)
    assert run(db, capsys, "import", path, "--project", "p", "--task", "correctness",
               "--sampled", "uniform")[0] == 0
    code, out, err = run(db, capsys, "estimate", "--project", "p", "--judge", "gpt", "--json",
                         "--by", "model", "--target-halfwidth", "0.1", "--bootstrap", "200")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert list(document) == ["project", "dimension", "judge", "target", "design", "estimates",
                              "judges"]
    assert (document["project"], document["dimension"], document["judge"], document["target"]) \
        == ("p", "correct", "gpt", 0.1)
    assert document["design"]["kind"] == "uniform" and document["design"]["source"] == "import"
    assert [e["slice"] for e in document["estimates"]] == ["all", "m0", "m1"]
    for entry in document["estimates"]:
        assert list(entry) == ESTIMATE_KEYS
        assert list(entry["classical"]) == ["estimate", "ci95"]
        assert list(entry["ppi"]) == ["estimate", "ci95", "lambda"]
    assert document["estimates"][0]["n_labelled"] == 20
    assert document["estimates"][0]["n_total"] == 60
    [judge] = document["judges"]
    assert list(judge) == ["rater", "kappa", "ci95_halfwidth", "labels_needed"]
    code, out, err = run(db, capsys, "estimate", "--project", "p", "--judge", "gpt")
    assert code == 0 and "PPI++" in out and "95 of 100" in out
    code, _, err = run(db, capsys, "estimate", "--project", "p", "--judge", "nobody")
    assert code == 1 and "unknown judge 'nobody'" in err


@pytest.mark.shared_data
def test_triviaqa_per_model_estimates_equal_ppi_py(db, capsys, tmp_path, shared_data):
    ppi_py = pytest.importorskip("ppi_py")
    rng = np.random.default_rng(15)
    records = triviaqa_v1_records(shared_data)
    models = sorted({r["model"] for r in records})
    sampled = set()
    for model in models:
        rows = [i for i, r in enumerate(records) if r["model"] == model]
        sampled.update(rng.choice(rows, size=60, replace=False).tolist())
    for i, record in enumerate(records):
        if i not in sampled:
            del record["humans"]
    path = str(write_jsonl(records, tmp_path / "tq.jsonl"))
    assert run(db, capsys, "import", path, "--project", "tq", "--task", "correctness",
               "--sampled", "uniform")[0] == 0
    code, out, err = run(db, capsys, "estimate", "--project", "tq", "--judge", "GPT-4", "--by",
                         "model", "--json", "--bootstrap", "0")
    assert (code, err) == (0, "")
    estimates = {e["slice"]: e for e in json.loads(out)["estimates"]}

    # The oracle reads the CSV itself; an empty GPT-4 cell gets GPT-4's mean over the file.
    with (shared_data / TRIVIAQA_V1).open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    gpt = np.array([np.nan if r["GPT-4"] == "" else float(r["GPT-4"] == "True") for r in rows])
    gpt = np.where(np.isnan(gpt), np.nanmean(gpt), gpt)
    human = np.array([float(r["HumanJudgement"] == "True") for r in rows])
    widths = []
    for model in models:
        rows_of = np.array([r["model"] == model for r in rows])
        labelled = rows_of & np.isin(np.arange(len(rows)), sorted(sampled))
        low, high = ppi_py.ppi_mean_ci(human[labelled], gpt[labelled], gpt[rows_of & ~labelled],
                                       alpha=0.05)
        entry = estimates[model]
        assert entry["n_labelled"] == 60 and entry["n_total"] == 400
        # The small-sample interval Docket reports (core.estimate.ppi, checked by hand there):
        # centred on ppi_py's estimate, holding its textbook interval.
        reported = ppi_mean(human[labelled], gpt[labelled], gpt[rows_of & ~labelled])
        assert entry["ppi"]["ci95"] == pytest.approx(list(reported.ci), abs=1e-9)
        assert entry["ppi"]["estimate"] == pytest.approx((low[0] + high[0]) / 2, abs=1e-9)
        assert reported.ci[0] <= low[0] and reported.ci[1] >= high[0]
        classical = entry["classical"]["ci95"]
        widths.append((entry["ppi"]["ci95"][1] - entry["ppi"]["ci95"][0])
                      / (classical[1] - classical[0]))
    # The observation: GPT-4 makes the interval narrower for most models, and PPI++
    # never meaningfully wider.
    assert max(widths) <= 1.02 and sum(w < 0.9 for w in widths) >= 6



def test_a_stored_jury_powers_the_estimate_by_name(db, capsys, tmp_path):
    """``--judge jury:NAME`` finds a jury stored with the project (``cli.py jury add``)."""
    records = [{"id": f"q{i}", "prompt": f"Q{i}?", "response": f"A{i}",
                "judges": {"gpt": {"correct": "correct" if i % 4 else "incorrect"},
                           "llama": {"correct": "correct" if i % 3 else "incorrect"},
                           "qwen": {"correct": "correct"}},
                **({"humans": {"ann": {"correct": "correct" if i % 5 else "incorrect"}}}
                   if i % 3 == 0 else {})} for i in range(60)]
    path = str(write_jsonl(records, tmp_path / "three.jsonl"))
    assert run(db, capsys, "import", path, "--project", "p", "--task", "correctness",
               "--sampled", "uniform")[0] == 0
    assert run(db, capsys, "jury", "add", "trio", "--project", "p", "--members",
               "gpt,llama,qwen", "--rule", "majority")[0] == 0
    code, out, err = run(db, capsys, "estimate", "--project", "p", "--judge", "jury:trio",
                         "--json", "--bootstrap", "100")
    assert (code, err) == (0, "")
    document = json.loads(out)
    assert document["judge"] == "jury:trio"
    assert "jury:trio" in [judge["rater"] for judge in document["judges"]]
