"""The output of ``cli.py metrics`` and ``cli.py audit`` (JSON and text) on the demo data and
a multi-sample project is exactly the one pinned in tests/golden/comparison.json, written
before the comparison result became typed (issue 16, item 9): the typed result's ``to_dict``
must reproduce the JSON that scripts already read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.golden.comparison_cases import CASES, GOLDEN, load_cases, outputs


@pytest.fixture(scope="module")
def current(tmp_path_factory):
    from storage.database import Database
    from storage.migrations import migrate

    folder = tmp_path_factory.mktemp("golden")
    db = Database(f"sqlite:///{folder / 'golden.db'}")
    migrate(db)
    load_cases(db, folder)
    yield outputs(db)
    db.dispose()


def test_every_case_is_pinned():
    pinned = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert len(pinned) == 2 * len(CASES)
    assert all(entry["code"] == 0 and entry["stderr"] == "" for entry in pinned.values())


def rounded(value: Any) -> Any:
    """``value`` with every float rounded to 12 significant digits: the last bits of a mean
    or a bootstrap bound differ between numpy builds (SIMD summation order), not the figure."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items()}
    if isinstance(value, list):
        return [rounded(item) for item in value]
    return value


def test_rounding_keeps_twelve_digits_and_the_key_order():
    assert rounded({"b": [0.1 + 0.2], "a": 1 / 3}) == {"b": [0.3], "a": 0.333333333333}
    assert list(rounded({"b": 1.0, "a": 2.0})) == ["b", "a"]
    assert rounded(0.339828954964) != rounded(0.339828954965)  # 12 digits still count


@pytest.mark.parametrize("case", [f"{' '.join(c)} [{f}]" for c in CASES for f in ("json", "text")])
def test_output_unchanged(current, case):
    pinned = json.loads(GOLDEN.read_text(encoding="utf-8"))[case]
    # Compared as text so key order counts too.
    assert json.dumps(rounded(current[case]), ensure_ascii=False, indent=1) == json.dumps(
        rounded(pinned), ensure_ascii=False, indent=1)
