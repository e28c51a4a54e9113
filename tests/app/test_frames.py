"""Pure table builders and text escaping used by the pages (no Streamlit needed)."""

import json
import string
from datetime import datetime

import pandas as pd
import pytest

from components.frames import (
    display_value,
    plural,
    preview_frame,
    problems_frame,
    projects_frame,
    schema_frame,
    summary_counts,
    truncate,
)
from core.importing import ImportProblem, read_import_bytes
from core.safe_text import escape_markdown
from core.schema import schema_from_dict
from core.templates import TEMPLATES
from storage.importer import ImportSummary
from storage.projects import ProjectSummary


def test_plural():
    assert [plural(n, "record") for n in (0, 1, 2, 1000)] == [
        "0 records", "1 record", "2 records", "1,000 records"]


def test_truncate_keeps_short_text_and_cuts_long_text_to_the_limit():
    assert truncate("abc", 3) == "abc"
    assert truncate("abcd", 3) == "ab…"
    assert len(truncate("x" * 1000, 200)) == 200
    with pytest.raises(ValueError, match="limit must be at least 1, got 0"):
        truncate("abc", 0)


def test_display_value_shows_non_text_as_json():
    assert display_value(None) is None
    assert display_value("plain") == "plain"
    assert display_value(3) == "3"
    assert display_value(["a", "ü"]) == '["a", "ü"]'
    assert display_value({"k": [1, 2]}, limit=6) == '{"k":…'


def test_preview_frame_shows_the_first_rows_of_the_wide_columns_as_text():
    records = [{"id": i, "prompt": "p" * 500, "source": ["a", "b"],
                "judges": {"j": {"correct": "yes", "rationale": "r"}}} for i in range(30)]
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    raw = read_import_bytes(data, fmt="jsonl", name="x.jsonl")
    frame = preview_frame(raw, rows=5, limit=50)
    assert list(frame.columns) == ["id", "prompt", "source", "judge.j.correct", "judge.j.rationale"]
    assert list(frame.index) == ["line 1", "line 2", "line 3", "line 4", "line 5"]
    assert list(frame["id"]) == ["0", "1", "2", "3", "4"]
    assert frame["prompt"].iloc[0] == "p" * 49 + "…"
    assert frame["source"].iloc[0] == '["a", "b"]'
    assert all(isinstance(v, str) for column in frame.columns for v in frame[column])


def test_preview_frame_of_a_short_file_has_all_rows_and_keeps_missing_values():
    raw = read_import_bytes(b"id,prompt,response\n1,q,\n\n2,r,a\n", fmt="csv", name="x.csv")
    frame = preview_frame(raw)
    assert frame.values.tolist() == [["1", "q", ""], ["2", "r", "a"]]
    assert list(frame.index) == ["line 2", "line 4"]  # the blank line 3 is no record
    raw = read_import_bytes(b'{"id": 1}\n{"id": 2, "x": "y"}\n', fmt="jsonl", name="x.jsonl")
    column = preview_frame(raw)["x"]
    assert pd.isna(column.iloc[0]) and column.iloc[1] == "y"
    assert (preview_frame(raw).dtypes == "str").all()


def test_problems_frame_lists_location_field_reason_and_caps_the_rows():
    problems = [ImportProblem("f", f"line {n}", "id", "missing id", n) for n in range(1, 6)]
    frame = problems_frame(problems, limit=3)
    assert frame.values.tolist() == [["line 1", "id", "missing id"], ["line 2", "id", "missing id"],
                                     ["line 3", "id", "missing id"]]
    assert list(problems_frame([]).columns) == ["location", "field", "reason"]


def test_projects_frame_columns():
    when = datetime(2024, 1, 1)
    frame = projects_frame([ProjectSummary("b", "pairwise", 10, 2, 7, when),
                            ProjectSummary("a", "correctness", 0, 0, 0, when)])
    assert list(frame.columns) == ["project", "template", "items", "judges", "human labels"]
    assert frame.values.tolist() == [["b", "pairwise", 10, 2, 7], ["a", "correctness", 0, 0, 0]]


def test_schema_frame_lists_labels_in_scale_order_and_interval_bounds():
    assert schema_frame(TEMPLATES["correctness"]).values.tolist() == [
        ["correct", "nominal", "correct, incorrect"]]
    exam = schema_frame(TEMPLATES["exam_question"])
    assert exam["labels"][0] == "1, 2, 3, 4, 5"
    interval = schema_from_dict({
        "name": "t", "fields": [{"name": "prompt"}],
        "dimensions": [{"name": "score", "scale": "interval", "min": 0, "max": 1.5},
                       {"name": "free", "scale": "interval"}]})
    assert schema_frame(interval)["labels"].tolist() == ["number 0…1.5", "any number"]


def test_summary_counts_in_display_order():
    summary = ImportSummary(project="p", created_project=True, total_records=9, added=4, updated=1,
                            unchanged=2, skipped=2, verdicts=11, human_labels=3, judges=("j",),
                            annotators=("a",))
    assert summary_counts(summary) == {"added": 4, "updated": 1, "unchanged": 2, "skipped": 2,
                                       "verdicts": 11, "human labels": 3}


def _unescape(text: str) -> str:
    """CommonMark: a backslash before ASCII punctuation yields the punctuation itself."""
    out, chars = [], iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars)
            assert following in string.punctuation
            out.append(following)
        else:
            out.append(char)
    return "".join(out)


@pytest.mark.parametrize("text", [
    "![tracker](http://example.invalid/pixel.png)",
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code` # heading",
    ":red[colour] :material/home: $x^2$",
    "a\\b [link](javascript:alert(1)) | table |",
    "plain text, ünïcödé\nsecond line",
])
def test_escape_markdown_leaves_no_active_punctuation_and_round_trips(text):
    escaped = escape_markdown(text)
    assert _unescape(escaped) == text
    # Every punctuation character is preceded by a backslash, so none can start markup.
    for index, char in enumerate(escaped):
        if char in string.punctuation and char != "\\":
            assert escaped[index - 1] == "\\"
    assert escape_markdown(42) == "42"
