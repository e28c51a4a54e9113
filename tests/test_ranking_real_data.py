"""Batch ranking on real ratings (HANNA, ../shared/data/hanna-benchmark-asg, MIT), end to end
through import, the database (SQLite and PostgreSQL) and ``python cli.py metrics --json``.

HANNA rates 96 writing prompts' stories from 11 generators on six 1–5 criteria by three human
rating slots (``Human 1..3``) and by LLMs. Per writing prompt the four stories of
:data:`GENERATORS` are one item's responses, in that order. Each human slot's ranking orders
them by the sum of its six criterion scores, highest first; ChatGPT's (prompt variant 1,
``ChatGPT <criterion> 1``) the same way. Ties in the sum go to the generator listed first (the
earlier response), a fixed rule: the oracle gets it from ``scipy.stats.rankdata(method=
"ordinal")``, which ranks tied values in order of appearance.

Every expected number is recomputed here from the CSV with scipy (Kendall τ, Spearman ρ),
rapidfuzz (Levenshtein) and this file's own Borda count, never from Docket's metrics.
"""

from __future__ import annotations

import csv
import json
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz.distance import Levenshtein
from scipy.stats import kendalltau, rankdata, spearmanr

import cli
from storage.authz import OPERATOR
from storage.importer import import_file
from tests.ranking_data import METRICS, RANKING, write_jsonl

pytestmark = pytest.mark.shared_data

HANNA_FILE = Path("hanna-benchmark-asg") / "hanna_metric_scores_llm.csv"
GENERATORS = ("Human", "GPT-2", "HINT", "TD-VAE")
CRITERIA = ("RE", "CH", "EM", "SU", "EG", "CX")
HUMANS = ("Human 1", "Human 2", "Human 3")
JUDGE = "ChatGPT"
PROMPTS = 96


def summed_scores(path: Path) -> dict[str, np.ndarray]:
    """Rater -> prompts x generators matrix of the summed six criterion scores."""
    with path.open(encoding="utf-8", newline="") as source:
        rows = {row["Model"]: row for row in csv.DictReader(source)}
    columns = {rater: [f"{rater} {c}" for c in CRITERIA] for rater in HUMANS}
    columns[JUDGE] = [f"{JUDGE} {c} 1" for c in CRITERIA]
    sums = {}
    for rater, names in columns.items():
        per_generator = []
        for generator in GENERATORS:
            cells = [json.loads(rows[generator][name]) for name in names]
            assert all(len(cell) == PROMPTS for cell in cells), (generator, rater)
            per_generator.append(np.sum(cells, axis=0))
        sums[rater] = np.column_stack(per_generator)
    return sums


def ranks_of(scores: np.ndarray) -> np.ndarray:
    """Each response's rank (1 = highest sum); a tie goes to the earlier response."""
    return rankdata(-scores, method="ordinal").astype(int)


def order_of(ranks: np.ndarray) -> list[int]:
    """Response numbers from best to worst."""
    return [int(r) + 1 for r in np.argsort(ranks)]


def borda(orders: list[list[int]]) -> list[int]:
    """Borda order: n − rank points from each order; ties by first places, then the earlier
    response."""
    n = len(orders[0])
    points = {r: sum(n - 1 - o.index(r) for o in orders) for r in range(1, n + 1)}
    firsts = {r: sum(o[0] == r for o in orders) for r in range(1, n + 1)}
    return sorted(points, key=lambda r: (-points[r], -firsts[r], r))


def expected_pairs(sums: dict[str, np.ndarray]) -> dict[tuple[str, str], dict[str, float]]:
    """Every rater pair's four means over the 96 prompts (scipy, rapidfuzz)."""
    orders = {f"human:{h}": [order_of(ranks_of(sums[h][p])) for p in range(PROMPTS)]
              for h in HUMANS}
    orders["human:consensus"] = [borda([orders[f"human:{h}"][p] for h in HUMANS])
                                 for p in range(PROMPTS)]
    orders[f"judge:{JUDGE}"] = [order_of(ranks_of(sums[JUDGE][p])) for p in range(PROMPTS)]
    result = {}
    for a, b in combinations(orders, 2):
        per_prompt = []
        for x, y in zip(orders[a], orders[b], strict=True):
            rx = [x.index(r) + 1 for r in range(1, 5)]
            ry = [y.index(r) + 1 for r in range(1, 5)]
            per_prompt.append((kendalltau(rx, ry).statistic, spearmanr(rx, ry).statistic,
                               float(x[0] == y[0]), Levenshtein.distance(x, y) / 4))
        result[(a, b)] = dict(zip(METRICS, np.mean(per_prompt, axis=0).tolist(), strict=True))
    return result


def hanna_ranking_records(sums: dict[str, np.ndarray]) -> list[dict]:
    """One batch_ranking record per writing prompt, orders given as the CSV spelling."""
    return [{"id": f"prompt-{p}", "prompt": f"HANNA writing prompt {p}",
             "responses": [f"story by {g}" for g in GENERATORS],
             "humans": {h: {"ranking": ",".join(map(str, order_of(ranks_of(sums[h][p]))))}
                        for h in HUMANS},
             "judges": {JUDGE: {"ranking": order_of(ranks_of(sums[JUDGE][p]))}}}
            for p in range(PROMPTS)]


def test_hanna_rankings_equal_an_independent_scipy_computation(db, capsys, tmp_path,
                                                               shared_data: Path):
    sums = summed_scores(shared_data / HANNA_FILE)
    path = write_jsonl(hanna_ranking_records(sums), tmp_path / "hanna_ranking.jsonl")
    import_file(db, path, project_name="hanna_ranking", schema=RANKING, actor=OPERATOR)

    code = cli.main(["--database", db.url, "metrics", "--project", "hanna_ranking", "--json",
                     "--bootstrap", "200"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, ""), err
    document = json.loads(out)
    expected = expected_pairs(sums)
    assert document["consensus"] == {"method": "borda", "items": PROMPTS, "ties": 0}
    assert [(p["a"], p["b"]) for p in document["pairs"]] == list(expected)
    for pair in document["pairs"]:
        assert pair["n"] == PROMPTS
        for metric in METRICS:
            value = expected[(pair["a"], pair["b"])][metric]
            assert pair[metric] == pytest.approx(value, abs=1e-12), (pair["a"], pair["b"], metric)
            low, high = pair["ci95"][metric]
            assert low <= pair[metric] <= high
    # The data's story: the human slots agree moderately (τ 0.35–0.44); ChatGPT agrees more
    # with their Borda consensus (0.55), less noisy than any one slot.
    humans = [expected[(f"human:{a}", f"human:{b}")]["kendall_tau_b"]
              for a, b in combinations(HUMANS, 2)]
    assert max(humans) < expected[("human:consensus", f"judge:{JUDGE}")]["kendall_tau_b"]
