"""Win rates, Bradley–Terry strengths and τ-b: hand counts, scikit-learn and scipy as
independent references, and the PandaLM test set (humans vs GPT-3.5 and PandaLM-7B)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau
from sklearn.linear_model import LogisticRegression

from core.audit import AuditOptions, Bootstrap, ItemFacts, audit_dimension, bradley_terry, tau_b
from core.audit.bias import prepare
from core.audit.win_rates import win_matrix, win_rates
from core.metrics import ratings_from_columns
from core.templates import TEMPLATES

PREFERENCE = TEMPLATES["pairwise"].dimension("preference")
NO_BOOT = Bootstrap(0, np.random.default_rng(0))


def reference_bt(first, second, outcome, m):
    """BT log-strengths by logistic regression: P(first wins) = σ(θ_first − θ_second), a tie as
    half a win each way (two rows of weight 1/2), no penalty, centred."""
    x = np.zeros((2 * len(first), m))
    y, w = [], []
    for row, (i, j, o) in enumerate(zip(first, second, outcome, strict=True)):
        for copy, won in enumerate((1, 0)):
            x[2 * row + copy, i], x[2 * row + copy, j] = 1, -1
            y.append(won)
            w.append({0: float(won), 1: 1.0 - won, 2: 0.5}[o])
    model = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000)
    model.fit(x, y, sample_weight=w)
    theta = model.coef_[0]
    return theta - theta.mean()


def test_win_rates_by_hand_and_bt_against_logistic_regression():
    # Models x, y, z. Consensus = the one annotator.
    model_a = ["x", "x", "y", "y", "z", "x", "z", "y"]
    model_b = ["y", "y", "x", "z", "y", "z", "x", "x"]
    human = ["A", "A", "tie", "A", "B", "B", "A", "B"]
    judge = ["A", "B", "A", "A", "A", None, "tie", "A"]
    ratings = prepare(ratings_from_columns(PREFERENCE, [str(i) for i in range(8)],
                                           {"human:h": human, "judge:J": judge}))
    facts = ItemFacts.of(8, model_a=model_a, model_b=model_b)
    found = win_rates(ratings, ["human:consensus", "judge:J"], facts, NO_BOOT)
    assert found.models == ("x", "y", "z")
    rows = {r.model: r for r in found.by_rater["human:consensus"]}
    # Human: x beats y (i0, i1), x-y tie (i2), y beats z (i3, i4 as B), z beats x (i5 B, i6 A),
    # x beats y (i7 B): x 3.5 wins of 6, y 2.5 of 6, z 2 of 4.
    assert rows["x"].win_rate.value == pytest.approx(3.5 / 6)
    assert rows["x"].comparisons == 6
    assert rows["y"].win_rate.value == pytest.approx(2.5 / 6)
    assert rows["z"].win_rate.value == pytest.approx(2 / 4)
    codes = {"x": 0, "y": 1, "z": 2}
    outcome = {"A": 0, "B": 1, "tie": 2}
    expected = reference_bt([codes[m] for m in model_a], [codes[m] for m in model_b],
                            [outcome[h] for h in human], 3)
    assert [rows[m].bt_strength.value for m in "xyz"] == pytest.approx(expected, abs=1e-5)
    judged = [i for i, label in enumerate(judge) if label is not None]
    expected = reference_bt([codes[model_a[i]] for i in judged], [codes[model_b[i]] for i in judged],
                            [outcome[judge[i]] for i in judged], 3)
    judge_rows = {r.model: r for r in found.by_rater["judge:J"]}
    assert [judge_rows[m].bt_strength.value for m in "xyz"] == pytest.approx(expected, abs=1e-5)
    human_theta = [rows[m].bt_strength.value for m in "xyz"]
    tau = found.ranking[0]
    assert tau.rater == "judge:J"
    assert tau.kendall_tau_b.value == pytest.approx(kendalltau(human_theta, expected).statistic)


def test_bt_undefined_when_a_model_never_wins():
    wins = np.zeros((1, 3, 3))
    wins[0, 0, 1] = wins[0, 1, 0] = 1  # x and y split their games
    wins[0, 0, 2] = wins[0, 1, 2] = 2  # z lost everything
    assert np.isnan(bradley_terry(wins)).all()
    ratings = prepare(ratings_from_columns(PREFERENCE, ["a", "b"], {"human:h": ["A", "A"]}))
    found = win_rates(ratings, ["human:consensus"], ItemFacts.of(
        2, model_a=["x", "x"], model_b=["y", "y"]), NO_BOOT)
    y = found.by_rater["human:consensus"][1]
    assert y.win_rate.value == 0.0
    assert "never won" in y.bt_strength.undefined


@pytest.mark.slow
def test_bt_recovers_known_strengths_and_ci_covers_them():
    # Simulated round robins from known strengths: the 95 % interval of one model's strength
    # covers the truth in about 95 % of 150 data sets.
    rng = np.random.default_rng(5)
    truth = np.array([0.8, 0.2, -0.3, -0.7])
    pairs = [(i, j) for i in range(4) for j in range(4) if i < j]
    covered, runs = 0, 150
    for run in range(runs):
        first = np.repeat([p[0] for p in pairs], 40)
        second = np.repeat([p[1] for p in pairs], 40)
        won = rng.random(len(first)) < 1 / (1 + np.exp(truth[second] - truth[first]))
        labels = np.where(won, "A", "B")
        names = np.array(["m0", "m1", "m2", "m3"])
        ratings = prepare(ratings_from_columns(PREFERENCE, [str(i) for i in range(len(first))],
                                               {"human:h": list(labels)}))
        found = win_rates(ratings, ["human:consensus"], ItemFacts.of(
            len(first), model_a=list(names[first]), model_b=list(names[second])),
            Bootstrap(300, np.random.default_rng(run)))
        low, high = found.by_rater["human:consensus"][0].bt_strength.ci95
        covered += low <= truth[0] <= high
    assert 0.88 <= covered / runs <= 0.99


def test_tau_b_matches_scipy_with_ties():
    rng = np.random.default_rng(2)
    for _ in range(50):
        x = rng.integers(0, 4, size=7).astype(float)
        y = rng.integers(0, 4, size=7).astype(float)
        expected = kendalltau(x, y).statistic
        got = tau_b(x[None, :], y[None, :])[0]
        if np.isnan(expected):
            assert np.isnan(got)
        else:
            assert got == pytest.approx(expected)


def test_win_matrix_counts_ties_as_halves():
    wins = win_matrix(np.array([0, 0, 1]), np.array([1, 1, 0]), np.array([0, 2, 0]),
                      np.array([[2.0, 1.0, 1.0]]), 2)
    assert wins[0].tolist() == [[0.0, 2.5], [0.5 + 1.0, 0.0]]


def pandalm_frame(shared_data: Path) -> pd.DataFrame:
    """The PandaLM test set joined with both judges' verdicts on ``idx``; ``cmp_key`` split
    into the two compared models."""
    folder = shared_data / "PandaLM" / "data"
    items = pd.DataFrame(json.loads((folder / "testset-v1.json").read_text()))
    gpt = pd.DataFrame(json.loads((folder / "gpt-3.5-turbo-testset-v1.json").read_text()))
    panda = pd.DataFrame(json.loads((folder / "pandalm-7b-testset-v1.json").read_text()))
    frame = items.merge(gpt[["idx", "gpt_result"]], on="idx").merge(
        panda[["idx", "pandalm_result"]], on="idx")
    models = frame["cmp_key"].str.split("_", n=1, expand=True)
    frame["model_a"], frame["model_b"] = models[0], models[1]
    return frame


def test_pandalm_win_rates_humans_vs_judges(shared_data):
    frame = pandalm_frame(shared_data)
    label = {0: "tie", 1: "A", 2: "B", "1": "A", "2": "B", "Tie": "tie", "garbage": None}
    columns = {f"human:a{k}": [label[v] for v in frame[f"annotator{k}"]] for k in (1, 2, 3)}
    columns["judge:gpt-3.5"] = [label[v] for v in frame["gpt_result"]]
    columns["judge:pandalm-7b"] = [label[v] for v in frame["pandalm_result"]]
    ratings = ratings_from_columns(PREFERENCE, frame["idx"].astype(str).tolist(), columns)
    facts = ItemFacts.of(len(frame), model_a=frame["model_a"].tolist(),
                         model_b=frame["model_b"].tolist())
    report = audit_dimension(ratings, facts, AuditOptions(n_resamples=200, seed=1))
    # Independent count with pandas: majority of the three annotators (no majority: left out).
    votes = frame[["annotator1", "annotator2", "annotator3"]]
    majority = votes.mode(axis=1)
    decided = majority[1].isna() if 1 in majority else pd.Series(True, index=frame.index)
    expected = {}
    for rater, outcome in (("human:consensus", majority[0].where(decided)),
                           ("judge:gpt-3.5", frame["gpt_result"].map(
                               {"1": 1, "2": 2, "Tie": 0, "garbage": None})),
                           ("judge:pandalm-7b", frame["pandalm_result"])):
        wins = {}
        games = {}
        for a, b, o in zip(frame["model_a"], frame["model_b"], outcome, strict=True):
            if pd.isna(o):
                continue
            share = {1: 1.0, 2: 0.0, 0: 0.5}[int(o)]
            for model, won in ((a, share), (b, 1 - share)):
                wins[model] = wins.get(model, 0) + won
                games[model] = games.get(model, 0) + 1
        expected[rater] = {m: wins[m] / games[m] for m in wins}
    for rater, rates in expected.items():
        got = {r.model: r.win_rate.value for r in report.win_rates.by_rater[rater]}
        assert got == pytest.approx(rates)
    humans = {r.model: r for r in report.win_rates.by_rater["human:consensus"]}
    # llama-7b wins most often by the humans' majority; every model was compared ~400 times.
    assert max(humans, key=lambda m: humans[m].win_rate.value) == "llama-7b"
    assert all(r.comparisons > 350 for r in humans.values())
    taus = {r.rater: r.kendall_tau_b for r in report.win_rates.ranking}
    assert set(taus) == {"judge:gpt-3.5", "judge:pandalm-7b"}
    for figure in taus.values():
        assert -1 <= figure.ci95[0] <= figure.value <= figure.ci95[1] <= 1


def test_score_ranking_tau_matches_scipy_on_model_means():
    # Correctness by model: the consensus's accuracy per model and the judge's, then τ-b.
    correct = TEMPLATES["correctness"].dimension("correct")
    rng = np.random.default_rng(4)
    models = [f"m{i % 5}" for i in range(200)]
    human = ["correct" if rng.random() < 0.3 + 0.1 * (i % 5) else "incorrect"
             for i in range(200)]
    judge = [h if rng.random() < 0.8 else ("incorrect" if h == "correct" else "correct")
             for h in human]
    ratings = ratings_from_columns(correct, [str(i) for i in range(200)],
                                   {"human:h": human, "judge:J": judge}, models=models)
    report = audit_dimension(ratings, ItemFacts.of(200), AuditOptions(n_resamples=300, seed=2))
    frame = pd.DataFrame({"model": models, "h": np.array(human) == "correct",
                          "j": np.array(judge) == "correct"}).groupby("model").mean()
    expected = kendalltau(frame["h"], frame["j"]).statistic
    (tau,) = report.ranking
    assert tau.rater == "judge:J"
    assert tau.kendall_tau_b.value == pytest.approx(expected)
    assert tau.kendall_tau_b.ci95[0] <= expected <= tau.kendall_tau_b.ci95[1]
    assert report.to_dict()["ranking_by"] == "mean_score"
