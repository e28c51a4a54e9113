"""Import -> database -> read-back keeps every value of the file exactly, in every format.

Expected values are derived from the records the test writes (and the templates' documented
aliases), never from Docket's own reader.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from core.templates import TEMPLATES
from storage.authz import OPERATOR
from storage.importer import import_file
from storage.projects import get_project
from storage.readback import human_labels_frame, items_frame, verdicts_frame
from tests.converters import WRITERS, Record

# 100,000 characters mixing scripts, emoji (incl. a ZWJ sequence) and combining marks.
_CHUNK = "Long text 🦜 مرحبا بالعالم שלום עולם cafe\u0301 👩\u200d👩\u200d👧 naïve\n"
BIG_TEXT = (_CHUNK * (100_000 // len(_CHUNK) + 1))[:100_000]
assert len(BIG_TEXT) == 100_000

# What each spelling used in the records means under the correctness template's labels.
CORRECTNESS_LABELS = {"correct": "correct", "Correct": "correct", "yes": "correct", "TRUE": "correct",
                      "incorrect": "incorrect", "Incorrect": "incorrect", "false": "incorrect",
                      "No": "incorrect"}

CORRECTNESS_RECORDS: list[Record] = [
    {
        "id": "q-1",
        "prompt": "What is 2 + 2?",
        "response": "4",
        "reference": "4",
        "model": "gpt-4o",
        "group": "arithmetic",
        "difficulty": "easy",
        "source_note": "written for the round-trip test",
        "judges": {
            "gpt-3.5-turbo": {"correct": "Correct", "rationale": "2 + 2 = 4.",
                              "raw": '{"verdict": "correct", "score": 1}'},
            "llama-3.1-70b": [
                {"correct": "yes", "rationale": "sample 0: matches", "raw": "CORRECT"},
                {"correct": "No", "rationale": "sample 1: doubts it", "raw": "INCORRECT"},
            ],
            "EM": {"correct": "TRUE"},
        },
        "humans": {
            "alice": {"correct": "correct", "comment": "Obviously right 👍"},
            "bob": {"correct": "Incorrect"},
        },
    },
    {
        "id": "q-2 ünïcode",
        "prompt": "Traduisez «bonjour» 🦜 — مرحبا بالعالم — שלום עולם",
        "response": "Cafe\u0301, \"quoted\", with a comma\nand a second line 👩\u200d👩\u200d👧\u200d👦",
        "reference": "ﷺ ‏RTL‏ mark and e\u0301\u0301 (two combining accents)",
        "model": "claude-3.5-sonnet",
        "group": "ריבוי שפות",
        "difficulty": "hard",
        "source_note": "ملاحظة",
        "judges": {
            "gpt-3.5-turbo": {"correct": "false", "rationale": "الجواب خاطئ — ✗",
                              "raw": "verdict:\n  incorrect"},
            "llama-3.1-70b": [{"correct": "incorrect", "rationale": "only one sample here"}],
            "EM": {"correct": "false"},
        },
        "humans": {"alice": {"correct": "Incorrect", "comment": "לא נכון\nsecond line, \"quoted\""}},
    },
    {
        "id": "q-3-big",
        "prompt": "Summarise the following text.",
        "response": BIG_TEXT,
        "judges": {"gpt-3.5-turbo": {"correct": "correct", "rationale": BIG_TEXT}},
    },
]

CORRECTNESS_FIELDS = ("prompt", "response", "reference")
RESERVED = {"id", "model", "group", "judges", "humans"}


def _none(value: Any) -> Any:
    """Map pandas' missing markers (NaN/None/NA) to None, leave everything else as is."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    return sorted(tuple(_none(v) for v in row) for row in frame[columns].itertuples(index=False))


def expected_items(records: list[Record], field_names: tuple[str, ...], *, as_text: bool
                   ) -> list[tuple[Any, ...]]:
    """(id, fields, model, group, metadata) as the records say; CSV metadata is text."""
    result = []
    for record in records:
        fields = {name: record[name] for name in field_names if record.get(name) not in (None, "")}
        metadata = {key: (str(value) if as_text else value) for key, value in record.items()
                    if key not in RESERVED and key not in field_names and value is not None}
        result.append((record["id"], fields, record.get("model"), record.get("group"),
                       metadata or None))
    return sorted(result, key=lambda row: row[0])


