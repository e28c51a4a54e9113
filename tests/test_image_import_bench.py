"""The image import benchmark runs end to end on a few items (so it cannot rot unnoticed);
its figures are printed by the bench itself, not asserted here."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_image_import_bench_prints_every_measure_and_the_goal():
    result = subprocess.run([sys.executable, "bench/image_import_bench.py", "--items", "20",
                             "--kb", "20"], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    lines = {line.split(":")[0].strip(): line for line in result.stdout.splitlines()}
    assert lines["file"].startswith("file: 20 items, 20 distinct images")
    assert "20 rows unchanged, 0 images new" in lines["reimport"]
    for measure in ("docket", "text only", "floor"):
        assert " s " in lines[measure], lines[measure]
    assert "-> " in lines["goal"] and "scaled from 20 items" in lines["goal"]
