"""Per-row content digests, so a re-import can tell unchanged, changed and new rows apart.

A digest covers everything a row says: its text fields, metadata, model, group and every
judge/human value, each under its column name. Column order does not matter, and a column that
is empty in a row (say a judge added for other rows) leaves that row's digest alone.

Version 2 (``"v2:"`` + 16 hex digits) is computed column by column with vectorised SipHash
(``pandas.util.hash_array``, documented as deterministic): 0.4 s for 100k rows of 1 KB, where
the per-row BLAKE2 of a ``repr`` in version 1 took 1.0 s. It is 64 bits: a changed row is
mistaken for its unchanged self with probability 2**-64, and digests are only ever compared
with the stored digest of the same item. Version 1 digests (32 hex digits) written by Docket
0.5 and earlier are still recognised: :func:`legacy_content_hash` recomputes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from pandas.util import hash_array

HASH_PREFIX = "v2:"


def content_hashes(columns: Iterable[tuple[str, Sequence[str | None]]], n_rows: int) -> list[str]:
    """Return one ``"v2:..."`` digest per row over the named columns' present values.

    Every column must hold ``n_rows`` strings or None (None = absent). Raises ValueError for a
    column of the wrong length and TypeError for a value that is not a string.
    """
    total = np.zeros(n_rows, dtype=np.uint64)
    for name, values in columns:
        if len(values) != n_rows:
            raise ValueError(f"column {name!r} has {len(values)} values, expected {n_rows}")
        kinds = set(map(type, values)) - {type(None)}
        if not kinds <= {str}:
            raise TypeError(f"column {name!r} holds {sorted(k.__name__ for k in kinds)}, not strings")
        array = np.array(values, dtype=object)  # only strings and None: stays 1-dimensional
        absent = np.equal(array, None).astype(bool)  # None only (strings were checked above)
        if absent.all():
            continue
        mixed = _splitmix(hash_array(array, categorize=_few_distinct(values)) ^ _name_hash(name))
        mixed[absent] = 0
        total += mixed  # wraps modulo 2**64: the sum does not depend on column order
    # Hex of the big-endian bytes, cut into 16-digit digests: half the time of formatting
    # each number (0.03 s vs 0.06-0.09 s per 100k rows).
    digits = total.astype(">u8").tobytes().hex()
    return [HASH_PREFIX + digits[start:start + 16] for start in range(0, len(digits), 16)]


def is_legacy_hash(digest: str) -> bool:
    """True for a version 1 digest (stored by Docket 0.5 and earlier)."""
    return not digest.startswith(HASH_PREFIX)


def legacy_content_hash(fields_json: str, metadata_json: str | None, model: str | None,
                        group: str | None, labels: list[tuple[str, Any]]) -> str:
    """Return the version 1 digest of a row (BLAKE2b-128 of its fields JSON and a ``repr``).

    ``labels`` are the row's present ``(column, value)`` pairs of judge/human columns in sorted
    column order, as version 1 hashed them.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(fields_json.encode("utf-8", errors="surrogatepass"))
    digest.update(repr((metadata_json, model, group, labels)).encode("utf-8", errors="surrogatepass"))
    return digest.hexdigest()


def _few_distinct(values: Sequence[str | None]) -> bool:
    # Factorising first pays off for label columns (a handful of values), not for long texts.
    sample = values[:200]
    return len(set(sample)) * 4 < len(sample)


def _name_hash(name: str) -> np.uint64:
    return hash_array(np.array([name], dtype=object), categorize=False)[0]


def _splitmix(values: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: spreads each 64-bit value over all 64 bits."""
    values = values.copy()
    values ^= values >> np.uint64(30)
    values *= np.uint64(0xBF58476D1CE4E5B9)
    values ^= values >> np.uint64(27)
    values *= np.uint64(0x94D049BB133111EB)
    values ^= values >> np.uint64(31)
    return values
