"""The export benchmark runs end to end on a tiny project (so it cannot rot unnoticed); its
figures are printed by the bench itself, not asserted here."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_export_bench_prints_every_format_and_the_goal():
    result = subprocess.run([sys.executable, "bench/export_bench.py", "--items", "300",
                             "--repeat", "1", "--skip-memory"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    rows = {line.split()[0]: line for line in lines if line.split()[:1] in (["jsonl"], ["csv"],
                                                                            ["parquet"])}
    assert set(rows) == {"jsonl", "csv", "parquet"}
    assert all(" 300 " in line for line in rows.values())  # every format wrote every row
    assert any(line.startswith("floor: ") for line in lines)
    assert any(line.startswith("goal <= 1 s per format: ") for line in lines)
    assert "nan" not in result.stdout  # peaks not measured are shown as such, not as NaN
