"""The small-sample warning under the estimates: it names the slices below the smallest sample
the simulation checked (bench/estimate_sim.py starts at 30 labels) and only those."""

from __future__ import annotations

import numpy as np

from core.estimate.ppi import classical_mean, ppi_mean
from core.estimate.report import SMALL_SAMPLE, EstimateReport, format_report, small_sample_warning
from core.estimate.slices import SliceEstimate
from tests.conftest import REPO_ROOT


def _slice(name: str, n: int) -> SliceEstimate:
    y = (np.arange(n) % 3 > 0).astype(float)
    f = y.copy()
    rest = np.ones(100)
    return SliceEstimate(name, n, n + 100, classical_mean(y), ppi_mean(y, f, rest), None, None)


def _report(*slices: SliceEstimate) -> EstimateReport:
    return EstimateReport("p", "correct", "gpt", 0.05, "uniform", "queue", "", 0, 0, slices)


def test_the_threshold_is_the_smallest_sample_the_simulation_checked():
    source = (REPO_ROOT / "bench" / "estimate_sim.py").read_text(encoding="utf-8")
    assert f"SIZES = ({SMALL_SAMPLE}," in source


def test_warning_names_only_the_slices_below_the_threshold():
    report = _report(_slice("all", 75), _slice("m0", 29), _slice("m1", 46))
    warning = small_sample_warning(report)
    assert warning is not None and warning.startswith("m0: fewer than 30 labels")
    assert "m1" not in warning and "all" not in warning
    assert warning in format_report(report)
    assert small_sample_warning(_report(_slice("all", 30))) is None
