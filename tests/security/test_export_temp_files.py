"""A killed export's partial file is removed at the next export and when the app starts.

Before the fix an export killed mid-way (a restarted server, Ctrl-C, the OOM killer) left its
temporary file of tens of MB beside the target; the Export page's folders were only removed
after 24 h, the CLI's never. Now every export writes its temporary files into a
``.docket-tmp`` folder beside the target and holds a lock on each while it runs; the next
export into that folder (CLI or page) and the app's start-up sweep remove every temporary file
no running export holds. A running export's file is never touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from components.export_view import sweep_export_leftovers
from core.export.writers import TEMP_FOLDER, Column, sweep_temporary_files, write_table
from tests.conftest import REPO_ROOT
from tests.export.helpers import export, import_records

COLUMNS = [Column("id"), Column("text")]

# Writes one batch of an export into FOLDER/big.jsonl, says so, then waits to be killed.
KILLED_EXPORT = """
import sys, time
from pathlib import Path
from core.export.writers import Column, write_table

def batches():
    yield [[str(n) for n in range(20_000)], ["x" * 500] * 20_000]
    print("writing", flush=True)
    time.sleep(600)
    yield [[], []]

write_table(Path(sys.argv[1]) / "big.jsonl", "jsonl", [Column("id"), Column("text")],
            batches(), {})
"""


def temporary_files(folder: Path) -> list[Path]:
    """Every ``*.tmp`` file under ``folder``, hidden ones included."""
    return sorted(path for path in folder.rglob("*") if path.name.endswith(".tmp"))


def kill_an_export_midway(folder: Path) -> list[Path]:
    """Start an export in another process, SIGKILL it while it writes; return what it left."""
    child = subprocess.Popen([sys.executable, "-c", KILLED_EXPORT, str(folder)],
                             stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                             env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "writing\n"
        deadline = time.monotonic() + 30
        while not any(p.stat().st_size for p in temporary_files(folder)):  # written by a thread
            assert time.monotonic() < deadline, "the export wrote nothing"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    left = temporary_files(folder)
    assert left and not (folder / "big.jsonl").exists()
    return left


def test_a_killed_cli_export_is_cleaned_by_the_next_export(db, tmp_path):
    import_records(db, tmp_path, "correctness",
                   [{"id": "q", "prompt": "p", "response": "r",
                     "humans": {"a": {"correct": "correct"}, "b": {"correct": "correct"}}}], "p")
    out = tmp_path / "out"
    out.mkdir()
    left = kill_an_export_midway(out)
    assert [p.parent.name for p in left] == [TEMP_FOLDER]

    summary = export(db, out, "p", "gold", "jsonl")

    assert summary.written.path.read_text().count("\n") == 1
    assert temporary_files(out) == []
    assert not (out / TEMP_FOLDER).exists()
    assert sorted(p.name for p in out.iterdir()) == ["p-gold.jsonl", "p-gold.jsonl.meta.json"]


def test_the_app_start_up_sweep_removes_a_killed_page_export(tmp_path):
    root = tmp_path / "docket-exports"
    session = root / "export-abc"
    session.mkdir(parents=True)
    kill_an_export_midway(session)
    finished = session / "done.csv"
    finished.write_text("id\n")

    assert sweep_export_leftovers(root) == 1

    assert temporary_files(root) == []
    assert finished.read_text() == "id\n"  # a finished export stays until its 24 h are up


def test_a_running_export_keeps_its_temporary_file(tmp_path):
    started, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def slow_batches():
        yield [["a"], ["first"]]
        started.set()
        assert release.wait(30)
        yield [["b"], ["second"]]

    def run() -> None:
        try:
            results["slow"] = write_table(tmp_path / "slow.jsonl", "jsonl", COLUMNS,
                                          slow_batches(), {})
        except BaseException as exc:  # reported by the assertion below
            results["slow"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert started.wait(30)
        running = temporary_files(tmp_path)
        assert len(running) == 1

        # Another export into the same folder, and an explicit sweep, while it runs.
        write_table(tmp_path / "other.jsonl", "jsonl", COLUMNS, [[["x"], ["y"]]], {})
        assert sweep_temporary_files(tmp_path) == 0
        assert temporary_files(tmp_path) == running
    finally:
        release.set()
        worker.join(30)
    written = results["slow"]
    assert not isinstance(written, BaseException), written
    assert (tmp_path / "slow.jsonl").read_text().splitlines() == [
        '{"id":"a","text":"first"}', '{"id":"b","text":"second"}']
    assert temporary_files(tmp_path) == []


def test_a_failed_export_leaves_nothing(tmp_path):
    def failing():
        yield [["a"], ["x"]]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError, match="went away"):
        write_table(tmp_path / "f.csv", "csv", COLUMNS, failing(), {})
    assert list(tmp_path.iterdir()) == []


def test_the_start_up_sweep_of_a_missing_root_does_nothing(tmp_path):
    assert sweep_export_leftovers(tmp_path / "never-made") == 0
