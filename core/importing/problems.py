"""Problems found while reading or validating an import file."""

from __future__ import annotations

from dataclasses import dataclass


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


class ImportFileError(ValueError):
    """The file cannot be imported at all (wrong format, missing column, unreadable).

    ``problems`` lists every file-level problem; the message is the first one plus a count.
    """

    def __init__(self, problems: list[ImportProblem]) -> None:
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")
