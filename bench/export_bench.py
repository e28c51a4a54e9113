"""Export benchmark: 100k gold rows to JSONL, CSV and Parquet — time and peak memory.

Builds one SQLite file with a ``correctness`` project of N items (default 100,000), each with
~1 KB of text (question, response, reference) and three human labels, imported with
``storage.importer``; with the default ``majority`` policy (K = 2) every item gets a gold label,
so every export writes N rows. Then, for each format, times :func:`storage.export.export_project`
(the code path of the Export page and ``python cli.py export``): the read of the items and
labels, the gold decision, the encoding and the write, the SHA-256 of the file and the sidecar.

Baseline, in the same process on the same data: the obvious pandas approach — read every item
and label into DataFrames (``storage.readback``), decide the majority with ``groupby``, and
``to_json(lines=True)`` / ``to_csv`` / ``to_parquet`` the whole frame at once.

The floor, also in the same process: reading the same items (their stored JSON text) and the
human labels through the DB-API cursor and doing nothing else — what any export of this data
from SQLite costs at least.

Peak memory is measured in a child process per export (a fresh ``python`` that opens the same
file and runs that one export): its peak resident set (``VmHWM``) minus the peak of the
same child that only imports and opens the database, so it counts everything the export
allocates — Python objects, SQLite's cache and Arrow's buffers alike.

Goal (issue 5): <= 1 s per format on this machine. Figures are printed, not asserted.

    python bench/export_bench.py [--items 100000] [--repeat 3] [--ascii] [--keep DIR]
                                 [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.memory import peak_rss_mb  # noqa: E402
from bench.synthetic import random_words  # noqa: E402
from core.export.gold import GoldPolicy  # noqa: E402
from core.templates import TEMPLATES  # noqa: E402
from storage.authz import OPERATOR  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.export import ExportRequest, export_project  # noqa: E402
from storage.importer import import_file  # noqa: E402
from storage.migrations import migrate  # noqa: E402
from storage.projects import get_project  # noqa: E402
from storage.readback import human_labels_frame, items_frame  # noqa: E402

FORMATS = ("jsonl", "csv", "parquet")
PROJECT = "bench-export"
ASCII_WORDS = ("the answer names the right entity and date while the response adds context "
               "about the treaty the river the enzyme the statute and the orbit").split()
# One emoji makes Python hold a whole string at 4 bytes per character (its widest kind), so
# the default text is the hard case; --ascii measures plain English text.
WORDS = (*ASCII_WORDS, "émigré", "東京", "🧪")


def text(rng: random.Random, chars: int) -> str:
    """Random words, about ``chars`` characters long."""
    return random_words(rng, TEXT_WORDS[0], chars)


TEXT_WORDS = [WORDS]


def build(folder: Path, n_items: int) -> Database:
    """A SQLite file with the benchmark project (N items, 3 human labels each)."""
    rng = random.Random(5)
    source = folder / "items.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for i in range(n_items):
            truth = rng.random() < 0.6
            labels = {name: {"correct": "correct" if (rng.random() < 0.85) == truth else "incorrect"}
                      for name in ("ann", "bob", "cy")}
            out.write(json.dumps({
                "id": f"q{i:06d}", "prompt": text(rng, 250), "response": text(rng, 450),
                "reference": text(rng, 300), "model": f"model-{i % 7}", "group": f"g{i % 11}",
                "humans": labels}, ensure_ascii=False) + "\n")
    db = Database(f"sqlite:///{folder / 'bench.db'}")
    migrate(db)
    started = time.perf_counter()
    import_file(db, source, project_name=PROJECT, schema=TEMPLATES["correctness"], actor=OPERATOR)
    print(f"built {n_items:,} items with 3 human labels each in {time.perf_counter() - started:.1f} s "
          f"(source {source.stat().st_size / 1e6:.0f} MB)")
    return db


def docket_export(db: Database, folder: Path, fmt: str) -> Callable[[], int]:
    """The export under test; returns a function that runs it and returns the row count."""
    request = ExportRequest(kind="gold", fmt=fmt, policy=GoldPolicy("majority", 2))

    def run() -> int:
        summary = export_project(db, project_name=PROJECT, request=request,
                                 path=folder / f"gold.{fmt}", actor=OPERATOR)
        return summary.written.rows
    return run


def pandas_export(db: Database, folder: Path, fmt: str) -> Callable[[], int]:
    """The baseline: whole frames in memory, majority by groupby, one ``to_*`` call."""
    def run() -> int:
        with db.read() as session:
            project_id = get_project(session=session, name=PROJECT).id
            items = items_frame(session=session, project_id=project_id)
            labels = human_labels_frame(session=session, project_id=project_id)
        counts = labels.groupby(["id", "label"]).size().unstack(fill_value=0)
        top = counts.max(axis=1)
        decided = (counts.eq(top, axis=0).sum(axis=1) == 1) & (counts.sum(axis=1) >= 2)
        gold = counts.idxmax(axis=1)[decided].rename("gold_correct")
        fields = pd.json_normalize(items["fields"].tolist())
        frame = pd.concat([items[["id", "model", "group"]], fields], axis=1).merge(
            gold, left_on="id", right_index=True)
        target = folder / f"baseline.{fmt}"
        if fmt == "jsonl":
            frame.to_json(target, orient="records", lines=True, force_ascii=False)
        elif fmt == "csv":
            frame.to_csv(target, index=False)
        else:
            frame.to_parquet(target, index=False)
        return len(frame)
    return run


def read_floor(db: Database) -> Callable[[], int]:
    """Read every item row and every human label of the project, and nothing else."""
    def run() -> int:
        with db.read() as session:
            project_id = get_project(session=session, name=PROJECT).id
            cursor = session.connection().connection.cursor()
            # In id order the cheapest way SQLite has: along the table over the project's id
            # range. ``project_id = ? ORDER BY id`` would sort every row in a temporary B-tree
            # first (SQLite 3.40 picks the (project, updated_at) index), which once made this
            # floor 0.3-0.6 s slower than it is.
            first, last = cursor.execute("SELECT MIN(id), MAX(id) FROM item WHERE project_id = ?",
                                         (project_id,)).fetchone()
            cursor.execute("SELECT external_id, fields_json, model, group_name, metadata_json "
                           "FROM item WHERE id BETWEEN ? AND ? AND +project_id = ?",
                           (first, last, project_id))
            rows = 0
            while batch := cursor.fetchmany(5000):
                rows += len(batch)
            cursor.execute("SELECT a.item_id, a.user_id, a.label FROM annotation a WHERE "
                           "a.item_id IN (SELECT id FROM item WHERE project_id = ?)",
                           (project_id,))
            cursor.fetchall()
            cursor.close()
        return rows
    return run


def megabytes(value: float) -> str:
    """A peak memory cell: ``123MB``, or ``-`` when not measured."""
    return f"{'-':>7}" if value != value else f"{value:>5.0f}MB"


def timed(run: Callable[[], int], repeat: int) -> tuple[float, list[float], int]:
    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = run()
        times.append(time.perf_counter() - started)
    return min(times), times, rows


def child_peak_mb(folder: Path, which: str, fmt: str) -> float:
    """Peak RSS (MB) of a fresh process running one export (``which``: docket, pandas or
    none, which only opens the database)."""
    output = subprocess.run(
        [sys.executable, __file__, "--child", which, fmt, str(folder)], check=True,
        capture_output=True, text=True).stdout
    return float(output.split()[-1])


def run_child(which: str, fmt: str, folder: Path) -> int:
    """The child of :func:`child_peak_mb`: run one export, print the peak RSS in MB."""
    db = Database(f"sqlite:///{folder / 'bench.db'}")
    if which != "none":
        (docket_export if which == "docket" else pandas_export)(db, folder, fmt)()
    print(peak_rss_mb())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print one line per format and the goal check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the files in this folder")
    parser.add_argument("--ascii", action="store_true",
                        help="plain ASCII text (default: some words with é, 東京 and an emoji)")
    parser.add_argument("--skip-memory", action="store_true",
                        help="do not measure peak memory (no child processes)")
    parser.add_argument("--child", nargs=3, metavar=("WHICH", "FORMAT", "FOLDER"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child[0], args.child[1], Path(args.child[2]))
    if args.ascii:
        TEXT_WORDS[0] = ASCII_WORDS
    folder = Path(tempfile.mkdtemp(prefix="docket-export-bench-"))
    try:
        db = build(folder, args.items)
        floor, _, _ = timed(read_floor(db), args.repeat)
        print(f"floor: reading the items and labels alone takes {floor:.3f} s")
        start_rss = 0.0 if args.skip_memory else child_peak_mb(folder, "none", "jsonl")
        print(f"\n{'format':<8} {'docket best':>12} {'runs':>24} {'rows':>9} {'MB':>6} "
              f"{'peak':>7} | {'pandas':>7} {'peak':>7} {'ratio':>6}   "
              + ("(peak not measured: --skip-memory)" if args.skip_memory
                 else f"(peak: RSS above {start_rss:.0f} MB at start)"))
        results = {}
        for fmt in FORMATS:
            ours = docket_export(db, folder, fmt)
            base = pandas_export(db, folder, fmt)
            best, runs, rows = timed(ours, args.repeat)
            base_best, _, base_rows = timed(base, args.repeat)
            peak = base_peak = float("nan")
            if not args.skip_memory:
                peak = child_peak_mb(folder, "docket", fmt) - start_rss
                base_peak = child_peak_mb(folder, "pandas", fmt) - start_rss
            size = (folder / f"gold.{fmt}").stat().st_size / 1e6
            results[fmt] = best
            print(f"{fmt:<8} {best:>10.3f} s {' '.join(f'{t:.3f}' for t in runs):>24} "
                  f"{rows:>9,} {size:>6.0f} {megabytes(peak)} | "
                  f"{base_best:>5.2f} s {megabytes(base_peak)} {base_best / best:>5.2f}x"
                  + ("" if base_rows == rows else f"  (baseline rows {base_rows:,})"))
        worst = max(results.values())
        print(f"\ngoal <= 1 s per format: {'met' if worst <= 1 else 'NOT met'} "
              f"(slowest {max(results, key=results.get)} {worst:.3f} s; "
              f"median {statistics.median(results.values()):.3f} s; "
              f"read floor {floor:.3f} s, so the slowest is {worst / floor:.1f}x the floor)")
        db.dispose()
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for path in folder.iterdir():
                shutil.move(str(path), args.keep / path.name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
