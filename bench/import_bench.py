"""Import benchmark: Docket's bulk import vs a naive ORM import, in one process.

Generates N items (default 100,000) with 5 judge verdicts each and about 1 KB of text per
item in all (question ~200, response ~500, reference ~30 characters, and five short
rationales of ~50 characters), writes them as JSONL, then times:

* ``docket``: ``storage.importer.import_file`` (pyarrow parse, validation, one transaction of
  driver-level ``executemany``), with its phases;
* ``reimport``: the same file again (idempotent: every row unchanged, nothing written);
* ``naive``: ``json.loads`` per line and one ORM ``session.add`` per item and verdict, one
  commit (what a straightforward SQLModel implementation does);
* ``floor``: what no implementation on this stack can beat: the same pyarrow parse, then the
  same rows (no validation, no hashing) written with bare ``sqlite3.executemany`` into the
  same schema in one transaction. Timed twice: with SQLite's automatic checkpoint at commit
  (copying the WAL into the database file), and with the checkpoint left to afterwards, as
  Docket's import does (its checkpoint runs on a background thread after the commit; the
  bench waits for it and prints how long it took after the import returned).

``memory``: the peak resident set of a fresh process that runs one Docket import of the file
(read, validate, write), minus the peak of the same process that only opens a database.

Each timing is the best of ``--repeat`` runs (default 3) into fresh databases: on a shared
2-core machine the slowest run measures the neighbours. Goal on the 2-core reference machine:
docket <= 3 s for 100k items + 500k verdicts (the floor measured ~1.9 s there when the goal
was set); the ratio to the floor run in the same process tells machines apart.
``--text-scale 2`` doubles every text, to see how the time grows with volume.

    python bench/import_bench.py [--items 100000] [--text-scale 1.0] [--repeat 3] [--skip-naive]
                                 [--skip-memory]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.memory import peak_rss_mb
from bench.synthetic import random_words
from core.importing import read_import_file, validate_table
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.database import Database
from storage.importer import import_file, write_import
from storage.migrations import migrate
from storage.models import Item, Judge, Project, Verdict

# The goal of 3 s was set on a machine where the floor measured 1.9 s.
GOAL_RATIO = 3.0 / 1.9
JUDGES = ("gpt-4o", "claude-3.5-sonnet", "llama-3-70b", "qwen2-72b", "mistral-large")
WORDS = (
    "the answer is correct because it names the right entity and date while the response adds "
    "context about the treaty the war the river the enzyme the statute the orbit although some "
    "details differ from the reference which lists alternative spellings"
).split(" ")


def sentence(rng: random.Random, chars: int) -> str:
    """Return pseudo-text of about ``chars`` characters."""
    return random_words(rng, WORDS, chars).capitalize() + "."


def generate(path: Path, n_items: int, *, scale: float = 1.0, seed: int = 7) -> int:
    """Write ``n_items`` correctness items with 5 judge verdicts each; return the file size."""
    rng = random.Random(seed)

    def text(chars: int) -> str:
        return sentence(rng, int(chars * scale))

    labels = ("correct", "incorrect")
    with path.open("w", encoding="utf-8") as out:
        for index in range(n_items):
            record = {
                "id": f"item-{index:06d}",
                "prompt": text(200),
                "response": text(500),
                "reference": text(30),
                "model": f"model-{index % 9}",
                "group": f"topic-{index % 12}",
                "judges": {
                    judge: {"correct": rng.choice(labels), "rationale": text(50)}
                    for judge in JUDGES
                },
            }
            out.write(json.dumps(record, ensure_ascii=False))
            out.write("\n")
    return path.stat().st_size


def fresh_db(folder: Path, name: str) -> Database:
    db = Database(f"sqlite:///{folder / name}")
    migrate(db)
    return db


def run_docket(db: Database, path: Path) -> dict[str, float]:
    schema = TEMPLATES["correctness"]
    start = time.perf_counter()
    raw = read_import_file(path)
    parsed = time.perf_counter()
    batch = validate_table(raw, schema)
    validated = time.perf_counter()
    summary = write_import(db, project_name="bench", schema=schema, batch=batch, actor=OPERATOR)
    written = time.perf_counter()
    assert summary.added == raw.n_rows and not batch.problems, summary
    checkpoint = db.last_checkpoint.result() if db.last_checkpoint else None
    assert checkpoint is None or checkpoint[1] == checkpoint[2], checkpoint  # the whole WAL copied
    checkpointed = time.perf_counter()
    db.dispose()
    return {"parse": parsed - start, "validate": validated - parsed, "write": written - validated,
            "total": written - start, "verdicts": summary.verdicts,
            "checkpoint": checkpointed - written}


def run_reimport(db: Database, path: Path) -> float:
    start = time.perf_counter()
    _, summary = import_file(db, path, project_name="bench", schema=None, actor=OPERATOR)
    elapsed = time.perf_counter() - start
    assert summary.added == 0 and summary.updated == 0, summary
    return elapsed


def run_floor(db_path: Path, path: Path, *, checkpoint_at_commit: bool = True) -> float:
    """Parse with pyarrow and write the same rows with bare sqlite3: the lower bound."""
    start = time.perf_counter()
    raw = read_import_file(path)
    columns = raw.columns
    now = "2026-01-01 00:00:00.000000"
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    if not checkpoint_at_commit:
        connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO project (id, name, template, task_json, created_at) "
                       "VALUES (1, 'floor', 'correctness', '{}', ?)", (now,))
    connection.executemany(
        "INSERT INTO item (id, project_id, external_id, fields_json, model, group_name, "
        "content_hash, created_at, updated_at) VALUES (?, 1, ?, ?, ?, ?, '', ?, ?)",
        [(index + 1, item_id, prompt + response + reference, model, group, now, now)
         for index, (item_id, prompt, response, reference, model, group) in enumerate(zip(
             columns["id"], columns["prompt"], columns["response"], columns["reference"],
             columns["model"], columns["group"], strict=True))])
    for judge_id, judge in enumerate(JUDGES, start=1):
        connection.execute("INSERT INTO judge (id, project_id, name, created_at) VALUES (?, 1, ?, ?)",
                           (judge_id, judge, now))
        connection.executemany(
            "INSERT INTO verdict (item_id, judge_id, dimension, sample_index, label, rationale, "
            "created_at) VALUES (?, ?, 'correct', 0, ?, ?, ?)",
            [(index + 1, judge_id, label, rationale, now) for index, (label, rationale) in enumerate(
                zip(columns[f"judge.{judge}.correct"], columns[f"judge.{judge}.rationale"],
                    strict=True))])
    connection.execute("COMMIT")
    elapsed = time.perf_counter() - start
    connection.close()  # closing the last connection checkpoints: not part of the floor
    return elapsed


def run_naive(db: Database, path: Path) -> float:
    """ORM add per row, one commit: the baseline the bulk path is measured against."""
    schema = TEMPLATES["correctness"]
    start = time.perf_counter()
    with db.write() as session:
        project = Project(name="naive", template=schema.name, task_json="{}")
        session.add(project)
        session.flush()
        judges = {}
        for name in JUDGES:
            judge = Judge(project_id=project.id, name=name)
            session.add(judge)
            judges[name] = judge
        session.flush()
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                fields = {k: record[k] for k in ("prompt", "response", "reference")}
                item = Item(project_id=project.id, external_id=record["id"],
                            fields_json=json.dumps(fields), model=record["model"],
                            group_name=record["group"], content_hash="")
                session.add(item)
                session.flush()
                for name, verdict in record["judges"].items():
                    session.add(Verdict(item_id=item.id, judge_id=judges[name].id,
                                        dimension="correct", label=verdict["correct"],
                                        rationale=verdict["rationale"]))
    return time.perf_counter() - start


def child_peak_mb(path: Path, folder: Path, which: str) -> float:
    """Peak RSS (MB) of a fresh process that imports ``path`` (``which="docket"``) or only
    opens a database (``"none"``)."""
    output = subprocess.run(
        [sys.executable, __file__, "--child", which, str(path), str(folder)], check=True,
        capture_output=True, text=True).stdout
    return float(output.split()[-1])


def run_child(which: str, path: Path, folder: Path) -> int:
    """The child of :func:`child_peak_mb`: print the peak RSS in MB after its work."""
    db = fresh_db(folder, f"child-{which}.db")
    if which == "docket":
        run_docket(db, path)
    print(peak_rss_mb())
    return 0


def best_of(runs: int, measure) -> tuple[float, float]:
    """Return the best and the median of ``runs`` calls of ``measure()`` (seconds)."""
    times = [measure() for _ in range(runs)]
    return min(times), statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--text-scale", type=float, default=1.0,
                        help="multiply every text length (default 1: ~1 KB of text per item)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (best is shown)")
    parser.add_argument("--skip-naive", action="store_true", help="skip the slow ORM baseline")
    parser.add_argument("--skip-memory", action="store_true",
                        help="do not measure peak memory (no child processes)")
    parser.add_argument("--child", nargs=3, metavar=("WHICH", "FILE", "FOLDER"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return run_child(args.child[0], Path(args.child[1]), Path(args.child[2]))
    with tempfile.TemporaryDirectory(prefix="docket-bench-") as tmp:
        folder = Path(tmp)
        path = folder / "items.jsonl"
        size = generate(path, args.items, scale=args.text_scale)
        n_verdicts = args.items * len(JUDGES)
        print(f"file: {args.items:,} items, {n_verdicts:,} verdicts, {size / 1e6:.1f} MB JSONL "
              f"(text scale {args.text_scale:g}); best of {args.repeat} runs")
        runs = [run_docket(fresh_db(folder, f"docket-{i}.db"), path) for i in range(args.repeat)]
        docket = min(runs, key=lambda run: run["total"])
        median = statistics.median(run["total"] for run in runs)
        rows = args.items + n_verdicts
        print(f"docket   : {docket['total']:6.2f} s  ({rows / docket['total']:,.0f} rows/s; median "
              f"{median:.2f} s)  parse {docket['parse']:.2f} s, validate {docket['validate']:.2f} s, "
              f"write {docket['write']:.2f} s")
        print(f"checkpoint: {docket['checkpoint']:5.2f} s  after the import returned (background "
              "thread; readers see the data at commit)")
        if not args.skip_memory:
            peak = child_peak_mb(path, folder, "docket") - child_peak_mb(path, folder, "none")
            print(f"memory   : {peak:6.0f} MB peak above a process that only opens a database "
                  f"(one import in a fresh process; the file is {size / 1e6:.0f} MB)")
        reimport, _ = best_of(args.repeat, lambda: run_reimport(
            Database(f"sqlite:///{folder / 'docket-0.db'}"), path))
        print(f"reimport : {reimport:6.2f} s  (all {args.items:,} rows unchanged, nothing written)")

        databases = itertools.count()

        def floor_run(*, at_commit: bool) -> float:
            db_path = folder / f"floor-{next(databases)}.db"
            fresh_db(folder, db_path.name).dispose()
            return run_floor(db_path, path, checkpoint_at_commit=at_commit)

        floor_deferred, _ = best_of(args.repeat, lambda: floor_run(at_commit=False))
        floor_commit, _ = best_of(args.repeat, lambda: floor_run(at_commit=True))
        print(f"floor    : {floor_deferred:6.2f} s  (pyarrow parse + bare sqlite3 executemany, no "
              f"checks, checkpoint after); {floor_commit:.2f} s with the checkpoint at commit")
        ratio = docket["total"] / floor_deferred
        print(f"ratio    : docket is {ratio:.2f}x the floor (like for like)")
        if not args.skip_naive:
            naive = run_naive(fresh_db(folder, "naive.db"), path)
            print(f"naive ORM: {naive:6.2f} s  ({rows / naive:,.0f} rows/s)")
            print(f"speed-up : {naive / docket['total']:.1f}x faster than the naive ORM import")
        goal = 3.0 * args.items / 100_000
        verdict = "met" if docket["total"] <= goal else "MISSED"
        relative = "met" if ratio <= GOAL_RATIO else "MISSED"
        print(f"goal     : <= {goal:.2f} s for {args.items:,} items -> {verdict}; relative to the "
              f"floor (<= {GOAL_RATIO:.2f}x, as 3 s was to 1.9 s) -> {relative}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