def expected_verdicts(records: list[Record], labels: dict[Any, str]) -> list[tuple[Any, ...]]:
    """(id, judge, sample_index, dimension, label, rationale, raw) for every judge label."""
    result = []
    for record in records:
        for judge, verdict in record.get("judges", {}).items():
            samples = verdict if isinstance(verdict, list) else [verdict]
            for index, sample in enumerate(samples):
                for key, value in sample.items():
                    if key in ("rationale", "raw") or value in (None, ""):
                        continue
                    result.append((record["id"], judge, index, key, labels[value],
                                   sample.get("rationale"), sample.get("raw")))
    return sorted(result)


def expected_human_labels(records: list[Record], labels: dict[Any, str]) -> list[tuple[Any, ...]]:
    """(id, annotator, dimension, label, comment, source, revision) for every prior label."""
    result = []
    for record in records:
        for annotator, given in record.get("humans", {}).items():
            for key, value in given.items():
                if key != "comment" and value not in (None, ""):
                    result.append((record["id"], annotator, key, labels[value],
                                   given.get("comment"), "import", 1))
    return sorted(result)


def read_back(db, project: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    with db.read() as session:
        project_id = get_project(session=session, name=project).id
        return (items_frame(session=session, project_id=project_id),
                verdicts_frame(session=session, project_id=project_id),
                human_labels_frame(session=session, project_id=project_id))


ITEM_COLUMNS = ["id", "fields", "model", "group", "metadata"]
VERDICT_COLUMNS = ["id", "judge", "sample_index", "dimension", "label", "rationale", "raw_output"]
LABEL_COLUMNS = ["id", "annotator", "dimension", "label", "comment", "source", "revision"]


def _items(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    return sorted(((row.id, row.fields, _none(row.model), _none(row.group), row.metadata)
                   for row in frame.itertuples(index=False)), key=lambda row: row[0])


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_correctness_round_trip(db, tmp_path: Path, fmt: str) -> None:
    path = WRITERS[fmt](CORRECTNESS_RECORDS, tmp_path / f"items.{fmt}")

    batch, summary = import_file(db, path, project_name="rt", schema=TEMPLATES["correctness"], actor=OPERATOR)

    assert batch.problems == []
    assert (summary.added, summary.updated, summary.unchanged, summary.skipped) == (3, 0, 0, 0)
    assert summary.judges == ("EM", "gpt-3.5-turbo", "llama-3.1-70b")
    assert summary.annotators == ("alice", "bob")
    assert summary.verdicts == 8
    assert summary.human_labels == 3
    items, verdicts, humans = read_back(db, "rt")
    assert _items(items) == expected_items(CORRECTNESS_RECORDS, CORRECTNESS_FIELDS,
                                           as_text=fmt == "csv")
    assert _rows(verdicts, VERDICT_COLUMNS) == expected_verdicts(CORRECTNESS_RECORDS,
                                                                 CORRECTNESS_LABELS)
    assert _rows(humans, LABEL_COLUMNS) == expected_human_labels(CORRECTNESS_RECORDS,
                                                                 CORRECTNESS_LABELS)


def test_round_trip_keeps_text_byte_exact(db, tmp_path: Path) -> None:
    """No Unicode normalisation, no newline or whitespace changes anywhere."""
    path = WRITERS["csv"](CORRECTNESS_RECORDS, tmp_path / "items.csv")
    import_file(db, path, project_name="rt", schema=TEMPLATES["correctness"], actor=OPERATOR)
    items, verdicts, _ = read_back(db, "rt")
    fields = dict(zip(items["id"], items["fields"], strict=True))

    assert fields["q-2 ünïcode"]["response"].encode("utf-8") == CORRECTNESS_RECORDS[1]["response"].encode()
    assert "e\u0301\u0301" in fields["q-2 ünïcode"]["reference"]  # not NFC-composed to é
    assert fields["q-3-big"]["response"] == BIG_TEXT
    assert len(fields["q-3-big"]["response"]) == 100_000
    big_rationale = verdicts.loc[verdicts["id"] == "q-3-big", "rationale"].item()
    assert big_rationale == BIG_TEXT


def test_jsonl_keeps_metadata_types(db, tmp_path: Path) -> None:
    records = [
        {"id": "a", "prompt": "p", "tokens": 42, "score": 0.5, "flag": True, "tags": ["x", "y"]},
        {"id": "b", "prompt": "q", "tokens": 7},
    ]
    path = WRITERS["jsonl"](records, tmp_path / "meta.jsonl")
    import_file(db, path, project_name="meta", schema=TEMPLATES["correctness"], actor=OPERATOR)
    items, _, _ = read_back(db, "meta")
    metadata = dict(zip(items["id"], items["metadata"], strict=True))
    assert metadata == {"a": {"tokens": 42, "score": 0.5, "flag": True, "tags": ["x", "y"]},
                        "b": {"tokens": 7}}


def test_jsonl_exact_path_round_trip(db, tmp_path: Path) -> None:
    """Mixed types in one column make pyarrow give up; the record-by-record path must agree."""
    records = [dict(record) for record in CORRECTNESS_RECORDS]
    records[0]["mixed"] = 1
    records[1]["mixed"] = "one"
    path = WRITERS["jsonl"](records, tmp_path / "mixed.jsonl")
    batch, _ = import_file(db, path, project_name="rt", schema=TEMPLATES["correctness"], actor=OPERATOR)
    assert batch.problems == []
    items, verdicts, humans = read_back(db, "rt")
    assert _items(items) == expected_items(records, CORRECTNESS_FIELDS, as_text=False)
    assert _rows(verdicts, VERDICT_COLUMNS) == expected_verdicts(records, CORRECTNESS_LABELS)
    assert _rows(humans, LABEL_COLUMNS) == expected_human_labels(records, CORRECTNESS_LABELS)


# --- ordinal labels given as numbers -------------------------------------------------------

EXAM_DIMENSIONS = ("correctness", "evidence_based", "professionalism", "relevance", "difficulty")
# Ordinal labels may be numbers: 4, 4.0, "4" and "4.0" all mean the label "4".
NUMBER_LABELS: dict[Any, str] = {**{n: str(n) for n in range(1, 6)},
                                 **{float(n): str(n) for n in range(1, 6)},
                                 **{str(n): str(n) for n in range(1, 6)},
                                 **{f"{n}.0": str(n) for n in range(1, 6)}}


def exam_records(*, numbers_as_text: bool) -> list[Record]:
    def value(n: float) -> Any:
        return (f"{n}" if numbers_as_text else n)

    return [
        {"id": "e1", "source": "Photosynthesis converts light into chemical energy.",
         "prompt": "What does photosynthesis convert light into?", "response": "Chemical energy",
         "judges": {"gpt-4o": {**{d: value(n) for d, n in zip(EXAM_DIMENSIONS, (5, 4, 3, 2, 1),
                                                                    strict=True)},
                               "rationale": "graded 5-4-3-2-1"}},
         "humans": {"expert": {d: value(n) for d, n in zip(EXAM_DIMENSIONS, (4.0, 4.0, 5.0, 3.0, 2.0),
                                                           strict=True)}}},
        {"id": "e2", "prompt": "Name a noble gas.", "response": "Argon",
         "judges": {"gpt-4o": {d: value(1) for d in EXAM_DIMENSIONS}}},
    ]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_exam_question_numeric_labels(db, tmp_path: Path, fmt: str) -> None:
    records = exam_records(numbers_as_text=fmt == "csv")
    path = WRITERS[fmt](records, tmp_path / f"exam.{fmt}")

    batch, summary = import_file(db, path, project_name="exam", schema=TEMPLATES["exam_question"],
                                 actor=OPERATOR)

    assert batch.problems == []
    assert (summary.added, summary.verdicts, summary.human_labels) == (2, 10, 5)
    _, verdicts, humans = read_back(db, "exam")
    assert _rows(verdicts, VERDICT_COLUMNS) == expected_verdicts(records, NUMBER_LABELS)
    assert _rows(humans, LABEL_COLUMNS) == expected_human_labels(records, NUMBER_LABELS)
    e1 = verdicts[verdicts["id"] == "e1"].set_index("dimension")["label"].to_dict()
    assert e1 == {"correctness": "5", "evidence_based": "4", "professionalism": "3",
                  "relevance": "2", "difficulty": "1"}


# --- a list of source texts ----------------------------------------------------------------

THEMATIC_LABELS: dict[Any, str] = {4: "4", "5 · Faithful": "5", "true": "yes", "No": "no", "2": "2"}
THEMATIC_RECORDS: list[Record] = [
    {"id": "t1",
     "source": ["Too expensive 💸", "Price is high; staff friendly", "غالي جدا", ""],
     "response": "Themes: price (3 of 4), friendly staff (1 of 4)",
     "judges": {"gpt-3.5-turbo": {"alignment": 4, "missing_themes": "true", "unsupported_claims": "No"}},
     "humans": {"ana": {"alignment": "5 · Faithful", "missing_themes": "No",
                        "comment": "weights match"}}},
    {"id": "t2", "source": ["single answer"], "response": "One theme",
     "judges": {"gpt-3.5-turbo": {"alignment": 4}}},
]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_thematic_alignment_list_source(db, tmp_path: Path, fmt: str) -> None:
    path = WRITERS[fmt](THEMATIC_RECORDS, tmp_path / f"themes.{fmt}")

    batch, _ = import_file(db, path, project_name="themes", schema=TEMPLATES["thematic_alignment"],
                           actor=OPERATOR)

    assert batch.problems == []
    items, verdicts, humans = read_back(db, "themes")
    assert _items(items) == expected_items(THEMATIC_RECORDS, ("source", "response"), as_text=False)
    assert dict(zip(items["id"], items["fields"], strict=True))["t1"]["source"] == [
        "Too expensive 💸", "Price is high; staff friendly", "غالي جدا", ""]
    assert _rows(verdicts, VERDICT_COLUMNS) == expected_verdicts(THEMATIC_RECORDS, THEMATIC_LABELS)
    assert _rows(humans, LABEL_COLUMNS) == expected_human_labels(THEMATIC_RECORDS, THEMATIC_LABELS)


def test_columns_no_row_fills_are_stored_as_null(db, tmp_path: Path) -> None:
    """No rationale, raw output, comment, model, group or metadata anywhere in the file.

    The writer leaves such columns out of its statements (and writes its own constants into
    them); what is stored must be what binding every value would have stored.
    """
    records = [{"id": f"r-{i}", "prompt": f"p{i}", "response": f"a{i}",
                "judges": {"j1": {"correct": "correct"}, "j2": {"correct": "incorrect"}},
                "humans": {"alice": {"correct": "correct"}}} for i in range(3)]
    path = WRITERS["jsonl"](records, tmp_path / "bare.jsonl")
    _, summary = import_file(db, path, project_name="bare", schema=TEMPLATES["correctness"], actor=OPERATOR)
    assert (summary.added, summary.verdicts, summary.human_labels) == (3, 6, 3)

    items, verdicts, humans = read_back(db, "bare")
    assert _items(items) == expected_items(records, CORRECTNESS_FIELDS, as_text=False)
    assert _rows(verdicts, VERDICT_COLUMNS) == expected_verdicts(records, CORRECTNESS_LABELS)
    assert _rows(humans, LABEL_COLUMNS) == expected_human_labels(records, CORRECTNESS_LABELS)
    with db.read() as session:
        stamps = session.connection().exec_driver_sql(
            "SELECT MIN(i.created_at), MAX(i.updated_at), MIN(v.created_at), MAX(v.created_at), "
            "MIN(a.created_at), MAX(a.updated_at), COUNT(a.blind), MIN(p.id), MAX(i.project_id) "
            "FROM item i JOIN verdict v ON v.item_id = i.id JOIN annotation a ON a.item_id = i.id "
            "JOIN project p ON p.name = 'bare'").one()
    assert stamps[0] is not None and len(set(stamps[:6])) == 1  # one import time everywhere
    assert stamps[6] == 0  # blind is unknown for imported labels, not "true"
    assert stamps[7] == stamps[8]

    # A re-import that adds a comment and changes a label goes through the upsert path.
    records[0]["humans"] = {"alice": {"correct": "incorrect", "comment": "it's wrong"}}
    WRITERS["jsonl"](records, path)
    _, summary = import_file(db, path, project_name="bare", schema=None, actor=OPERATOR)
    assert (summary.updated, summary.unchanged) == (1, 2)
    _, _, humans = read_back(db, "bare")
    assert _rows(humans, LABEL_COLUMNS)[0] == ("r-0", "alice", "correct", "incorrect",
                                               "it's wrong", "import", 2)

