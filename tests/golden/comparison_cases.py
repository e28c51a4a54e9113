"""The cases whose ``cli.py metrics`` and ``cli.py audit`` output (JSON and text) is pinned in
``comparison.json``: the demo projects (every dimension; a jury, a binarised view, a swapped
run-free pairwise project) and a project whose judge answered three samples per item.

Run ``python -m tests.golden.comparison_cases`` to rewrite ``comparison.json`` (only when a
change of the output is intended)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import cli
from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.database import Database
from storage.demo import load_demo
from storage.importer import import_file
from storage.migrations import migrate
from tests.converters import write_jsonl

GOLDEN = Path(__file__).with_name("comparison.json")

CASES: list[tuple[str, ...]] = [
    ("metrics", "--project", "correctness", "--bootstrap", "40", "--seed", "2"),
    ("metrics", "--project", "correctness", "--bootstrap", "40", "--jury",
     "pair=gpt-4o,llama-3.1-70b,prometheus-2-7b"),
    ("metrics", "--project", "pairwise", "--bootstrap", "40", "--seed", "1"),
    ("metrics", "--project", "exam_question", "--bootstrap", "40"),
    ("metrics", "--project", "exam_question", "--dimension", "difficulty", "--bootstrap", "40",
     "--binarize-at", "4", "--jury", "both=gpt-4o,llama-3.1-8b"),
    ("metrics", "--project", "thematic_alignment", "--bootstrap", "40"),
    ("metrics", "--project", "thematic_alignment", "--dimension", "missing_themes", "--bootstrap", "40"),
    ("metrics", "--project", "samples", "--bootstrap", "40"),
    ("audit", "--project", "correctness", "--bootstrap", "40"),
    ("audit", "--project", "pairwise", "--bootstrap", "40"),
    ("audit", "--project", "exam_question", "--bootstrap", "40"),
    ("audit", "--project", "samples", "--bootstrap", "40"),
]


def sample_records() -> list[dict[str, Any]]:
    """18 correctness items: judge ``s`` with three samples each, ``one`` with one, annotators
    ``ann`` (agreeing with the first sample) and ``bob`` (always correct)."""
    patterns = [("correct", "correct", "correct"), ("correct", "incorrect", "correct"),
                ("incorrect", "incorrect", "incorrect"), ("incorrect", "correct", "correct"),
                ("correct", "correct", "incorrect"), ("incorrect", "incorrect", "correct")] * 3
    return [{"id": f"q{i}", "prompt": f"Q{i}?", "response": f"A{i}",
             "judges": {"s": [{"correct": label} for label in labels],
                        "one": {"correct": labels[0]}},
             "humans": {"ann": {"correct": labels[0]}, "bob": {"correct": "correct"}}}
            for i, labels in enumerate(patterns)]


def load_cases(db: Database, folder: Path) -> None:
    """The demo projects and the project ``samples`` (judge ``s``: three samples per item)."""
    load_demo(db, actor=OPERATOR)
    import_file(db, write_jsonl(sample_records(), folder / "samples.jsonl"), project_name="samples",
                schema=TEMPLATES["correctness"], actor=OPERATOR)


def outputs(db: Database) -> dict[str, Any]:
    """Each case's exit code and output, JSON (parsed) and text, keyed by its arguments."""
    result = {}
    for case in CASES:
        for form in ("json", "text"):
            argv = ["--database", db.url, *case, *(["--json"] if form == "json" else [])]
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli.main(argv)
            text = out.getvalue()
            result[f"{' '.join(case)} [{form}]"] = {
                "code": code, "stderr": err.getvalue(),
                "stdout": json.loads(text) if form == "json" and code == 0 else text}
    return result


def main() -> int:
    """Rewrite the golden file from a fresh SQLite database."""
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{Path(folder) / 'golden.db'}")
        migrate(db)
        load_cases(db, Path(folder))
        GOLDEN.write_text(json.dumps(outputs(db), ensure_ascii=False, indent=1, sort_keys=False)
                          + "\n", encoding="utf-8")
        db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
