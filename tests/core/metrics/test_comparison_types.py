"""The typed comparison result (issue 16, item 9): its JSON form round-trips through
``from_dict`` on every pinned ``cli.py metrics`` document, a non-finite value read back is
undefined with a reason (never a NaN value), and the readers' lookups answer for a metric
that was not measured."""

from __future__ import annotations

import json
import math

import pytest

from core.metrics.comparison import Comparison, GroupComparison, PairComparison
from core.metrics.results import NOT_FINITE, MetricResult
from tests.golden.comparison_cases import GOLDEN


def pinned_documents():
    pinned = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return {case: {k: v for k, v in entry["stdout"].items() if k != "project"}
            for case, entry in pinned.items() if case.startswith("metrics") and "[json]" in case}


@pytest.mark.parametrize(("case", "document"), list(pinned_documents().items()))
def test_the_json_form_round_trips(case, document):
    comparison = Comparison.from_dict(document)
    assert json.dumps(comparison.to_dict()) == json.dumps(document), case
    assert isinstance(comparison.pairs[0], PairComparison)
    assert all(isinstance(g, GroupComparison) for g in comparison.groups)


def test_lookups_of_a_pair():
    pair = PairComparison({"cohen_kappa": MetricResult(0.5, 10, ci95=(0.1, 0.8)),
                           "gwet_ac1": MetricResult.undefined(10, "why")}, a="x", b="y", n=10)
    assert (pair.value("cohen_kappa"), pair.ci95("cohen_kappa")) == (0.5, (0.1, 0.8))
    assert (pair.value("gwet_ac1"), pair.undefined("gwet_ac1")) == (None, "why")
    assert (pair.has("mae"), pair.value("mae"), pair.ci95("mae"), pair.undefined("mae")) == (
        False, None, None, None)
    assert pair.reasons() == {"gwet_ac1": "why"}
    assert pair.to_dict() == {"a": "x", "b": "y", "n": 10, "cohen_kappa": 0.5, "gwet_ac1": None,
                              "ci95": {"cohen_kappa": [0.1, 0.8]},
                              "undefined": {"gwet_ac1": "why"}}


def test_a_non_finite_value_reads_back_as_undefined():
    pair = PairComparison.from_dict({"a": "x", "b": "y", "n": 3, "cohen_kappa": math.nan,
                                     "scott_pi": None, "ci95": {}, "undefined": {}})
    assert (pair.value("cohen_kappa"), pair.undefined("cohen_kappa")) == (None, NOT_FINITE)
    assert (pair.value("scott_pi"), pair.undefined("scott_pi")) == (None, "no value given")
    with pytest.raises(ValueError, match="finite"):
        MetricResult(math.inf, 3)


def test_a_missing_required_key_is_refused():
    with pytest.raises(KeyError, match="pairs"):
        Comparison.from_dict({"dimension": "d", "scale": "nominal", "raters": [], "groups": []})
