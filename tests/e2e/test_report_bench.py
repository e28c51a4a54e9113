"""The report benchmark runs end to end (so it cannot rot unnoticed); its figures are printed
by the bench itself, not asserted here."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.browser


def test_report_bench_prints_the_size_and_both_open_times(chromium_path):
    result = subprocess.run([sys.executable, "bench/report_bench.py", "--repeat", "1",
                             "--resamples", "0"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    size = re.search(r"^size: ([\d,]+) bytes = plotly\.js ([\d,]+) \+ the rest ([\d,]+)$",
                     result.stdout, re.MULTILINE)
    assert size is not None, result.stdout
    total, bundle, rest = (int(group.replace(",", "")) for group in size.groups())
    assert total == bundle + rest and bundle > 0 and rest > 0
    assert re.search(r"^plotly\.js only: open [\d.]+ s", result.stdout, re.MULTILINE)
    assert re.search(r"^report: open [\d.]+ s .*ratio to plotly\.js only [\d.]+$",
                     result.stdout, re.MULTILINE)
