"""The answerable split and the reference effect against scikit-learn's κ on the subsets."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from core.audit import AuditOptions, Bootstrap, ItemFacts, audit_dimension
from core.audit.answerable import answerable_split, reference_effect
from core.audit.bias import prepare
from core.metrics import MetricsInputError, ratings_from_columns
from core.templates import TEMPLATES

CORRECT = TEMPLATES["correctness"].dimension("correct")
Y, N = "correct", "incorrect"
HUMAN = [Y, N, Y, N, Y, N, Y, N, Y, N, Y, Y]
JUDGE = [Y, N, Y, Y, Y, N, N, Y, Y, Y, Y, N]
WITH_REFERENCE = [Y, N, Y, N, Y, N, Y, Y, Y, N, N, Y]
ANSWERED = [True, True, True, True, True, True, False, False, False, False, False, None]


def ratings():
    return ratings_from_columns(CORRECT, [str(i) for i in range(12)],
                                {"human:h": HUMAN, "judge:J": JUDGE, "judge:R": WITH_REFERENCE})


def kappa(a, b, rows):
    return cohen_kappa_score([a[i] for i in rows], [b[i] for i in rows])


YES = [i for i, a in enumerate(ANSWERED) if a is True]
NO = [i for i, a in enumerate(ANSWERED) if a is False]


def test_answerable_split_matches_sklearn_on_each_set():
    answered = np.array([np.nan if a is None else float(a) for a in ANSWERED])
    found = answerable_split(prepare(ratings()), "judge:J", answered,
                             Bootstrap(300, np.random.default_rng(1)))
    assert found.metric == "cohen_kappa"
    assert found.answered.value == pytest.approx(kappa(HUMAN, JUDGE, YES))
    assert found.answered.n == 6
    assert found.not_answered.value == pytest.approx(kappa(HUMAN, JUDGE, NO))
    assert found.difference.value == pytest.approx(kappa(HUMAN, JUDGE, YES)
                                                   - kappa(HUMAN, JUDGE, NO))
    low, high = found.difference.ci95
    assert low <= found.difference.value <= high


def test_reference_effect_matches_sklearn():
    answered = np.array([np.nan if a is None else float(a) for a in ANSWERED])
    found = reference_effect(prepare(ratings()), "judge:J", "judge:R", answered,
                             Bootstrap(300, np.random.default_rng(1)), seed=0)
    every = list(range(12))
    assert found.delta.value == pytest.approx(kappa(HUMAN, WITH_REFERENCE, every)
                                              - kappa(HUMAN, JUDGE, every))
    assert found.delta.n == 12
    assert found.delta_answered.value == pytest.approx(kappa(HUMAN, WITH_REFERENCE, YES)
                                                       - kappa(HUMAN, JUDGE, YES))
    assert found.delta_not_answered.value == pytest.approx(
        kappa(HUMAN, WITH_REFERENCE, NO) - kappa(HUMAN, JUDGE, NO))


def test_in_the_audit_document_and_undefined_without_data():
    report = audit_dimension(ratings(), ItemFacts.of(12), AuditOptions(
        n_resamples=50, answered={"judge:J": ANSWERED}, pair_with={"J": "R"}))
    cards = {card.rater: card.to_dict() for card in report.judges}
    assert cards["judge:J"]["answerable_split"]["answered"]["value"] == pytest.approx(
        kappa(HUMAN, JUDGE, YES))
    assert cards["judge:J"]["reference_effect"]["with_reference"] == "judge:R"
    assert "answered_correctly" in cards["judge:R"]["answerable_split"]["answered"]["undefined"]
    assert "--pair-with" in cards["judge:R"]["reference_effect"]["delta"]["undefined"]
    with pytest.raises(MetricsInputError, match="--pair-with: unknown judge 'X'"):
        audit_dimension(ratings(), ItemFacts.of(12), AuditOptions(pair_with={"J": "X"}))
