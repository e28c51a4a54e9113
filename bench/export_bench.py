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

Peak memory is measured in a separate run of each export (tracing slows the timed runs):
``tracemalloc``'s peak of Python allocations plus the Arrow memory pool's peak (Parquet
buffers live there, invisible to tracemalloc).

Goal (issue 5): <= 1 s per format on this machine. Figures are printed, not asserted.

    python bench/export_bench.py [--items 100000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.export.gold import GoldPolicy  # noqa: E402
from core.templates import TEMPLATES  # noqa: E402
from storage.database import Database  # noqa: E402
from storage.export import ExportRequest, export_project  # noqa: E402
from storage.importer import import_file  # noqa: E402
from storage.migrations import migrate  # noqa: E402
from storage.projects import get_project  # noqa: E402
from storage.readback import human_labels_frame, items_frame  # noqa: E402

FORMATS = ("jsonl", "csv", "parquet")
PROJECT = "bench-export"
WORDS = ("the answer names the right entity and date while the response adds context about "
         "the treaty the river the enzyme the statute and the orbit émigré 東京 🧪").split()


def text(rng: random.Random, chars: int) -> str:
    """Random words, about ``chars`` characters long."""
    words: list[str] = []
    length = 0
    while length < chars:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)


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
    import_file(db, source, project_name=PROJECT, schema=TEMPLATES["correctness"])
    print(f"built {n_items:,} items with 3 human labels each in {time.perf_counter() - started:.1f} s "
          f"(source {source.stat().st_size / 1e6:.0f} MB)")
    return db


def docket_export(db: Database, folder: Path, fmt: str) -> Callable[[], int]:
    """The export under test; returns a function that runs it and returns the row count."""
    request = ExportRequest(kind="gold", fmt=fmt, policy=GoldPolicy("majority", 2))

    def run() -> int:
        summary = export_project(db, project_name=PROJECT, request=request,
                                 path=folder / f"gold.{fmt}")
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


def timed(run: Callable[[], int], repeat: int) -> tuple[float, list[float], int]:
    times, rows = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        rows = run()
        times.append(time.perf_counter() - started)
    return min(times), times, rows


def peak_memory(run: Callable[[], int]) -> tuple[float, float]:
    """(tracemalloc peak MB, Arrow pool peak MB) of one run."""
    pool = pa.default_memory_pool()
    tracemalloc.start()
    try:
        run()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6, pool.max_memory() / 1e6


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print one line per format and the goal check."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="keep the files in this folder")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="docket-export-bench-"))
    try:
        db = build(folder, args.items)
        print(f"\n{'format':<8} {'docket best':>12} {'runs':>24} {'rows':>9} {'MB':>6} "
              f"{'py peak':>8} {'arrow':>7} | {'pandas':>7} {'py peak':>8} {'ratio':>6}")
        results = {}
        for fmt in FORMATS:
            ours = docket_export(db, folder, fmt)
            base = pandas_export(db, folder, fmt)
            best, runs, rows = timed(ours, args.repeat)
            base_best, _, base_rows = timed(base, args.repeat)
            py_peak, arrow_peak = peak_memory(ours)
            base_peak, _ = peak_memory(base)
            size = (folder / f"gold.{fmt}").stat().st_size / 1e6
            results[fmt] = best
            print(f"{fmt:<8} {best:>10.3f} s {' '.join(f'{t:.3f}' for t in runs):>24} "
                  f"{rows:>9,} {size:>6.0f} {py_peak:>6.0f}MB {arrow_peak:>5.0f}MB | "
                  f"{base_best:>5.2f} s {base_peak:>6.0f}MB {base_best / best:>5.2f}x"
                  + ("" if base_rows == rows else f"  (baseline rows {base_rows:,})"))
        worst = max(results.values())
        print(f"\ngoal <= 1 s per format: {'met' if worst <= 1 else 'NOT met'} "
              f"(slowest {max(results, key=results.get)} {worst:.3f} s; "
              f"median {statistics.median(results.values()):.3f} s)")
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
