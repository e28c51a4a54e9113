"""The slow oracle comparisons carry ``@pytest.mark.slow``: CI runs them, a local loop may not."""

from __future__ import annotations

import configparser
import inspect
from pathlib import Path

from tests.core.metrics import test_metric_bootstrap

ROOT = Path(__file__).resolve().parent.parent


def marker_names(function) -> set[str]:
    return {mark.name for mark in getattr(function, "pytestmark", [])}


def test_slow_is_a_registered_marker():
    config = configparser.ConfigParser()
    config.read(ROOT / "pytest.ini")
    markers = [line.split(":", 1)[0].strip() for line in config["pytest"]["markers"].splitlines()]
    assert "slow" in markers


def test_the_naive_loop_bootstrap_comparisons_are_marked_slow():
    naive = [function for name, function in inspect.getmembers(test_metric_bootstrap, inspect.isfunction)
             if name.startswith("test_") and "naive_loop" in name]
    assert len(naive) == 4
    assert all("slow" in marker_names(function) for function in naive), [
        function.__name__ for function in naive if "slow" not in marker_names(function)]


def test_the_readme_says_how_to_skip_the_slow_tests():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'pytest -m "not slow"' in readme
