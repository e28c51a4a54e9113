"""CLI start-up benchmark: CPU time (user + sys) of a command, beside the same interpreter.

Each command runs in its own process, R times (default 7); its CPU time is read from
``resource.getrusage(RUSAGE_CHILDREN)`` before and after, and the median is kept. Baselines in
the same run: ``python -c pass`` (the interpreter) and ``python -c "import sqlmodel"`` (the
database layer every database command needs). Goals: ``python cli.py --help`` <= 0.3 s;
``python cli.py projects`` at most 0.3 s more than ``import sqlmodel``.

    python bench/cli_startup_bench.py [--runs 7]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELP_GOAL_S = 0.3
PROJECTS_OVER_SQLMODEL_GOAL_S = 0.3


def cpu_seconds(argv: list[str], runs: int) -> float:
    """Median CPU time (user + sys, seconds) of running ``argv`` to completion ``runs`` times."""
    times = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per command (median kept)")
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="docket-cli-bench-") as folder:
        database = f"sqlite:///{Path(folder) / 'bench.db'}"
        subprocess.run([python, "cli.py", "--database", database, "init"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        measured = {
            "python -c pass": cpu_seconds([python, "-c", "pass"], args.runs),
            "python -c 'import sqlmodel'": cpu_seconds([python, "-c", "import sqlmodel"], args.runs),
            "cli.py --help": cpu_seconds([python, "cli.py", "--help"], args.runs),
            "cli.py projects": cpu_seconds([python, "cli.py", "--database", database, "projects"],
                                           args.runs),
            "cli.py import --help": cpu_seconds([python, "cli.py", "import", "--help"], args.runs),
            "cli.py metrics --help": cpu_seconds([python, "cli.py", "metrics", "--help"], args.runs),
        }
    bare = measured["python -c pass"]
    print(f"runs: {args.runs} per command, median CPU time (user + sys), {sys.version.split()[0]}")
    for name, seconds in measured.items():
        print(f"{name:<30} {seconds:6.3f} s  ({seconds / bare:4.1f}x the bare interpreter)")
    help_s = measured["cli.py --help"]
    over = measured["cli.py projects"] - measured["python -c 'import sqlmodel'"]
    print(f"goal --help: {help_s:.3f} s <= {HELP_GOAL_S} s: {verdict(help_s <= HELP_GOAL_S)}")
    print(f"goal projects: {over:+.3f} s over import sqlmodel <= {PROJECTS_OVER_SQLMODEL_GOAL_S} s: "
          f"{verdict(over <= PROJECTS_OVER_SQLMODEL_GOAL_S)}")


if __name__ == "__main__":
    main()
