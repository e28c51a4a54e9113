"""Consistency probes (issue 16, item 8), pure: label agreement by hand, text similarity
against scikit-learn's own cosine_similarity, the per-judge figures by hand with their
bootstrap interval, and every undefined case with its reason."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from core.audit.figures import Bootstrap
from core.audit.probes import (
    NO_PROBES,
    TOO_FEW_LABELS,
    TOO_FEW_TEXTS,
    ProbeItem,
    consistency_probes,
    label_agreement,
    text_similarities,
)


@pytest.mark.parametrize(("labels", "expected"), [
    (["a", "a", "a"], 1.0),
    (["a", "a", "b"], 1 / 3),          # pairs: (a,a) agree, (a,b) twice disagree
    (["a", "b", "c"], 0.0),
    (["a", "a", "b", "b"], 2 / 6),     # 6 pairs, 2 agree
    (["a", None, "a"], 1.0),           # an unparseable wording is left out
    (["a", None, None], None),         # one parsed label: nothing to compare
    ([], None),
])
def test_label_agreement_by_hand(labels, expected):
    assert label_agreement(labels) == (expected if expected is None else pytest.approx(expected))


def test_text_similarity_is_sklearns_cosine_of_tfidf_over_all_texts():
    items = [ProbeItem("q1", ("a", "a", "b"), ("The answer is right", "the answer is right",
                                               "It contradicts the reference")),
             ProbeItem("q2", ("a", "a"), ("Correct dose", None)),
             ProbeItem("q3", ("b", "b"), ("Wrong dose given", "Dose is wrong"))]
    found = text_similarities(items)

    corpus = ["The answer is right", "the answer is right", "It contradicts the reference",
              "Correct dose", "Wrong dose given", "Dose is wrong"]
    similarity = cosine_similarity(TfidfVectorizer().fit_transform(corpus))
    assert found[0] == pytest.approx(np.mean([similarity[0, 1], similarity[0, 2],
                                              similarity[1, 2]]))
    assert found[0] < 1.0 and similarity[0, 1] == pytest.approx(1.0)  # case does not count
    assert found[1] is None  # one text
    assert found[2] == pytest.approx(similarity[4, 5])


def test_figures_by_hand_with_a_reproducible_interval():
    items = [ProbeItem("q1", ("a", "a", "a"), ("same words", "same words", "same words")),
             ProbeItem("q2", ("a", "a", "b"), ("dose right", "dose right", "wrong units")),
             ProbeItem("q3", ("a", "b", "c"), (None, None, None)),
             ProbeItem("q4", ("a", None, None), ("only one", None, None))]
    probes = consistency_probes(items, Bootstrap.seeded(500, 3, 0))

    assert probes.items == 4
    agreement = probes.label_agreement
    assert (agreement.value, agreement.n) == (pytest.approx((1 + 1 / 3 + 0) / 3), 3)
    low, high = agreement.ci95
    assert 0.0 <= low <= agreement.value <= high <= 1.0
    assert (probes.unanimous_rate.value, probes.unanimous_rate.n) == (pytest.approx(1 / 3), 3)
    # q1: identical texts (cosine 1); q2: two of three pairs identical, one shares no word.
    assert (probes.text_similarity.value, probes.text_similarity.n) == (
        pytest.approx((1 + 1 / 3) / 2), 2)
    again = consistency_probes(items, Bootstrap.seeded(500, 3, 0))
    assert again == probes
    assert consistency_probes(items, Bootstrap.seeded(0, 3, 0)).label_agreement.ci95 is None


def test_the_interval_covers_the_mean_agreement_in_most_simulated_samples():
    # Items whose three wordings each keep the first label with probability 0.7: the item's
    # expected label agreement is E = P(all three agree pairwise) averaged; estimate the true
    # mean by a large sample, then count how often a 40-item study's 95 % CI covers it.
    rng = np.random.default_rng(7)

    def study(n: int) -> list[ProbeItem]:
        keep = rng.random((n, 3)) < 0.7
        return [ProbeItem(f"q{i}", tuple("a" if k else "b" for k in row), (None,) * 3)
                for i, row in enumerate(keep)]

    truth = np.mean([label_agreement(item.labels) for item in study(200_000)])
    covered = 0
    runs = 200
    for run in range(runs):
        figure = consistency_probes(study(40), Bootstrap.seeded(400, run, 0)).label_agreement
        covered += figure.ci95[0] <= truth <= figure.ci95[1]
    assert 0.88 <= covered / runs <= 0.99


def test_undefined_figures_say_why():
    none = consistency_probes([], Bootstrap.seeded(10, 0, 0))
    assert none.items == 0
    assert none.label_agreement.undefined == NO_PROBES
    assert none.to_dict()["text_similarity"] == {"value": None, "undefined": NO_PROBES, "n": 0}
    lonely = consistency_probes([ProbeItem("q", ("a", None), ("", "  "))],
                                Bootstrap.seeded(10, 0, 0))
    assert lonely.label_agreement.undefined == TOO_FEW_LABELS
    assert lonely.text_similarity.undefined == TOO_FEW_TEXTS
