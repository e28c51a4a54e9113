"""Item and rater subsets of Ratings, and per-group/per-model agreement, computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from core.metrics import MetricsInputError, ratings_from_columns
from core.metrics.slices import filter_items, select_items, select_raters, slice_agreement
from core.schema import Dimension, Label

BINARY = Dimension("correct", "nominal", "Correct?",
                   labels=(Label("correct", "Correct"), Label("incorrect", "Incorrect")))
C, W = "correct", "incorrect"  # W: wrong


def ratings():
    # g1: the human says c, c, i, i and the judge c, i, i, i:
    #     p_o = 3/4, p_e = (2/4)(1/4) + (2/4)(3/4) = 1/2, so kappa = (3/4 - 1/2) / (1/2) = 1/2.
    # g2: both say c twice: kappa undefined (one label).
    # item 7 has no group.
    return ratings_from_columns(
        BINARY, [f"i{k}" for k in range(7)],
        {"human:h": [C, C, W, W, C, C, W], "human:k": [C, None, W, None, None, C, W],
         "judge:j": [C, W, W, W, C, C, C]},
        groups=["g1", "g1", "g1", "g1", "g2", "g2", None],
        models=["m1", "m2", "m1", "m2", "m1", "m2", "m1"])


def test_slice_agreement_per_group_by_hand():
    entries = [e.to_dict() for e in slice_agreement(ratings(), by="group", reference="human:h",
                                                    raters=["judge:j"])]

    assert [(e["slice"], e["a"], e["b"], e["n"]) for e in entries] == [
        ("g1", "human:h", "judge:j", 4), ("g2", "human:h", "judge:j", 2)]
    g1, g2 = entries
    assert g1["cohen_kappa"] == pytest.approx(0.5)
    assert g1["percent_agreement"] == pytest.approx(0.75)
    assert g1["cohen_kappa"] == pytest.approx(cohen_kappa_score([C, C, W, W], [C, W, W, W]))
    assert g2["cohen_kappa"] is None
    assert g2["undefined"]["cohen_kappa"] == ("both raters gave every pairable item the same "
                                              "label ('correct'): there is no variation to agree on")
    assert g2["percent_agreement"] == 1.0


def test_slice_agreement_per_model_with_bootstrap_intervals():
    entries = [e.to_dict() for e in slice_agreement(ratings(), by="model", reference="human:h",
                                                    raters=["judge:j"], n_resamples=200, seed=1)]

    m1 = next(e for e in entries if e["slice"] == "m1")
    # m1: human c, i, c, i vs judge c, i, c, c -> p_o 3/4, p_e (1/2)(3/4) + (1/2)(1/4) = 1/2.
    assert (m1["n"], m1["cohen_kappa"]) == (4, pytest.approx(0.5))
    low, high = m1["ci95"]["cohen_kappa"]
    assert -1.0 <= low <= 0.5 <= high <= 1.0


def test_slice_agreement_rejects_an_unknown_slice_kind():
    with pytest.raises(MetricsInputError, match="slice by one of group, model, got 'topic'"):
        [e.to_dict() for e in slice_agreement(ratings(), by="topic", reference="human:h", raters=["judge:j"])]


def test_filter_items_by_group_model_and_human_labels():
    base = ratings()
    assert list(filter_items(base, groups=["g2"]).item_ids) == ["i4", "i5"]
    assert list(filter_items(base, models=["m1"], groups=["g1"]).item_ids) == ["i0", "i2"]
    # Two human labels: items 0, 2, 5, 6.
    kept = filter_items(base, min_human_labels=2)
    assert list(kept.item_ids) == ["i0", "i2", "i5", "i6"]
    # Groups and models are re-encoded over what is left.
    assert kept.groups.names == ("g1", "g2")
    assert filter_items(base, groups=["g2"]).models.names == ("m1", "m2")
    assert filter_items(base) is base
    with pytest.raises(MetricsInputError, match="min_human_labels must be 0 or more"):
        filter_items(base, min_human_labels=-1)


def test_select_items_and_raters():
    base = ratings()
    part = select_items(base, np.array([True, False, False, False, False, False, True]))
    assert list(part.item_ids) == ["i0", "i6"]
    assert part.groups.values() == ["g1", None]
    only = select_raters(base, ["judge:j", "human:h"])
    assert only.raters == ("human:h", "judge:j")  # the matrix's order
    assert np.array_equal(only.column("judge:j"), base.column("judge:j"), equal_nan=True)
    with pytest.raises(MetricsInputError, match="unknown rater 'judge:x'"):
        select_raters(base, ["judge:x"])
    with pytest.raises(MetricsInputError, match=r"item mask has shape \(2,\), expected \(7,\)"):
        select_items(base, np.array([True, False]))
