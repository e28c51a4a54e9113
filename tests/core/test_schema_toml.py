"""User-defined task schemas in TOML: a valid file loads, every invalid one names file, key, problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.schema import SchemaError
from core.schema_toml import load_schema_text, load_schema_toml
from core.templates import TEMPLATES, resolve_task

VALID = """\
name = "summary_quality"
title = "Summary quality"
description = "Rate a summary."

[[fields]]
name = "prompt"

[[fields]]
name = "response"
required = false

[[fields]]
name = "notes"
kind = "texts"

[[dimensions]]
name = "fluency"
scale = "interval"
min = 0
max = 10

[[dimensions]]
name = "verdict"
scale = "nominal"
required = false

  [[dimensions.labels]]
  value = "good"
  key = "g"
  aliases = ["ok", "fine"]

  [[dimensions.labels]]
  value = "bad"
  display = "Bad"
  description = "Not usable."
  key = "X"

[[dimensions]]
name = "stars"
scale = "ordinal"

  [[dimensions.labels]]
  value = 1
  key = "1"

  [[dimensions.labels]]
  value = 2
  key = "2"
"""


def write(tmp_path: Path, text: str | bytes, name: str = "task.toml") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_valid_custom_schema_loads_with_defaults(tmp_path):
    schema = load_schema_toml(write(tmp_path, VALID))

    assert schema.name == "summary_quality"
    assert schema.title == "Summary quality"
    assert schema.gold_reference is False
    assert schema.field_names == ("prompt", "response", "notes")
    assert [f.required for f in schema.fields] == [True, False, True]
    assert [f.kind for f in schema.fields] == ["text", "text", "texts"]
    assert schema.fields[2].title == "Notes"

    fluency = schema.dimension("fluency")
    assert (fluency.scale, fluency.minimum, fluency.maximum) == ("interval", 0.0, 10.0)
    assert fluency.labels == ()
    assert fluency.title == "Fluency"
    assert fluency.normalize("7.5") == "7.5"
    assert fluency.normalize(10) == "10"

    verdict = schema.dimension("verdict")
    assert verdict.required is False
    assert verdict.label_values == ("good", "bad")
    assert [label.key for label in verdict.labels] == ["g", "x"]  # keys are stored lower-case
    assert verdict.labels[0].display == "good"  # display defaults to the value
    assert verdict.labels[1].description == "Not usable."
    assert verdict.normalize("FINE") == "good"
    assert verdict.normalize("bad") == "bad"

    stars = schema.dimension("stars")
    assert stars.label_values == ("1", "2")  # integer values of an ordinal scale become text
    assert stars.normalize(2.0) == "2"


def test_load_schema_text_names_the_given_source():
    with pytest.raises(SchemaError) as info:
        load_schema_text('name = "x"\n', source="inline schema")
    assert str(info.value) == "inline schema: fields: is required\ninline schema: dimensions: is required"


FIELDS = """
[[fields]]
name = "prompt"

[[fields]]
name = "response"
"""

YES_NO = """
[[dimensions]]
name = "ok"
scale = "nominal"

  [[dimensions.labels]]
  value = "yes"
  key = "1"

  [[dimensions.labels]]
  value = "no"
  key = "2"
