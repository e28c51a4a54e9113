"""Content digests for re-import: pinned values, column semantics, and the version 1 digest.

The pinned digests were computed once and written here; if a library update changes them,
this test fails instead of every stored project reporting all its rows as changed.
"""

from __future__ import annotations

import pytest

from core.importing import read_import_bytes, validate_table
from core.importing.content_hash import content_hashes, is_legacy_hash
from core.templates import TEMPLATES

RECORDS = (
    b'{"id": "q1", "prompt": "Who wrote Faust? \\u00e9\\ud83d\\ude00", "response": "Goethe", '
    b'"model": "m1", "group": "lit", "source_url": "x", '
    b'"judges": {"gpt": {"correct": "correct", "rationale": "Right."}}, '
    b'"humans": {"ann": {"correct": "1"}}}\n'
    b'{"id": "q2", "prompt": "2+2?", "response": "5", "reference": "4", '
    b'"judges": {"gpt": {"correct": "incorrect"}}}\n'
)


def batch():
    return validate_table(read_import_bytes(RECORDS, fmt="jsonl", name="t.jsonl"),
                          TEMPLATES["correctness"])


def test_version_2_digests_are_stable():
    assert [row.content_hash for row in batch().rows] == ["v2:528591511d3f55ac", "v2:5402217397b467f9"]


def test_version_1_digests_match_what_docket_0_5_stored():
    # Computed by Docket 0.5's validate_table on the same records (BLAKE2b of fields + repr).
    found = batch()
    assert [found.legacy_content_hash(i) for i in range(2)] == [
        "35b1cb7a4f1fe49a43f6864dc340d814", "2902a85f39e028d3411a0b6009d9927b"]
    assert [is_legacy_hash(h) for h in ("35b1cb7a4f1fe49a43f6864dc340d814", "v2:5402217397b467f9")
            ] == [True, False]


def test_column_order_does_not_matter_and_none_is_absent():
    a = [("x", ["1", "2"]), ("y", ["a", None])]
    assert content_hashes(a, 2) == content_hashes(a[::-1], 2)
    without_y = content_hashes([("x", ["1", "2"])], 2)
    with_empty_y = content_hashes([("x", ["1", "2"]), ("y", [None, None])], 2)
    assert without_y == with_empty_y
    assert content_hashes(a, 2)[1] == without_y[1] and content_hashes(a, 2)[0] != without_y[0]


def test_the_same_value_under_another_column_is_a_different_row():
    assert content_hashes([("x", ["v"])], 1) != content_hashes([("y", ["v"])], 1)
    assert content_hashes([("x", ["a"]), ("y", ["b"])], 1) != content_hashes(
        [("x", ["b"]), ("y", ["a"])], 1)


def test_every_distinct_row_gets_its_own_digest():
    # Label columns (factorised) and long texts (hashed directly) alike.
    labels = [str(i % 3) for i in range(3000)]
    texts = [f"text {i} " * 30 for i in range(3000)]
    digests = content_hashes([("label", labels), ("text", texts)], 3000)
    assert len(set(digests)) == 3000
    assert all(len(d) == 19 and d.startswith("v2:") for d in digests)


def test_bad_columns_are_refused():
    with pytest.raises(TypeError, match="'x' holds \\['int'\\]"):
        content_hashes([("x", [1])], 1)
    with pytest.raises(ValueError, match="'x' has 2 values, expected 1"):
        content_hashes([("x", ["a", "b"])], 1)


def test_an_empty_cell_of_a_label_column_counts_as_absent():
    # A column of few distinct values is hashed through pandas' categories, where None is
    # coded apart: an empty cell must still leave the row's digest as if the column were not there.
    labels = ["correct", "incorrect", None] * 100
    texts = [f"row {i}" for i in range(300)]
    with_labels = content_hashes([("text", texts), ("judge.gpt.correct", labels)], 300)
    without = content_hashes([("text", texts)], 300)
    assert [a == b for a, b in zip(with_labels, without, strict=True)] == [
        label is None for label in labels]
