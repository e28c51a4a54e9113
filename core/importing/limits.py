"""How much an import may hold: the reader and the validator check these limits.

``cli.py import`` and the Import page pass the same :class:`ImportLimits` (their options and
fields are named after these attributes); the defaults fit a 2-core machine with a few GB.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_NAME_CHARS = 200
MiB = 1 << 20


@dataclass(frozen=True)
class ImportLimits:
    """Limits of one import.

    ``max_text_chars``: longest text value (characters). ``max_name_chars``: longest id, model,
    group or rater name. ``max_total_bytes``: the most data a file may hold: its size, and for
    Parquet the size of its decoded data, counted while reading. ``max_rows``: the most records
    (for Parquet read from the file's metadata). ``max_depth``: the deepest nesting of arrays
    and objects in a record, the record itself being level 1.
    """

    max_text_chars: int = 1_000_000
    max_name_chars: int = MAX_NAME_CHARS
    max_total_bytes: int = 512 * MiB
    max_rows: int = 1_000_000
    max_depth: int = 64

    def __post_init__(self) -> None:
        for name in ("max_text_chars", "max_name_chars", "max_total_bytes", "max_rows",
                     "max_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
