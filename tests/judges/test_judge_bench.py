"""The judge benchmark runs with small numbers, engine and end to end through the database
(so it cannot rot unnoticed); its figures are printed by the bench itself, not asserted here."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT


def test_judge_bench_prints_its_figures_and_the_goals():
    result = subprocess.run([sys.executable, "bench/judge_bench.py", "--calls", "150", "--concurrency", "8",
                             "--repeat", "1"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("150 calls, concurrency 8, best of 1")
    assert any(line.startswith("docket: ") and "verdicts/s" in line for line in lines)
    assert any(line.startswith("bare openai loop (chat.completions.create): ") for line in lines)
    assert any(line.startswith("bare post loop ") for line in lines)
    assert any(line.startswith("goals: >= 300 verdicts/s: ") for line in lines)
    assert any(line.startswith("end to end (enqueue_run + execute_run, SQLite, every verdict "
                               "stored): ") for line in lines)
    assert any(line.startswith("goals end to end: >= 300 verdicts/s: ") for line in lines)
    assert "error" not in result.stdout
