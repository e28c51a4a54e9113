"""Problems found while reading or validating an import file, and how they are reported.

One reporting path for the CLI and the Import page: :func:`problem_lines` shows the first
:data:`PRINTED_PROBLEMS` (then how many more, and where the full report is), and
:func:`problems_jsonl` is that full report, one JSON object per problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

PRINTED_PROBLEMS = 20
_LINE = re.compile(r"^line (\d+)$")


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """One thing wrong with an import file, located precisely enough to fix it.

    ``location`` is ``"line N"`` (JSONL, CSV: the physical line where the record starts),
    ``"row N"`` (Parquet, 1-based) or ``"header"``/``"file"`` for whole-file problems.
    ``row`` is the 0-based index of the parsed record, or None when the problem is not
    tied to a record that could be skipped.
    """

    file: str
    location: str
    field: str
    reason: str
    row: int | None = None

    def __str__(self) -> str:
        field = f" {self.field}:" if self.field else ""
        return f"{self.file}:{self.location}:{field} {self.reason}"

    @property
    def line(self) -> int | None:
        """The 1-based line number of a ``"line N"`` location, else None."""
        match = _LINE.match(self.location)
        return int(match.group(1)) if match else None

    def to_dict(self) -> dict[str, str | int | None]:
        """The problem as one entry of the full report: ``file``, ``location``, ``line``,
        ``field`` and ``message`` (see :func:`problems_jsonl`)."""
        return {"file": self.file, "location": self.location, "line": self.line,
                "field": self.field, "message": self.reason}


def problem_lines(problems: Sequence[ImportProblem], *, limit: int = PRINTED_PROBLEMS,
                  report: str | None = None) -> list[str]:
    """Return the first ``limit`` problems as text, one per line, then a line saying how many
    more there are (naming ``report``, the file holding all of them, when given).
    """
    lines = [str(problem) for problem in problems[:limit]]
    rest = len(problems) - len(lines)
    if rest > 0:
        lines.append(f"... and {rest:,} more problems" + (f"; full report: {report}" if report else ""))
    return lines


def report_file_name(file: str) -> str:
    """Return the file name of the full problem report of ``file``: ``<stem>.problems.jsonl``."""
    return f"{PurePath(file).stem}.problems.jsonl"


def problems_jsonl(problems: Sequence[ImportProblem]) -> bytes:
    """Return every problem as JSON Lines: ``file``, ``location``, ``line`` (the number of a
    ``"line N"`` location, else null), ``field`` and ``message``, in the order given.
    """
    return b"".join(
        json.dumps(p.to_dict(), ensure_ascii=False)
        # A lone surrogate from a broken file stays a valid JSON escape ("\udc80").
        .encode("utf-8", "backslashreplace") + b"\n"
        for p in problems)


class ImportFileError(ValueError):
    """The file cannot be imported at all (wrong format, missing column, unreadable).

    ``problems`` lists every file-level problem; the message lists them one per line (the
    first :data:`PRINTED_PROBLEMS`, then how many more).
    """

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(problem_lines(problems)))
