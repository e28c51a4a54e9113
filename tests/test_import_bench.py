"""The import benchmark runs end to end on a small file (so it cannot rot unnoticed); its
figures are printed by the bench itself, not asserted here."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_import_bench_prints_every_measure_and_the_goal():
    result = subprocess.run([sys.executable, "bench/import_bench.py", "--items", "500",
                             "--repeat", "2"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    lines = {line.split(":")[0].strip(): line for line in result.stdout.splitlines()}
    assert lines["file"].startswith("file: 500 items, 2,500 verdicts")
    assert "MB peak above a process that only opens a database" in lines["memory"]
    assert float(lines["memory"].split()[2]) > 0
    for measure in ("docket", "checkpoint", "reimport", "floor", "ratio", "naive ORM", "speed-up"):
        assert " s " in lines[measure] or "x" in lines[measure], lines[measure]
    assert "all 500 rows unchanged" in lines["reimport"]
    assert "-> " in lines["goal"] and "relative to the floor" in lines["goal"]
