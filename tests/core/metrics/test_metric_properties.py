"""Property tests over the whole registry: a metric gets these checks by being registered.

For every pair metric of every scale it applies to: symmetry (or sign flip), invariance to
item order, invariance to renaming nominal labels, bounds, perfect agreement, and that an
undefined value always carries a reason. For every group metric: invariance to rater and item
order, bounds, perfect agreement.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.metrics import (
    REGISTRY,
    MetricResult,
    group_agreement,
    group_metrics_for,
    group_sample,
    pair_agreement,
    pair_metrics_for,
    pair_sample,
)

SETTINGS = settings(max_examples=40, deadline=None, database=None)
SCALES = ("nominal", "ordinal", "interval")
PAIR_METRICS = [(scale, d.name) for scale in SCALES for d in pair_metrics_for(scale)]
GROUP_METRICS = [(scale, d.name) for scale in SCALES for d in group_metrics_for(scale)]
TOLERANCE = 1e-9


@st.composite
def two_raters(draw, scale: str, min_items: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """Two label vectors (codes or interval values) with missing labels, and k."""
    k = draw(st.integers(2, 5)) if scale != "interval" else 0
    values = (st.integers(0, k - 1).map(float) if scale != "interval"
              else st.sampled_from([0.0, 0.5, 1.0, 2.5, 4.0, 7.5]))
    label = st.one_of(st.none(), values) if min_items == 0 else values
    n = draw(st.integers(min_items, 40))
    a = draw(st.lists(label, min_size=n, max_size=n))
    b = draw(st.lists(label, min_size=n, max_size=n))
    as_array = [np.array([np.nan if v is None else v for v in vs], dtype=float) for vs in (a, b)]
    return as_array[0], as_array[1], k


def results_of(a: np.ndarray, b: np.ndarray, scale: str, k: int) -> dict[str, MetricResult]:
    return pair_agreement(pair_sample(a, b, scale, k), names=("rater_a", "rater_b"),
                          labels=tuple(f"l{i}" for i in range(k)))


def same(x: MetricResult, y: MetricResult, sign: float = 1.0) -> bool:
    if x.value is None or y.value is None:
        return x.value is None and y.value is None
    return math.isclose(x.value, sign * y.value, rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize(("scale", "metric"), PAIR_METRICS)
@SETTINGS
@given(data=st.data())
def test_pair_metric_symmetry_and_order_invariance(scale, metric, data):
    a, b, k = data.draw(two_raters(scale))
    definition = REGISTRY[metric]
    forward = results_of(a, b, scale, k)[metric]
    backward = results_of(b, a, scale, k)[metric]
    assert same(forward, backward, -1.0 if definition.symmetry == "antisymmetric" else 1.0)
    order = data.draw(st.permutations(range(len(a))))
    assert same(forward, results_of(a[list(order)], b[list(order)], scale, k)[metric])


@pytest.mark.parametrize(("scale", "metric"), [p for p in PAIR_METRICS if p[0] == "nominal"])
@SETTINGS
@given(data=st.data())
def test_nominal_pair_metric_ignores_label_names(scale, metric, data):
    a, b, k = data.draw(two_raters(scale))
    rename = np.array(data.draw(st.permutations(range(k))), dtype=float)

    def renamed(v: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(v), np.nan, rename[np.nan_to_num(v).astype(int)])

    assert same(results_of(a, b, scale, k)[metric], results_of(renamed(a), renamed(b), scale, k)[metric])


@pytest.mark.parametrize(("scale", "metric"), PAIR_METRICS)
@SETTINGS
@given(data=st.data())
def test_pair_metric_bounds_n_and_reasons(scale, metric, data):
    a, b, k = data.draw(two_raters(scale))
    result = results_of(a, b, scale, k)[metric]
    low, high = REGISTRY[metric].bounds
    assert result.n == int((~(np.isnan(a) | np.isnan(b))).sum())
    if result.value is None:
        assert isinstance(result.undefined_reason, str) and result.undefined_reason
    else:
        assert result.undefined_reason is None
        assert low - TOLERANCE <= result.value <= high + TOLERANCE
    if result.n < 2:
        assert result.undefined_reason == f"fewer than 2 pairable items (n = {result.n})"
    elif not REGISTRY[metric].needs_variation:
        assert result.value is not None


@pytest.mark.parametrize(("scale", "metric"), PAIR_METRICS)
@SETTINGS
@given(data=st.data())
def test_pair_metric_perfect_agreement(scale, metric, data):
    a, _, k = data.draw(two_raters(scale, min_items=2))
    if len(np.unique(a)) < 2:
        a = a.copy()
        a[0], a[1] = (0.0, 1.0) if scale != "interval" else (0.5, 4.0)
    result = results_of(a, a.copy(), scale, k)[metric]
    assert result.value == pytest.approx(REGISTRY[metric].perfect)


@pytest.mark.parametrize(("scale", "metric"), PAIR_METRICS)
@SETTINGS
@given(data=st.data())
def test_pair_metric_undefined_only_with_a_reason_naming_the_constant_rater(scale, metric, data):
    a, _, k = data.draw(two_raters(scale, min_items=2))
    constant = np.full_like(a, a[0])
    result = results_of(a, constant, scale, k)[metric]
    if result.value is None:
        reason = result.undefined_reason or ""
        assert "rater_b" in reason or "both raters" in reason, reason
    if len(np.unique(a)) == 1 and REGISTRY[metric].needs_variation:
        # Both raters used one and the same label: a chance-corrected coefficient is 0/0.
        assert result.value is None
        assert "both raters gave every pairable item the same" in (result.undefined_reason or "")


@st.composite
def many_raters(draw, scale: str) -> tuple[np.ndarray, int]:
    k = draw(st.integers(2, 4)) if scale != "interval" else 0
    values = (st.integers(0, k - 1).map(float) if scale != "interval"
              else st.sampled_from([1.0, 2.0, 3.5, 5.0]))
    n_items, n_raters = draw(st.integers(0, 25)), draw(st.integers(2, 5))
    cells = draw(st.lists(st.one_of(st.none(), values), min_size=n_items * n_raters,
                          max_size=n_items * n_raters))
    matrix = np.array([np.nan if v is None else v for v in cells], dtype=float)
    return matrix.reshape(n_items, n_raters), k


def group_results(values: np.ndarray, scale: str, k: int) -> dict[str, MetricResult]:
    return group_agreement(group_sample(values, scale, k), labels=tuple(f"l{i}" for i in range(k)))


@pytest.mark.parametrize(("scale", "metric"), GROUP_METRICS)
@SETTINGS
@given(data=st.data())
def test_group_metric_invariances_and_bounds(scale, metric, data):
    values, k = data.draw(many_raters(scale))
    result = group_results(values, scale, k)[metric]
    raters = list(data.draw(st.permutations(range(values.shape[1]))))
    items = list(data.draw(st.permutations(range(values.shape[0]))))
    assert same(result, group_results(values[:, raters], scale, k)[metric])
    assert same(result, group_results(values[items], scale, k)[metric])
    assert result.n == int(((~np.isnan(values)).sum(axis=1) >= 2).sum())
    if result.value is None:
        assert result.undefined_reason
    else:
        low, high = REGISTRY[metric].bounds
        assert low - TOLERANCE <= result.value <= high + TOLERANCE


@pytest.mark.parametrize(("scale", "metric"), GROUP_METRICS)
@SETTINGS
@given(data=st.data())
def test_group_metric_perfect_agreement(scale, metric, data):
    values, k = data.draw(many_raters(scale))
    if values.shape[0] < 2:
        return
    truth = np.where(np.arange(values.shape[0]) % 2 == 0, 0.0, 1.0 if scale != "interval" else 3.5)
    perfect = np.where(np.isnan(values), np.nan, truth[:, None])
    perfect[:2, :2] = truth[:2, None]  # at least two items with two labels each
    assert group_results(perfect, scale, k)[metric].value == pytest.approx(1.0)