"""


def dimension(body: str, labels: list[str] = ()) -> str:
    """A [[dimensions]] table with ``body`` lines and one [[dimensions.labels]] per entry."""
    text = f"\n[[dimensions]]\n{body}\n"
    for label in labels:
        text += f"\n  [[dimensions.labels]]\n  {label}\n"
    return text


INVALID = [
    # (case id, TOML text, key path, exact problem)
    ("missing name", FIELDS + YES_NO, "name", "is required"),
    ("bad name", 'name = "My Task"' + FIELDS + YES_NO, "name",
     "'My Task' is not a valid name (lowercase letter first, then a-z, 0-9 or _, at most 64 "
     "characters)"),
    ("name too long", f'name = "{"a" * 65}"' + FIELDS + YES_NO, "name",
     f"'{'a' * 65}' is not a valid name (lowercase letter first, then a-z, 0-9 or _, at most 64 "
     "characters)"),
    ("unknown top-level key", 'name = "t"\ncolour = "red"' + FIELDS + YES_NO, "colour",
     "unknown key (allowed: description, dimensions, fields, gold_reference, "
     "gold_reference_field, name, title)"),
    ("unknown label key", 'name = "t"' + FIELDS + dimension(
        'name = "ok"\nscale = "nominal"', ['value = "yes"', 'value = "no"\n  colour = "red"']),
     "dimensions[0].labels[1].colour",
     "unknown key (allowed: aliases, description, display, key, value)"),
    ("unknown scale", 'name = "t"' + FIELDS + YES_NO + dimension('name = "score"\nscale = "likert"'),
     "dimensions[1].scale", "'likert' is not one of nominal, ordinal, interval, ranking"),
    ("missing scale", 'name = "t"' + FIELDS + dimension('name = "score"'),
     "dimensions[0].scale", "is required"),
    ("one label", 'name = "t"' + FIELDS + dimension('name = "ok"\nscale = "nominal"', ['value = "yes"']),
     "dimensions[0].labels", "needs at least 2 labels, got 1"),
    ("duplicate label value", 'name = "t"' + FIELDS + dimension(
        'name = "ok"\nscale = "nominal"', ['value = "yes"', 'value = "no"', 'value = "yes"']),
     "dimensions[0].labels[2].value", "duplicate label value 'yes'"),
    # The first label has no key: the duplicate must still be located at labels[2].
    ("duplicate key", 'name = "t"' + FIELDS + YES_NO + dimension(
        'name = "grade"\nscale = "ordinal"',
        ['value = "1"', 'value = "2"\n  key = "a"', 'value = "3"\n  key = "A"']),
     "dimensions[1].labels[2].key", "duplicate key 'a'"),
    ("reserved key", 'name = "t"' + FIELDS + YES_NO + dimension(
        'name = "grade"\nscale = "ordinal"', ['value = "1"\n  key = "C"', 'value = "2"']),
     "dimensions[1].labels[0].key",
     "'c' is reserved (C and R by Streamlit; N, B, S, V by annotation navigation)"),
    ("key longer than one character", 'name = "t"' + FIELDS + dimension(
        'name = "ok"\nscale = "nominal"', ['value = "yes"\n  key = "10"', 'value = "no"']),
     "dimensions[0].labels[0].key", "'10' must be a single letter or digit"),
    ("non-ASCII key", 'name = "t"' + FIELDS + dimension(
        'name = "ok"\nscale = "nominal"', ['value = "yes"', 'value = "no"\n  key = "é"']),
     "dimensions[0].labels[1].key", "'é' must be a single letter or digit"),
    ("labels on interval", 'name = "t"' + FIELDS + dimension(
        'name = "score"\nscale = "interval"', ['value = "1"', 'value = "2"']),
     "dimensions[0].labels", "an interval dimension takes min/max, not labels"),
    ("min equals max", 'name = "t"' + FIELDS + dimension(
        'name = "score"\nscale = "interval"\nmin = 5\nmax = 5'),
     "dimensions[0].max", "max (5) must be greater than min (5)"),
    ("min above max", 'name = "t"' + FIELDS + dimension(
        'name = "score"\nscale = "interval"\nmin = 7.5\nmax = 1'),
     "dimensions[0].max", "max (1) must be greater than min (7.5)"),
    ("bound is text", 'name = "t"' + FIELDS + dimension('name = "score"\nscale = "interval"\nmin = "0"'),
     "dimensions[0].min", "expected a number, got '0'"),
    ("bound on nominal", 'name = "t"' + FIELDS + dimension(
        'name = "ok"\nscale = "nominal"\nmax = 3', ['value = "yes"', 'value = "no"']),
     "dimensions[0].max", "only interval dimensions take max"),
    ("alias clash", 'name = "t"' + FIELDS + dimension(
        'name = "ok"\nscale = "nominal"',
        ['value = "good"\n  aliases = ["ok"]', 'value = "bad"\n  aliases = ["OK"]']),
     "dimensions[0].labels[1]", "'ok' would mean both 'good' and 'bad'"),
    ("display clashes with another value", 'name = "t"' + FIELDS + dimension(
        'name = "ok"\nscale = "nominal"', ['value = "yes"', 'value = "no"\n  display = "Yes"']),
     "dimensions[0].labels[1]", "'yes' would mean both 'yes' and 'no'"),
    ("field/dimension name clash", 'name = "t"' + FIELDS + YES_NO + dimension(
        'name = "response"\nscale = "interval"'),
     "dimensions[1].name", "'response' is also a field name"),
    ("duplicate dimension", 'name = "t"' + FIELDS + YES_NO + YES_NO,
     "dimensions[1].name", "duplicate dimension name 'ok'"),
    ("duplicate field", 'name = "t"' + FIELDS + '\n[[fields]]\nname = "prompt"\n' + YES_NO,
     "fields[2].name", "duplicate field name 'prompt'"),
    ("reserved field name id", 'name = "t"\n[[fields]]\nname = "id"\n' + YES_NO,
     "fields[0].name", "'id' is reserved by the import format"),
    ("reserved dimension name judges", 'name = "t"' + FIELDS + dimension(
        'name = "judges"\nscale = "interval"'),
     "dimensions[0].name", "'judges' is reserved by the import format"),
    ("reserved dimension name rationale", 'name = "t"' + FIELDS + dimension(
        'name = "rationale"\nscale = "interval"'),
     "dimensions[0].name", "'rationale' is reserved by the import format"),
    ("no fields", 'name = "t"\nfields = []\n' + YES_NO, "fields", "a schema needs at least one field"),
    ("no dimensions", 'name = "t"\ndimensions = []\n' + FIELDS, "dimensions",
     "a schema needs at least one dimension"),
    ("unknown field kind", 'name = "t"\n[[fields]]\nname = "prompt"\nkind = "audio"\n' + YES_NO,
     "fields[0].kind", "'audio' is not one of text, texts, image, images"),
    ("gold_reference not a bool", 'name = "t"\ngold_reference = "yes"' + FIELDS + YES_NO,
     "gold_reference", "expected true or false, got 'yes'"),
    ("gold_reference_field without gold_reference", 'name = "t"\n'
     'gold_reference_field = "response"' + FIELDS + YES_NO,
     "gold_reference_field", "needs gold_reference = true"),
    ("gold_reference_field not a field", 'name = "t"\ngold_reference = true\n'
     'gold_reference_field = "answer"' + FIELDS + YES_NO,
     "gold_reference_field", "'answer' is not a text field of the schema (text fields: prompt, "
                             "response)"),
    ("gold_reference_field a list of texts", 'name = "t"\ngold_reference = true\n'
     'gold_reference_field = "sources"' + FIELDS + '\n[[fields]]\nname = "sources"\n'
     'kind = "texts"\n' + YES_NO,
     "gold_reference_field", "'sources' is not a text field of the schema (text fields: prompt, "
                             "response)"),
    ("empty label value", 'name = "t"' + FIELDS + dimension(
        'name = "ok"\nscale = "nominal"', ['value = " "', 'value = "no"']),
     "dimensions[0].labels[0].value", "expected a non-empty string, got ' '"),
    ("integer label on nominal", 'name = "t"' + FIELDS + dimension(
        'name = "ok"\nscale = "nominal"', ['value = 1', 'value = "no"']),
     "dimensions[0].labels[0].value", "expected a non-empty string, got 1"),
    ("aliases not strings", 'name = "t"' + FIELDS + dimension(
        'name = "ok"\nscale = "nominal"', ['value = "yes"\n  aliases = [1]', 'value = "no"']),
     "dimensions[0].labels[0].aliases", "expected an array of strings"),
    ("dimensions not an array", 'name = "t"\ndimensions = "ok"' + FIELDS,
     "dimensions", "expected an array, got str"),
]


@pytest.mark.parametrize(("text", "key", "problem"), [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_schema_names_file_key_and_problem(tmp_path, text, key, problem):
    path = write(tmp_path, text)
    with pytest.raises(SchemaError) as info:
        load_schema_toml(path)
    error = info.value
    assert (error.source, error.key, error.problem) == (str(path), key, problem)
    assert str(error) == f"{path}: {key}: {problem}"


def test_a_schema_reports_all_its_problems_at_once(tmp_path):
    text = ('name = "My Task"\ncolour = "red"\n'
            '[[fields]]\nname = "prompt"\nkind = "audio"\n'
            '[[fields]]\nname = "prompt"\n'
            + dimension('name = "score"\nscale = "likert"')
            + dimension('name = "ok"\nscale = "nominal"',
                        ['value = "yes"\n  key = "C"', 'value = "no"\n  key = "10"', 'value = "yes"'])
            + dimension('name = "grade"\nscale = "interval"\nmin = "0"\nmax = 1'))
    path = write(tmp_path, text)
    with pytest.raises(SchemaError) as info:
        load_schema_toml(path)
    expected = [
        ("colour", "unknown key (allowed: description, dimensions, fields, gold_reference, "
                   "gold_reference_field, name, title)"),
        ("name", "'My Task' is not a valid name (lowercase letter first, then a-z, 0-9 or _, at most "
                 "64 characters)"),
        ("fields[0].kind", "'audio' is not one of text, texts, image, images"),
        ("fields[1].name", "duplicate field name 'prompt'"),
        ("dimensions[0].scale", "'likert' is not one of nominal, ordinal, interval, ranking"),
        ("dimensions[1].labels[0].key",
         "'c' is reserved (C and R by Streamlit; N, B, S, V by annotation navigation)"),
        ("dimensions[1].labels[1].key", "'10' must be a single letter or digit"),
        ("dimensions[1].labels[2].value", "duplicate label value 'yes'"),
        ("dimensions[2].min", "expected a number, got '0'"),
    ]
    assert list(info.value.problems) == expected
    assert (info.value.key, info.value.problem) == expected[0]
    assert str(info.value).splitlines() == [f"{path}: {key}: {problem}" for key, problem in expected]


@pytest.mark.parametrize("key", ["c", "r", "n", "b", "s", "v", "C", "R", "N", "B", "S", "V"])
def test_every_reserved_key_is_refused(tmp_path, key):
    text = 'name = "t"' + FIELDS + dimension(
        'name = "ok"\nscale = "nominal"', ['value = "yes"', f'value = "no"\n  key = "{key}"'])
    with pytest.raises(SchemaError) as info:
        load_schema_toml(write(tmp_path, text))
    assert info.value.key == "dimensions[0].labels[1].key"
    assert info.value.problem.startswith(f"{key.lower()!r} is reserved")


def test_toml_syntax_error_names_file_and_line(tmp_path):
    path = write(tmp_path, 'name = "t"\n\n[[fields]]\nname = \n')
    with pytest.raises(SchemaError) as info:
        load_schema_toml(path)
    assert info.value.key == "<syntax>"
    assert str(info.value).startswith(f"{path}: <syntax>: ")
    assert "line 4" in info.value.problem


def test_non_utf8_file_names_the_byte(tmp_path):
    path = write(tmp_path, b'name = "t"\ntitle = "caf\xe9"\n')  # 0xE9 is byte 11 + 12 = 23
    with pytest.raises(SchemaError) as info:
        load_schema_toml(path)
    assert str(info.value) == f"{path}: <file>: not UTF-8 at byte 23"


def test_missing_file(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(SchemaError) as info:
        load_schema_toml(path)
    assert str(info.value) == f"{path}: <file>: file not found"


# --- resolve_task ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(TEMPLATES))
def test_resolve_task_returns_the_builtin(name):
    assert resolve_task(name) is TEMPLATES[name]


def test_resolve_task_loads_a_toml_path(tmp_path):
    path = write(tmp_path, VALID)
    assert resolve_task(str(path)).name == "summary_quality"


def test_resolve_task_loads_an_existing_file_without_toml_suffix(tmp_path):
    path = write(tmp_path, VALID, name="task.schema")
    assert resolve_task(str(path)).name == "summary_quality"


def test_resolve_task_with_unknown_name_lists_the_builtins():
    with pytest.raises(SchemaError) as info:
        resolve_task("corectness")
    assert str(info.value) == (
        "--task: corectness: not a built-in template (correctness, thematic_alignment, "
        "exam_question, pairwise, image_scoring, batch_ranking) nor a .toml file")


def test_resolve_task_with_missing_toml_file_says_so(tmp_path):
    path = tmp_path / "nope.toml"
    with pytest.raises(SchemaError) as info:
        resolve_task(str(path))
    assert str(info.value) == f"{path}: <file>: file not found"


def test_a_bad_reference_field_is_reported_with_the_other_problems(tmp_path):
    text = ('name = "task"\ngold_reference_field = "missing"\ncolour = "red"\n'
            '[[fields]]\nname = "prompt"\n' + dimension('name = "ok"\nscale = "nominal"',
                                                      ['value = "yes"', 'value = "no"']))
    with pytest.raises(SchemaError) as info:
        load_schema_toml(write(tmp_path, text))
    assert [key for key, _ in info.value.problems] == ["colour", "gold_reference_field"]
    assert info.value.problems[1][1] == "needs gold_reference = true"


def test_image_fields_are_read_and_round_trip(tmp_path):
    """kind = "image" (one) and "images" (a list) are field kinds of custom schemas, in TOML
    and in the JSON form a project stores (schema_to_dict / schema_from_dict)."""
    import json

    from core.schema import schema_from_dict, schema_to_dict
    text = ('name = "t"\n[[fields]]\nname = "photo"\nkind = "image"\n'
            '[[fields]]\nname = "pages"\nkind = "images"\nrequired = false\n'
            '[[fields]]\nname = "prompt"\n' + YES_NO)
    schema = load_schema_toml(write(tmp_path, text))
    assert [f.kind for f in schema.fields] == ["image", "images", "text"]
    assert [f.name for f in schema.image_fields] == ["photo", "pages"]
    assert [f.is_image for f in schema.fields] == [True, True, False]
    again = schema_from_dict(json.loads(json.dumps(schema_to_dict(schema))), source="json")
    assert again == schema


def test_an_image_field_cannot_allow_empty(tmp_path):
    text = 'name = "t"\n[[fields]]\nname = "photo"\nkind = "image"\nallow_empty = true\n' + YES_NO
    with pytest.raises(SchemaError) as info:
        load_schema_toml(write(tmp_path, text))
    assert (info.value.key, info.value.problem) == (
        "fields[0].allow_empty", "an image field cannot be empty (leave allow_empty out)")
