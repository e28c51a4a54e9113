"""Estimates per slice from ratings: the target's encoding, the prediction, the designs."""

from __future__ import annotations

import numpy as np
import pytest

from core.estimate.design import ACTIVE, UNIFORM, draw_shares
from core.estimate.ppi import classical_mean, ppi_mean
from core.estimate.slices import (
    Design,
    estimate_slices,
    judge_budgets,
    prediction_values,
    target_values,
)
from core.metrics.ratings import MetricsInputError, Ratings
from core.schema import Dimension, Label

BINARY = Dimension("correct", "nominal", "Correct", labels=(Label("yes", "Yes"), Label("no", "No")))
RATING = Dimension("score", "ordinal", "Score", labels=tuple(Label(str(v), str(v)) for v in range(1, 6)))


def _ratings(dimension, human, judge, models=None):
    values = np.column_stack([human, judge]).astype(float)
    return Ratings(dimension, ("human:ann", "judge:J"), values,
                   np.array([f"i{i}" for i in range(len(human))], dtype=object), models)


def test_positive_label_is_one_and_ordinal_labels_are_their_numbers():
    r = _ratings(BINARY, [0, 1, np.nan, 0], [0, 0, 1, np.nan])
    assert np.array_equal(target_values(r), [1, 0, np.nan, 1], equal_nan=True)
    # the missing verdict gets the judge's mean (2/3)
    assert prediction_values(r, "judge:J") == pytest.approx([1, 1, 0, 2 / 3])
    o = _ratings(RATING, [0, 4, 2], [1, 1, 3])
    assert target_values(o) == pytest.approx([1, 5, 3])
    with pytest.raises(MetricsInputError, match="unknown rater"):
        prediction_values(r, "judge:nobody")


def test_uniform_design_uses_only_usable_labels_and_matches_ppi():
    rng = np.random.default_rng(1)
    truth = (rng.random(300) < 0.7).astype(float)
    judge = np.where(rng.random(300) < 0.85, truth, 1 - truth)
    human = np.where(np.arange(300) < 80, truth, np.nan)
    usable = np.arange(300) < 60  # 20 labels came from a sequential queue: refused
    models = ["a" if i % 2 else "b" for i in range(300)]
    design = Design(UNIFORM, usable, drawn=60, refused=20, note="20 labels refused")
    [overall] = estimate_slices(human, judge, design, target=0.05)
    assert overall.n_labelled == 60 and overall.n_total == 300
    expected = ppi_mean(truth[:60], judge[:60], judge[60:])
    assert overall.ppi.ci == pytest.approx(expected.ci, abs=1e-12)
    assert overall.classical.ci == pytest.approx(classical_mean(truth[:60]).ci, abs=1e-12)
    by_model = estimate_slices(human, judge, design, target=0.05,
                               slices={m: np.array(models) == m for m in ("a", "b")})
    assert [s.n_labelled for s in by_model] == [30, 30]
    assert overall.labels_needed > 0 and overall.effective_labels > 60


def test_active_design_weights_by_inclusion_probability():
    f = np.array([1, 0, 1, 1, 0, 1, 0, 1], dtype=float)
    shares = draw_shares([0, 1, 0, 1, 0, 0, 1, 0])
    usable = np.array([True, True, False, False, False, False, True, False])
    y = np.where(usable, [1, 1, 0, 0, 0, 0, 0, 0], np.nan)
    [result] = estimate_slices(y, f, Design(ACTIVE, usable, drawn=3, shares=shares), target=0.05)
    pi = np.minimum(1, 3 * shares)
    lam = result.ppi.lam
    z = lam * f + (np.nan_to_num(y) - lam * f) * usable / pi
    assert result.ppi.estimate == pytest.approx(z.mean())
    assert result.classical.estimate == pytest.approx((np.nan_to_num(y) * usable / pi).mean())


def test_too_few_labels_says_why():
    y = np.array([1.0, np.nan, np.nan])
    [result] = estimate_slices(y, np.ones(3), Design(UNIFORM, np.array([True, False, False]), 1),
                               target=0.05)
    assert result.ppi is None and "fewer than 2" in result.reason


def test_judge_budget_projects_from_the_bootstrap_halfwidth():
    rng = np.random.default_rng(2)
    truth = (rng.random(200) < 0.5).astype(float)
    judge = np.where(rng.random(200) < 0.8, truth, 1 - truth)
    [budget] = judge_budgets(_ratings(BINARY, truth, judge), ["judge:J"], target=0.05,
                             n_resamples=500)
    assert budget.metric == "cohen_kappa" and budget.n == 200
    assert 0.05 < budget.halfwidth < 0.2
    assert budget.labels_needed == int(np.ceil(200 * (budget.halfwidth / 0.05) ** 2 - 1e-9)) - 200


def test_a_jury_powers_the_estimate_and_gets_a_budget():
    from core.estimate.report import build_report

    rng = np.random.default_rng(5)
    n = 90
    truth = (rng.random(n) < 0.6).astype(float)  # 1 = "no" (code 1)
    judges = [np.where(rng.random(n) < q, truth, 1 - truth) for q in (0.8, 0.7, 0.9)]
    human = np.where(np.arange(n) % 3 == 0, truth, np.nan)
    values = np.column_stack([human, *judges])
    ratings = Ratings(BINARY, ("human:ann", "judge:a", "judge:b", "judge:c"), values,
                      np.array([f"i{i}" for i in range(n)], dtype=object))
    sampled = {f"i{i}" for i in range(0, n, 3)}
    report = build_report(ratings, project="p", judge="trio", queue={}, imported_uniform=sampled,
                          juries={"trio": ["a", "b", "c"]}, n_resamples=100)
    majority = (np.sum(judges, axis=0) >= 2).astype(float)  # code 1 ("no") by majority
    positive = 1 - majority  # the target counts the first label, "yes" (code 0)
    labelled = np.arange(n) % 3 == 0
    expected = ppi_mean(1 - truth[labelled], positive[labelled], positive[~labelled])
    assert report.judge == "jury:trio"
    assert report.estimates[0].ppi.ci == pytest.approx(expected.ci, abs=1e-12)
    assert [b.rater for b in report.judges] == ["judge:a", "judge:b", "judge:c", "jury:trio"]
    with pytest.raises(MetricsInputError, match=r"unknown judge 'nobody'.*juries: trio"):
        build_report(ratings, project="p", judge="nobody", queue={}, imported_uniform=sampled,
                     juries={"trio": ["a", "b", "c"]})
