"""Bias card figures against hand-computed values on small cases (see each test's comments)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from core.audit import AuditOptions, Bootstrap, Figure, ItemFacts, audit_dimension, in_family
from core.audit.bias import (
    error_rates,
    length_bias,
    leniency,
    position_bias,
    prepare,
    self_preference,
)
from core.metrics import MetricsInputError, ratings_from_columns
from core.schema import Dimension
from core.templates import TEMPLATES

PREFERENCE = TEMPLATES["pairwise"].dimension("preference")
CORRECT = TEMPLATES["correctness"].dimension("correct")
SCORE = Dimension("score", "interval", "Score", minimum=0, maximum=10)
NO_BOOT = Bootstrap(0, np.random.default_rng(0))

# Three annotators; their majority is A, B, tie, A, B, A.
PAIRWISE = {
    "human:h": ["A", "B", "tie", "A", "B", "A"],
    "human:g": ["A", "B", "tie", "A", "A", "A"],
    "human:k": ["A", "B", "B", "A", "B", "A"],
    "judge:J": ["A", "A", "A", "B", "B", "tie"],
    # As labelled with B's text shown first; aligned it reads A, A, B, B, tie, B.
    "judge:J@swapped": ["B", "B", "A", "A", "tie", "A"],
}
LENGTH_A = [10, 5, 10, 3, 8, 20]
LENGTH_B = [5, 10, 10, 8, 3, 1]
MODEL_A = ["gpt-4", "llama", "gpt-4", "llama", "GPT-4", "mistral"]
MODEL_B = ["llama", "gpt-4o", "gpt-3.5", "mistral", "mistral", "gpt-4"]


def pairwise():
    ratings = ratings_from_columns(PREFERENCE, [f"i{n}" for n in range(6)], PAIRWISE)
    facts = ItemFacts.of(6, length_a=LENGTH_A, length_b=LENGTH_B, model_a=MODEL_A,
                         model_b=MODEL_B)
    return prepare(ratings), facts


def test_position_figures_by_hand():
    ratings, _ = pairwise()
    found = position_bias(ratings, "judge:J", NO_BOOT)
    # Aligned, the runs agree on i0, i1, i3 of 6.
    assert found.consistency.value == pytest.approx(3 / 6)
    assert found.consistency.n == 6
    # First shown chosen: 3 of J's 5 decisive verdicts (A) + 3 of the swapped run's 5 (raw A).
    assert found.first_position_rate.value == pytest.approx(6 / 10)
    # Humans say A or B on i0, i1, i3, i4, i5; the verdict changed on i4 and i5.
    assert found.flip_rate.value == pytest.approx(2 / 5)
    assert found.flip_rate.n == 5


def test_position_without_a_swapped_run_says_why():
    ratings, _ = pairwise()
    ratings = prepare(ratings_from_columns(PREFERENCE, [f"i{n}" for n in range(6)],
                                           {k: v for k, v in PAIRWISE.items() if "@" not in k}))
    found = position_bias(ratings, "judge:J", NO_BOOT)
    assert found.consistency.value is None
    assert "judge:J@swapped" in found.consistency.undefined


def test_length_figures_by_hand():
    ratings, facts = pairwise()
    found = length_bias(ratings, "judge:J", facts, NO_BOOT)
    # Longer: A, B, -, B, A, A. Consensus tie or shorter on i3 (A vs longer B) and i4 (B vs
    # longer A). The judge picks the longer on i3 only; the annotators 0 of 3 on i3, g on i4.
    assert found.longer_rate.value == pytest.approx(1 / 2)
    assert found.human_longer_rate.value == pytest.approx(1 / 6)
    assert found.difference.value == pytest.approx(1 / 2 - 1 / 6)
    assert found.longer_rate.n == 2
    assert found.length_correlation.value is None


def test_self_preference_pairwise_by_hand():
    ratings, facts = pairwise()
    found = self_preference(ratings, "judge:J", "gpt", facts, NO_BOOT)
    # Exactly one gpt side on i0 (A), i1 (B), i4 (A, "GPT-4"), i5 (B); i2 has two, i3 none.
    # Judge: A, A, B, tie -> 1 + 0 + 0 + 0.5; consensus: A, B, B, A -> 1 + 1 + 0 + 0.
    assert found.judge_own.value == pytest.approx(1.5 / 4)
    assert found.humans_own.value == pytest.approx(2 / 4)
    assert found.self_preference.value == pytest.approx(-0.125)
    assert found.self_preference.n == 4


def test_self_preference_without_family():
    ratings, facts = pairwise()
    found = self_preference(ratings, "judge:J", None, facts, NO_BOOT)
    assert found.family is None
    assert found.self_preference.to_dict() == {
        "value": None, "n": 0,
        "undefined": "no family: the judge's definition names no model family (imported "
                     "judges have none)"}


def test_family_membership():
    assert in_family("openai/GPT-4o", "gpt-4")
    assert not in_family("llama-3", "gpt")
    assert not in_family(None, "gpt")


# Correctness: annotator h alone is the consensus; Y = correct (positive).
Y, N = "correct", "incorrect"
SCORING = {"human:h": [Y, N, N, Y, N, N], "judge:J": [Y, Y, Y, Y, N, Y]}
MODELS = ["llama-2", "llama-2", "llama-3", "gpt", "gpt", "gpt"]


def scoring():
    return prepare(ratings_from_columns(CORRECT, [f"i{n}" for n in range(6)], SCORING,
                                        models=MODELS))


def test_scoring_self_preference_leniency_error_rates_by_hand():
    ratings = scoring()
    facts = ItemFacts.of(6)
    found = self_preference(ratings, "judge:J", "llama", facts, NO_BOOT)
    # Own (llama) items i0-i2: judge 1, 1, 1; humans 1, 0, 0. Others: judge − humans = 1/3.
    assert found.judge_own.value == pytest.approx(1.0)
    assert found.humans_own.value == pytest.approx(1 / 3)
    assert found.self_preference.value == pytest.approx((1 - 1 / 3) - 1 / 3)
    lenient = leniency(ratings, "judge:J", NO_BOOT)
    assert lenient.leniency.value == pytest.approx(5 / 6 - 2 / 6)
    assert lenient.mean_difference.value is None
    errors = error_rates(ratings, "judge:J", NO_BOOT)
    # Consensus negative on i1, i2, i4, i5: judge positive on i1, i2, i5.
    assert errors.false_positive_rate.value == pytest.approx(3 / 4)
    assert errors.false_positive_rate.n == 4
    assert errors.false_negative_rate.value == 0.0


def test_length_correlation_on_a_scale_matches_scipy():
    ratings = prepare(ratings_from_columns(SCORE, ["a", "b", "c", "d", "e"], {
        "human:h": ["1", "1", "1", "1", "5"], "judge:J": ["2", "3", "4", "5", None]}))
    lengths = [10, 30, 20, 40, 7]
    found = length_bias(ratings, "judge:J", ItemFacts.of(5, length=lengths), NO_BOOT)
    # d = 1, 2, 3, 4 against lengths 10, 30, 20, 40: rho = 1 − 6·2 / (4·15) = 0.8.
    assert found.length_correlation.value == pytest.approx(0.8)
    assert found.length_correlation.value == pytest.approx(
        spearmanr([1, 2, 3, 4], [10, 30, 20, 40]).statistic)
    assert found.length_correlation.n == 4
    assert found.longer_rate.value is None


def test_audit_document_every_figure_has_the_agreed_form():
    ratings = ratings_from_columns(PREFERENCE, [f"i{n}" for n in range(6)], PAIRWISE)
    facts = ItemFacts.of(6, length_a=LENGTH_A, length_b=LENGTH_B, model_a=MODEL_A,
                         model_b=MODEL_B)
    report = audit_dimension(ratings, facts, AuditOptions(n_resamples=200, seed=3,
                                                          families={"judge:J": "gpt"}))
    document = report.to_dict()
    json.dumps(document, allow_nan=False)
    assert [card["rater"] for card in document["judges"]] == ["judge:J"]

    def figures(node):
        if isinstance(node, dict) and "value" in node:
            yield node
        elif isinstance(node, dict):
            for value in node.values():
                yield from figures(value)
        elif isinstance(node, list):
            for value in node:
                yield from figures(value)

    found = list(figures(document))
    assert len(found) > 10
    for figure in found:
        if figure["value"] is None:
            assert set(figure) == {"value", "undefined", "n"} and figure["undefined"]
        else:
            assert set(figure) == {"value", "ci95", "n"}
            low, high = figure["ci95"]
            assert low <= high
    card = document["judges"][0]
    assert card["position"]["consistency"]["value"] == pytest.approx(0.5)
    low, high = card["position"]["consistency"]["ci95"]
    assert 0 <= low <= 0.5 <= high <= 1
    # The same seed gives the same document; another seed other intervals.
    again = audit_dimension(ratings, facts, AuditOptions(n_resamples=200, seed=3,
                                                         families={"judge:J": "gpt"}))
    assert again.to_dict() == document


def test_unknown_judge_and_bad_facts_are_refused():
    ratings = ratings_from_columns(PREFERENCE, ["a"], {"judge:J": ["A"]})
    with pytest.raises(MetricsInputError, match=r"unknown judge 'K'.*judges: J"):
        audit_dimension(ratings, ItemFacts.of(1), judge="K")
    with pytest.raises(MetricsInputError, match="2 items"):
        audit_dimension(ratings, ItemFacts.of(2))
    with pytest.raises(MetricsInputError, match="length_a has 2 entries for 1 items"):
        ItemFacts.of(1, length_a=[1, 2])


def test_figure_is_value_or_reason():
    with pytest.raises(ValueError):
        Figure(None, 0)
    with pytest.raises(ValueError):
        Figure(float("nan"), 1)


def test_rate_interval_covers_the_true_rate_about_95_percent_of_the_time():
    # Leniency of a judge that says "correct" with p = 0.7 where humans say it with 0.5,
    # independently: true leniency 0.2. 300 simulated data sets of 80 items.
    rng = np.random.default_rng(11)
    covered = 0
    runs = 300
    for run in range(runs):
        human = np.where(rng.random(80) < 0.5, Y, N)
        judge = np.where(rng.random(80) < 0.7, Y, N)
        ratings = prepare(ratings_from_columns(CORRECT, [str(i) for i in range(80)],
                                               {"human:h": list(human), "judge:J": list(judge)}))
        figure = leniency(ratings, "judge:J", Bootstrap(400, np.random.default_rng(run))).leniency
        low, high = figure.ci95
        covered += low <= 0.2 <= high
    assert 0.90 <= covered / runs <= 0.985


def test_hanna_length_correlation_matches_scipy(shared_data):
    # HANNA: ChatGPT (prompt 1) minus the mean of the three annotators, on relevance, against
    # each story's text length (the file's "Text length" column), over all 1,056 stories.
    import csv

    from tests.converters import HANNA_FILE, HANNA_HUMANS

    with (shared_data / HANNA_FILE).open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    length_column = next(c for c in rows[0] if c.lower().startswith("text length"))
    judge, humans, lengths = [], [[], [], []], []
    for row in rows:
        judge += json.loads(row["ChatGPT RE 1"])
        for k, human in enumerate(HANNA_HUMANS):
            humans[k] += json.loads(row[f"{human} RE"])
        lengths += json.loads(row[length_column])
    columns = {f"human:{k}": [str(v) for v in values] for k, values in enumerate(humans)}
    columns["judge:ChatGPT"] = [str(v) for v in judge]
    dimension = Dimension("relevance", "interval", "Relevance", minimum=-1, maximum=5)
    ratings = prepare(ratings_from_columns(dimension, [str(i) for i in range(len(judge))],
                                           columns))
    found = length_bias(ratings, "judge:ChatGPT", ItemFacts.of(len(judge), length=lengths),
                        Bootstrap(500, np.random.default_rng(0))).length_correlation
    expected = spearmanr(np.array(judge) - np.mean(humans, axis=0), lengths).statistic
    assert found.n == 1056
    assert found.value == pytest.approx(expected, abs=1e-9)
    assert found.ci95[0] < expected < found.ci95[1]
