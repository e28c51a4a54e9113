"""Validation of import files: every bad input is reported as ``<file>:line N: <field>: <reason>``.

Each case of the import contract is checked in JSONL and CSV where it applies; the messages
are compared in full, because the message is what the user gets to fix the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.importing import (
    PRINTED_PROBLEMS,
    ImportBatch,
    ImportFileError,
    ImportLimits,
    ImportProblem,
    ImportRejected,
    check_policy,
    problem_lines,
    problems_jsonl,
    read_import_bytes,
    validate_table,
)
from core.schema import TaskSchema
from core.templates import TEMPLATES

CORRECTNESS = TEMPLATES["correctness"]
PAIRWISE = TEMPLATES["pairwise"]
THEMATIC = TEMPLATES["thematic_alignment"]
EXAM = TEMPLATES["exam_question"]


def validate_jsonl(*lines: str | bytes | dict, schema: TaskSchema = CORRECTNESS,
                   limits: ImportLimits | None = None) -> ImportBatch:
    """Validate a JSONL file ``f.jsonl`` made of ``lines`` (dicts are dumped as JSON)."""
    parts = []
    for line in lines:
        if isinstance(line, dict):
            line = json.dumps(line, ensure_ascii=False)
        parts.append(line if isinstance(line, bytes) else line.encode("utf-8"))
    raw = read_import_bytes(b"\n".join(parts) + b"\n", fmt="jsonl", name="f.jsonl")
    return validate_table(raw, schema, limits=limits)


def validate_csv(*lines: str | bytes, schema: TaskSchema = CORRECTNESS,
                 limits: ImportLimits | None = None) -> ImportBatch:
    """Validate a CSV file ``f.csv`` made of ``lines`` (the first is the header)."""
    parts = [line if isinstance(line, bytes) else line.encode("utf-8") for line in lines]
    raw = read_import_bytes(b"\n".join(parts) + b"\n", fmt="csv", name="f.csv")
    return validate_table(raw, schema, limits=limits)


def problems(batch: ImportBatch) -> list[str]:
    return [str(problem) for problem in batch.problems]


def ids(batch: ImportBatch) -> list[str]:
    return [row.external_id for row in batch.rows]


def item(item_id: str, label: object = "correct", **extra: object) -> dict:
    return {"id": item_id, "prompt": f"question {item_id}", "response": "answer",
            "judges": {"gpt-4": {"correct": label}}, **extra}


HEADER = "id,prompt,response,judge.gpt-4.correct"


# --- unknown labels --------------------------------------------------------------------------

def test_unknown_label_jsonl():
    batch = validate_jsonl(item("q1"), item("q2", "maybe"), item("q3", "no"))
    assert problems(batch) == [
        "f.jsonl:line 2: judge.gpt-4.correct: unknown label 'maybe' (allowed: correct, incorrect)"]
    assert ids(batch) == ["q1", "q3"]
    assert batch.problems[0].row == 1


def test_unknown_label_csv():
    batch = validate_csv(HEADER, "q1,p,a,correct", "q2,p,a,maybe", "q3,p,a,no")
    assert problems(batch) == [
        "f.csv:line 3: judge.gpt-4.correct: unknown label 'maybe' (allowed: correct, incorrect)"]
    assert ids(batch) == ["q1", "q3"]


@pytest.mark.parametrize("line", [
    b'{"id": "q2", "pr\xffompt": "p"}',  # a key
    b'{"id": "q2", "prompt": "p", "judges": {"gpt": {"correct": "correct", "rationale": "r\xe9s"}}}',
    b'{"id": "q2", "prompt": "p", "judges": {"g\xf0t": {"correct": "correct"}}}',  # a judge name
], ids=["key", "nested-value", "judge-name"])
def test_undecodable_bytes_anywhere_in_a_jsonl_record(line):
    first_bad = next(i for i, b in enumerate(line) if b >= 0x80)  # offset from 0, as Python reports
    batch = validate_jsonl(item("q1"), line, item("q3"))
    assert problems(batch) == [
        f"f.jsonl:line 2: undecodable bytes: not UTF-8 at byte {first_bad} of the line"]
    assert ids(batch) == ["q1", "q3"]


def test_unknown_human_label_names_the_human_column():
    batch = validate_csv("id,prompt,human.dr.who.correct,human.dr.who.comment",
                         "q1,p,perhaps,unsure")
    assert problems(batch) == [
        "f.csv:line 2: human.dr.who.correct: unknown label 'perhaps' (allowed: correct, incorrect)"]


# --- ids -------------------------------------------------------------------------------------

def test_missing_id_jsonl():
    no_key = {"prompt": "p"}
    batch = validate_jsonl(item("q1"), no_key, {"id": None, "prompt": "p"}, {"id": "", "prompt": "p"})
    assert problems(batch) == ["f.jsonl:line 2: id: missing id", "f.jsonl:line 3: id: missing id",
                               "f.jsonl:line 4: id: missing id"]
    assert ids(batch) == ["q1"]


def test_missing_id_csv():
    batch = validate_csv("id,prompt", "q1,p", ",p")
    assert problems(batch) == ["f.csv:line 3: id: missing id"]


def test_duplicate_id_names_the_first_line_jsonl():
    batch = validate_jsonl(item("q1"), item("q2"), item("q1", "no"), item("q1"))
    assert problems(batch) == ["f.jsonl:line 3: id: duplicate id 'q1' (first at line 1)",
                               "f.jsonl:line 4: id: duplicate id 'q1' (first at line 1)"]
    assert ids(batch) == ["q1", "q2"]


def test_duplicate_id_names_the_first_line_csv():
    batch = validate_csv(HEADER, "q1,p,a,yes", "q2,p,a,no", "q1,p,a,no")
    assert problems(batch) == ["f.csv:line 4: id: duplicate id 'q1' (first at line 2)"]


def test_integer_and_string_ids_with_the_same_text_are_duplicates():
    batch = validate_jsonl({"id": 7, "prompt": "p"}, {"id": "7", "prompt": "p"})
    assert problems(batch) == ["f.jsonl:line 2: id: duplicate id '7' (first at line 1)"]
    assert ids(batch) == ["7"]


@pytest.mark.parametrize(("value", "shown"), [(["a"], "['a']"), (1.5, "1.5"), (True, "True"),
                                              ({"k": 1}, "{'k': 1}")])
def test_id_of_the_wrong_type(value, shown):
    batch = validate_jsonl(item("q1"), {"id": value, "prompt": "p"})
    assert problems(batch) == [
        f"f.jsonl:line 2: id: wrong type: expected a string or integer, got {shown}"]


def test_id_longer_than_the_name_limit():
    batch = validate_csv("id,prompt", f"{'x' * 201},p", f"{'y' * 200},p")
    assert problems(batch) == ["f.csv:line 2: id: id longer than 200 characters"]
    assert ids(batch) == ["y" * 200]


# --- broken records --------------------------------------------------------------------------

def test_bad_json_line():
    batch = validate_jsonl(item("q1"), '{"id": "q2", "prompt": "p"', item("q3"))
    assert problems(batch) == ["f.jsonl:line 2: bad JSON: Expecting ',' delimiter at column 27"]
    assert ids(batch) == ["q1", "q3"]
    assert batch.problems[0].row is None


@pytest.mark.parametrize(("line", "kind"), [('["q2", "p"]', "an array"), ('"q2"', "a string"),
                                            ("42", "a number"), ("null", "null"),
                                            ("true", "a boolean")])
def test_json_line_that_is_not_an_object(line, kind):
    batch = validate_jsonl(item("q1"), line)
    assert problems(batch) == [f"f.jsonl:line 2: expected a JSON object, got {kind}"]
    assert ids(batch) == ["q1"]


def test_judges_that_are_not_an_object():
    batch = validate_jsonl(item("q1"), {"id": "q2", "prompt": "p", "judges": ["gpt-4"]},
                           {"id": "q3", "prompt": "p", "judges": {"gpt-4": "correct"}})
    assert problems(batch) == [
        "f.jsonl:line 2: judges: wrong type: expected an object of judges, got an array",
        "f.jsonl:line 3: judges.gpt-4: wrong type: expected an object like "
        '{"<dimension>": <label>}, got a string',
    ]


def test_undecodable_bytes_jsonl():
    batch = validate_jsonl(item("q1"), b'{"id": "q2", "prompt": "caf\xe9"}', item("q3"))
    assert problems(batch) == [
        "f.jsonl:line 2: undecodable bytes: not UTF-8 at byte 27 of the line"]
    assert ids(batch) == ["q1", "q3"]


def test_undecodable_bytes_csv_names_the_column():
    batch = validate_csv("id,prompt,response", "q1,p,a", b"q2,caf\xe9,a", "q3,p,\xff".encode("latin-1"))
    assert problems(batch) == ["f.csv:line 3: prompt: undecodable bytes: not UTF-8",
                               "f.csv:line 4: response: undecodable bytes: not UTF-8"]
    assert ids(batch) == ["q1"]


def test_ragged_csv_rows():
    batch = validate_csv("id,prompt,response", "q1,p,a", "q2,p", "q3,p,a,extra", "q4,p,a")
    assert problems(batch) == ["f.csv:line 3: expected 3 fields, got 2",
                               "f.csv:line 4: expected 3 fields, got 4"]
    assert ids(batch) == ["q1", "q4"]


# --- field values ----------------------------------------------------------------------------

def test_wrong_type_where_text_is_expected():
    batch = validate_jsonl(item("q1"), {"id": "q2", "prompt": {"text": "x"}},
                           {"id": "q3", "prompt": 42}, {"id": "q4", "prompt": ["a", "b"]},
                           {"id": "q5", "prompt": "p", "model": ["m"]})
    assert problems(batch) == [
        "f.jsonl:line 2: prompt: wrong type: expected a string, got {'text': 'x'}",
        "f.jsonl:line 3: prompt: wrong type: expected a string, got 42",
        "f.jsonl:line 4: prompt: wrong type: expected a string, got ['a', 'b']",
        "f.jsonl:line 5: model: wrong type: expected a string, got ['m']",
    ]


def test_texts_field_takes_a_string_or_a_list_of_strings():
    batch = validate_jsonl(
        {"id": "t1", "source": ["answer one", "answer two"], "response": "themes"},
        {"id": "t2", "source": "one answer", "response": "themes"},
        {"id": "t3", "source": ["ok", 3], "response": "themes"},
        schema=THEMATIC)
    assert problems(batch) == [
        "f.jsonl:line 3: source: wrong type: expected a string or a list of strings, got ['ok', 3]"]
    assert [row.fields for row in batch.rows] == [
        {"source": ["answer one", "answer two"], "response": "themes"},
        {"source": "one answer", "response": "themes"}]


def test_label_of_the_wrong_type():
    batch = validate_jsonl(item("q1", ["correct"]), item("q2", {"v": "correct"}))
    assert problems(batch) == [
        "f.jsonl:line 1: judge.gpt-4.correct: wrong type: expected a label, got ['correct']",
        "f.jsonl:line 2: judge.gpt-4.correct: wrong type: expected a label, got {'v': 'correct'}",
    ]


def test_text_over_the_size_limit_jsonl():
    limits = ImportLimits(max_text_chars=10)
    batch = validate_jsonl({"id": "q1", "prompt": "x" * 10}, {"id": "q2", "prompt": "x" * 11},
                           {"id": "q3", "prompt": "p", "judges": {"j": {"correct": "yes",
                                                                        "rationale": "r" * 12}}},
                           limits=limits)
    assert problems(batch) == [
        "f.jsonl:line 2: prompt: text too long: 11 characters (limit 10)",
        "f.jsonl:line 3: judge.j.rationale: text too long: 12 characters (limit 10)",
    ]
    assert ids(batch) == ["q1"]


def test_text_over_the_size_limit_csv():
    batch = validate_csv("id,prompt,response", "q1,short,a", f"q2,{'y' * 1001},a",
                         limits=ImportLimits(max_text_chars=1000))
    assert problems(batch) == ["f.csv:line 3: prompt: text too long: 1,001 characters (limit 1,000)"]


def test_missing_required_field_value_jsonl():
    batch = validate_jsonl({"id": "q1", "prompt": "p"}, {"id": "q2", "prompt": ""},
                           {"id": "q3", "prompt": None}, {"id": "q4"})
    assert problems(batch) == ["f.jsonl:line 2: prompt: missing required field",
                               "f.jsonl:line 3: prompt: missing required field",
                               "f.jsonl:line 4: prompt: missing required field"]
    assert ids(batch) == ["q1"]


def test_missing_required_field_value_csv():
    batch = validate_csv("id,prompt,response", "q1,p,", "q2,,a")
    assert problems(batch) == ["f.csv:line 3: prompt: missing required field"]
    # An empty optional field is simply absent.
    assert batch.rows[0].fields == {"prompt": "p"}


# --- whole-file problems ---------------------------------------------------------------------

def test_missing_required_column_csv():
    with pytest.raises(ImportFileError) as info:
        validate_csv("id,response", "q1,a")
    assert [str(p) for p in info.value.problems] == [
        "f.csv:header: prompt: missing column 'prompt', required by task 'correctness'"]


def test_missing_id_and_required_columns_jsonl_reports_all():
    with pytest.raises(ImportFileError) as info:
        validate_jsonl({"response_a": "a"}, schema=PAIRWISE)
    assert [str(p) for p in info.value.problems] == [
        "f.jsonl:header: id: missing column 'id' (every row needs a unique id)",
        "f.jsonl:header: prompt: missing column 'prompt', required by task 'pairwise'",
        "f.jsonl:header: response_b: missing column 'response_b', required by task 'pairwise'",
    ]
    assert str(info.value).splitlines() == [str(p) for p in info.value.problems]


def test_judge_column_with_unknown_dimension_csv():
    with pytest.raises(ImportFileError) as info:
        validate_csv("id,prompt,judge.gpt-4.accuracy", "q1,p,yes")
    assert [str(p) for p in info.value.problems] == [
        "f.csv:header: judge.gpt-4.accuracy: unknown dimension 'accuracy' for judge 'gpt-4' "
        "(allowed: correct, rationale, raw, answered_correctly)"]


def test_judge_with_unknown_dimension_jsonl():
    with pytest.raises(ImportFileError) as info:
        validate_jsonl({"id": "q1", "prompt": "p", "judges": {"gpt-4": {"accuracy": "yes"}}})
    assert str(info.value) == (
        "f.jsonl:header: judge.gpt-4.accuracy: unknown dimension 'accuracy' for judge 'gpt-4' "
        "(allowed: correct, rationale, raw, answered_correctly)")


def test_human_column_takes_comment_but_not_rationale():
    with pytest.raises(ImportFileError) as info:
        validate_csv("id,prompt,human.ann.rationale,judge.j.comment", "q1,p,x,y")
    assert [str(p) for p in info.value.problems] == [
        "f.csv:header: human.ann.rationale: unknown dimension 'rationale' for human 'ann' "
        "(allowed: correct, comment)",
        "f.csv:header: judge.j.comment: unknown dimension 'comment' for judge 'j' "
        "(allowed: correct, rationale, raw, answered_correctly)",
    ]


@pytest.mark.parametrize(("column", "reason"), [
    ("judge.correct", "expected judge.<name>.<key> with key one of correct, rationale, raw, "
                      "answered_correctly"),
    ("human.ann[1].correct", "human labels have no samples; use one column per annotator"),
    ("judge. .correct", "judge name must have 1 to 200 characters"),
])
def test_malformed_rater_columns(column, reason):
    with pytest.raises(ImportFileError) as info:
        validate_csv(f"id,prompt,{column}", "q1,p,yes")
    assert [str(p) for p in info.value.problems] == [f"f.csv:header: {column}: {reason}"]


# --- every problem in one pass, and the policy -----------------------------------------------

FIVE_PROBLEMS_JSONL = [
    item("q1"),
    '{"id": "q2", "prompt": ',                 # line 2: bad JSON (24 characters)
    item("q3", "maybe"),                       # line 3: unknown label
    item("q4"),
    item("q1"),                                # line 5: duplicate id
    {"id": "q6", "response": "a"},             # line 6: missing prompt
    item("q7", "no"),
    "[1, 2]",                                  # line 8: not an object
    item("q9", "yes"),
]


def test_every_problem_of_a_file_in_line_order_jsonl():
    batch = validate_jsonl(*FIVE_PROBLEMS_JSONL)
    assert problems(batch) == [
        "f.jsonl:line 2: bad JSON: Expecting value at column 24",
        "f.jsonl:line 3: judge.gpt-4.correct: unknown label 'maybe' (allowed: correct, incorrect)",
        "f.jsonl:line 5: id: duplicate id 'q1' (first at line 1)",
        "f.jsonl:line 6: prompt: missing required field",
        "f.jsonl:line 8: expected a JSON object, got an array",
    ]
    assert ids(batch) == ["q1", "q4", "q7", "q9"]
    assert (batch.total_records, batch.rejected_rows) == (9, 5)
    assert not batch.is_clean


def test_every_problem_of_a_file_in_line_order_csv():
    batch = validate_csv(
        "id,prompt,response,judge.gpt-4.correct",
        "q1,p,a,yes",
        "q2,p,a,maybe",          # line 3
        "q3,,a,yes",             # line 4
        "q1,p,a,no",             # line 5
        "q5,p",                  # line 6
        "q6,p,a,correct",
        b"q7,\xff,a,no",         # line 8
        ",p,a,no",               # line 9
    )
    assert problems(batch) == [
        "f.csv:line 3: judge.gpt-4.correct: unknown label 'maybe' (allowed: correct, incorrect)",
        "f.csv:line 4: prompt: missing required field",
        "f.csv:line 5: id: duplicate id 'q1' (first at line 2)",
        "f.csv:line 6: expected 4 fields, got 2",
        "f.csv:line 8: prompt: undecodable bytes: not UTF-8",
        "f.csv:line 9: id: missing id",
    ]
    assert ids(batch) == ["q1", "q6"]
    assert (batch.total_records, batch.rejected_rows) == (8, 6)


def test_one_row_with_two_problems_is_one_rejected_row():
    batch = validate_jsonl(item("q1"), {"id": "q2", "prompt": "", "judges": {"j": {"correct": "?"}}})
    assert problems(batch) == ["f.jsonl:line 2: prompt: missing required field",
                               "f.jsonl:line 2: judge.j.correct: unknown label '?' "
                               "(allowed: correct, incorrect)"]
    assert (batch.total_records, batch.rejected_rows, len(batch.rows)) == (2, 1, 1)


def test_strict_policy_rejects_a_dirty_batch():
    batch = validate_jsonl(*FIVE_PROBLEMS_JSONL)
    with pytest.raises(ImportRejected) as info:
        check_policy(batch, "strict")
    assert info.value.batch is batch
    assert str(info.value) == (
        "f.jsonl: 5 problem(s) in 5 of 9 records; nothing was imported (use --on-error skip to "
        "import the valid rows). First: f.jsonl:line 2: bad JSON: Expecting value at column 24")


def test_skip_policy_keeps_exactly_the_valid_rows():
    batch = validate_jsonl(*FIVE_PROBLEMS_JSONL)
    check_policy(batch, "skip")  # does not raise
    assert ids(batch) == ["q1", "q4", "q7", "q9"]
    assert [[v.label for v in row.verdicts] for row in batch.rows] == [
        ["correct"], ["correct"], ["incorrect"], ["correct"]]


def test_strict_policy_accepts_a_clean_batch():
    batch = validate_jsonl(item("q1"), item("q2", "no"))
    check_policy(batch, "strict")
    assert batch.is_clean
    assert (batch.total_records, batch.rejected_rows) == (2, 0)


def test_unknown_policy_is_refused():
    batch = validate_jsonl(item("q1"))
    with pytest.raises(ValueError, match=r"on_error must be one of \('strict', 'skip'\), got 'ignore'"):
        check_policy(batch, "ignore")


def test_problem_lines_show_the_first_problems_then_the_count_and_the_report():
    batch = validate_jsonl(*FIVE_PROBLEMS_JSONL)
    first_two = [
        "f.jsonl:line 2: bad JSON: Expecting value at column 24",
        "f.jsonl:line 3: judge.gpt-4.correct: unknown label 'maybe' (allowed: correct, incorrect)",
    ]
    assert problem_lines(batch.problems, limit=2) == [*first_two, "... and 3 more problems"]
    assert problem_lines(batch.problems, limit=2, report="f.problems.jsonl") == [
        *first_two, "... and 3 more problems; full report: f.problems.jsonl"]
    assert problem_lines(batch.problems) == problems(batch)  # 5 <= PRINTED_PROBLEMS: no count


def test_problems_jsonl_has_one_object_per_problem():
    batch = validate_jsonl(*FIVE_PROBLEMS_JSONL)
    header = ImportProblem("f.csv", "header", "id", "missing column 'id'")
    parquet = ImportProblem("f.parquet", "row 4", "", "caf\u00e9 \udc80")
    records = [json.loads(line) for line in
               problems_jsonl([*batch.problems, header, parquet]).decode("utf-8").splitlines()]
    assert records[:2] == [
        {"file": "f.jsonl", "location": "line 2", "line": 2, "field": "",
         "message": "bad JSON: Expecting value at column 24"},
        {"file": "f.jsonl", "location": "line 3", "line": 3, "field": "judge.gpt-4.correct",
         "message": "unknown label 'maybe' (allowed: correct, incorrect)"},
    ]
    assert [r["line"] for r in records] == [2, 3, 5, 6, 8, None, None]
    assert records[5] == {"file": "f.csv", "location": "header", "line": None, "field": "id",
                          "message": "missing column 'id'"}
    assert records[6]["message"] == "caf\u00e9 \udc80"  # a lone surrogate survives as an escape


def test_a_file_error_lists_every_problem_up_to_the_printed_limit():
    many = [ImportProblem("f.jsonl", f"line {n}", "", "bad JSON") for n in range(1, 31)]
    assert str(ImportFileError(many[:3])).splitlines() == [str(p) for p in many[:3]]
    assert str(ImportFileError(many)).splitlines() == [
        *(str(p) for p in many[:PRINTED_PROBLEMS]), "... and 10 more problems"]


def test_a_file_of_only_broken_lines_reports_those_lines():
    with pytest.raises(ImportFileError) as info:
        validate_jsonl('{"id": ', "[1]")
    assert [str(p) for p in info.value.problems] == [
        "f.jsonl:line 1: bad JSON: Expecting value at column 8",
        "f.jsonl:line 2: expected a JSON object, got an array",
    ]



def test_missing_column_and_broken_lines_are_reported_together():
    with pytest.raises(ImportFileError) as info:
        validate_jsonl({"id": "q1", "response": "a"}, "[1]")
    assert [str(p) for p in info.value.problems] == [
        "f.jsonl:header: prompt: missing column 'prompt', required by task 'correctness'",
        "f.jsonl:line 2: expected a JSON object, got an array",
    ]

# --- labels ----------------------------------------------------------------------------------

def test_ordinal_labels_given_as_numbers_import():
    batch = validate_jsonl(
        {"id": "t1", "source": "s", "response": "r", "judges": {"j": {"alignment": 4}}},
        {"id": "t2", "source": "s", "response": "r", "judges": {"j": {"alignment": 2.0}}},
        {"id": "t3", "source": "s", "response": "r", "judges": {"j": {"alignment": "5 · Faithful"}}},
        schema=THEMATIC)
    assert batch.problems == []
    assert [row.verdicts[0].label for row in batch.rows] == ["4", "2", "5"]


def test_ordinal_labels_as_numbers_in_csv():
    batch = validate_csv("id,prompt,response,judge.j.correctness,judge.j.difficulty",
                         "e1,q,a,4,1.0", "e2,q,a, 3 ,2.5", schema=EXAM)
    assert problems(batch) == [
        "f.csv:line 3: judge.j.difficulty: unknown label '2.5' (allowed: 1, 2, 3, 4, 5)"]
    assert [(v.dimension, v.label) for v in batch.rows[0].verdicts] == [
        ("correctness", "4"), ("difficulty", "1")]


def test_empty_label_means_no_label():
    batch = validate_csv("id,prompt,judge.j.correct,judge.j.rationale,human.h.correct",
                         "q1,p,,why,", "q2,p,yes,,no")
    assert batch.problems == []
    assert batch.rows[0].verdicts == []
    assert [(v.label, v.rationale) for v in batch.rows[1].verdicts] == [("correct", None)]
    assert [h.label for h in batch.rows[1].human_labels] == ["incorrect"]
    jsonl_batch = validate_jsonl(item("q1", ""), item("q2", None))
    assert jsonl_batch.problems == []
    assert [row.verdicts for row in jsonl_batch.rows] == [[], []]


def test_verdicts_human_labels_model_group_and_metadata():
    batch = validate_jsonl({
        "id": "q1", "prompt": "p", "response": "r", "model": "llama-3", "group": "batch 1",
        "difficulty": "hard", "page": 3,
        "judges": {"gpt-4": {"correct": "Yes", "rationale": "fine", "raw": "VERDICT: yes"},
                   "judge-lm": [{"correct": 1}, {"correct": 0}]},
        "humans": {"alice": {"correct": "incorrect", "comment": "typo"}},
    })
    assert batch.problems == []
    row = batch.rows[0]
    assert (row.external_id, row.model, row.group) == ("q1", "llama-3", "batch 1")
    assert row.fields == {"prompt": "p", "response": "r"}
    assert json.loads(row.fields_json) == {"prompt": "p", "response": "r"}
    assert row.metadata == {"difficulty": "hard", "page": 3}
    assert row.metadata_json == '{"difficulty": "hard", "page": 3}'
    assert sorted((v.judge, v.sample_index, v.dimension, v.label, v.rationale, v.raw_output)
                  for v in row.verdicts) == [
        ("gpt-4", 0, "correct", "correct", "fine", "VERDICT: yes"),
        ("judge-lm", 0, "correct", "correct", None, None),
        ("judge-lm", 1, "correct", "incorrect", None, None),
    ]
    assert [(h.annotator, h.dimension, h.label, h.comment) for h in row.human_labels] == [
        ("alice", "correct", "incorrect", "typo")]
    assert batch.judges == ("gpt-4", "judge-lm")
    assert batch.annotators == ("alice",)


# --- a real case: PandaLM's unparseable GPT verdicts -------------------------------------------

PANDALM_TO_LABEL = {"1": "A", "2": "B"}  # "Tie" and "garbage" are passed through as written


def pandalm_records(shared_data: Path, *, placeholder: str | None = None) -> list[dict]:
    """PandaLM items joined with GPT-3.5's verdicts, as pairwise records.

    With ``placeholder``, empty or non-text responses (the real file has some) are replaced.
    """
    folder = shared_data / "PandaLM" / "data"
    items = {r["idx"]: r for r in json.loads((folder / "testset-v1.json").read_text("utf-8"))}
    verdicts = json.loads((folder / "gpt-3.5-turbo-testset-v1.json").read_text("utf-8"))

    def response(value: object) -> object:
        if placeholder is not None and not (isinstance(value, str) and value):
            return placeholder
        return value

    records = []
    for verdict in verdicts:
        source = items[verdict["idx"]]
        records.append({
            "id": f"pandalm-{verdict['idx']}",
            "prompt": "\n".join(filter(None, [source["instruction"], source["input"]])),
            "response_a": response(source["response1"]),
            "response_b": response(source["response2"]),
            "judges": {"gpt-3.5-turbo": {
                "preference": PANDALM_TO_LABEL.get(verdict["gpt_result"], verdict["gpt_result"]),
                "rationale": verdict["gpt_reason"]}},
        })
    return records


def validate_records(tmp_path: Path, records: list[dict]) -> ImportBatch:
    path = tmp_path / "pandalm.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    raw = read_import_bytes(path.read_bytes(), fmt="jsonl", name="pandalm.jsonl")
    return validate_table(raw, PAIRWISE)


@pytest.mark.shared_data
def test_pandalm_garbage_verdict_is_an_unknown_label_on_its_line(shared_data, tmp_path):
    by_idx = {int(r["id"].split("-")[1]): r for r in pandalm_records(shared_data)}
    # idx 114 is the first "garbage" verdict in the file (README: 25 of 999).
    assert by_idx[114]["judges"]["gpt-3.5-turbo"]["preference"] == "garbage"
    batch = validate_records(tmp_path, [by_idx[0], by_idx[1], by_idx[2], by_idx[114], by_idx[3]])
    assert problems(batch) == [
        "pandalm.jsonl:line 4: judge.gpt-3.5-turbo.preference: unknown label 'garbage' "
        "(allowed: A, B, tie)"]
    assert ids(batch) == ["pandalm-0", "pandalm-1", "pandalm-2", "pandalm-3"]
    with pytest.raises(ImportRejected):
        check_policy(batch, "strict")


@pytest.mark.shared_data
def test_pandalm_full_file_label_counts_match_the_readme(shared_data, tmp_path):
    # README: gpt_result in {"1", "2", "Tie", "garbage"} = 460/476/38/25.
    records = pandalm_records(shared_data, placeholder="(no response)")
    batch = validate_records(tmp_path, records)
    assert {p.reason for p in batch.problems} == {"unknown label 'garbage' (allowed: A, B, tie)"}
    garbage_lines = [n for n, r in enumerate(records, start=1)
                     if r["judges"]["gpt-3.5-turbo"]["preference"] == "garbage"]
    assert [p.location for p in batch.problems] == [f"line {n}" for n in garbage_lines]
    assert len(garbage_lines) == 25
    assert (batch.total_records, batch.rejected_rows, len(batch.rows)) == (999, 25, 974)
    labels = [row.verdicts[0].label for row in batch.rows]
    assert (labels.count("A"), labels.count("B"), labels.count("tie")) == (460, 476, 38)


@pytest.mark.shared_data
def test_pandalm_real_boolean_responses_are_reported_and_empty_ones_accepted(shared_data, tmp_path):
    records = pandalm_records(shared_data)
    expected = []
    for line, record in enumerate(records, start=1):
        assert record["prompt"]
        for field in ("response_a", "response_b"):
            value = record[field]
            if not isinstance(value, str):  # "" is allowed: the model answered nothing
                expected.append(f"pandalm.jsonl:line {line}: {field}: wrong type: expected a "
                                f"string, got {value!r}")
        if record["judges"]["gpt-3.5-turbo"]["preference"] == "garbage":
            expected.append(f"pandalm.jsonl:line {line}: judge.gpt-3.5-turbo.preference: unknown "
                            "label 'garbage' (allowed: A, B, tie)")
    batch = validate_records(tmp_path, records)
    assert problems(batch) == expected
    assert sum("wrong type" in p for p in expected) == 6  # 4 + 2 responses that are `true`


def test_a_column_only_other_rows_use_leaves_a_rows_hash_alone():
    plain = {"id": "q1", "prompt": "Capital of Peru?", "judges": {"gpt": {"correct": "correct"}}}
    before = validate_jsonl(plain)
    after = validate_jsonl(plain, {"id": "q2", "prompt": "Capital of Chile?", "note": "new column",
                                   "judges": {"llama": {"correct": "incorrect"}}})

    assert after.rows[0].content_hash == before.rows[0].content_hash
    assert after.rows[1].content_hash != before.rows[0].content_hash


@pytest.mark.parametrize("blank", ["", " ", "\t  "])
def test_a_blank_label_means_no_label(blank):
    jsonl = validate_jsonl(item("q1", label=blank), item("q2", label="incorrect"))
    csv = validate_csv("id,prompt,judge.gpt.correct", f"q1,Capital?,{blank}", "q2,Capital?,incorrect")

    for batch in (jsonl, csv):
        assert problems(batch) == []
        assert [len(row.verdicts) for row in batch.rows] == [0, 1]


def test_pairwise_allows_an_empty_response_but_not_a_missing_one():
    base = {"prompt": "Say hi", "response_a": "Hi!"}
    batch = validate_jsonl({"id": "p1", **base, "response_b": ""},
                           {"id": "p2", **base, "response_b": None},
                           {"id": "p3", **base}, schema=PAIRWISE)
    csv = validate_csv("id,prompt,response_a,response_b", "p1,Say hi,Hi!,", schema=PAIRWISE)

    assert problems(batch) == ["f.jsonl:line 2: response_b: missing required field",
                               "f.jsonl:line 3: response_b: missing required field"]
    assert batch.rows[0].fields == {"prompt": "Say hi", "response_a": "Hi!", "response_b": ""}
    assert problems(csv) == [] and csv.rows[0].fields["response_b"] == ""
