"""Task schemas: the built-in templates, label normalisation, and the dict round trip."""

from __future__ import annotations

import json

import pytest

from core.schema import (
    RESERVED_KEYS,
    Dimension,
    Label,
    LabelError,
    TaskSchema,
    format_number,
    schema_from_dict,
    schema_to_dict,
)
from core.templates import TEMPLATE_NAMES, TEMPLATES

ONE_TO_FIVE = ("1", "2", "3", "4", "5")


# --- the four built-in templates ------------------------------------------------------------

def test_registry_holds_exactly_the_six_templates_in_order():
    assert tuple(TEMPLATES) == ("correctness", "thematic_alignment", "exam_question", "pairwise",
                                "image_scoring", "batch_ranking")


def test_batch_ranking_template():
    """Issue 18's contract: fields prompt, responses (a list); dimension ranking over them."""
    schema = TEMPLATES["batch_ranking"]
    assert [(f.name, f.kind) for f in schema.fields] == [("prompt", "text"), ("responses", "texts")]
    (dimension,) = schema.dimensions
    assert (dimension.name, dimension.scale, dimension.over) == ("ranking", "ranking", "responses")
    assert dimension.normalize([2, 1, 4, 3]) == "2,1,4,3"


def test_image_scoring_template():
    """Issue 18's contract: fields image, prompt, response; dimension score, ordinal 1-5."""
    schema = TEMPLATES["image_scoring"]
    assert schema.field_names == ("image", "prompt", "response")
    assert [f.kind for f in schema.fields] == ["image", "text", "text"]
    assert schema.dimension_names == ("score",)
    score = schema.dimension("score")
    assert score.scale == "ordinal"
    assert score.label_values == ("1", "2", "3", "4", "5")
    assert [label.key for label in score.labels] == ["1", "2", "3", "4", "5"]
    assert tuple(TEMPLATES) == TEMPLATE_NAMES
    for name, schema in TEMPLATES.items():
        assert schema.name == name


def test_correctness_template():
    schema = TEMPLATES["correctness"]
    assert schema.field_names == ("prompt", "response", "reference")
    assert [f.required for f in schema.fields] == [True, False, False]
    assert schema.gold_reference is True
    assert schema.gold_reference_field == "reference"
    assert schema.given_reference({"prompt": "Q", "reference": "Canberra"}) == "Canberra"
    assert schema.given_reference({"prompt": "Q", "reference": "  "}) is None
    assert schema.given_reference({"prompt": "Q"}) is None
    assert schema.dimension_names == ("correct",)
    correct = schema.dimension("correct")
    assert correct.scale == "nominal"
    assert correct.label_values == ("correct", "incorrect")
    assert correct.required is True


def test_thematic_alignment_template():
    schema = TEMPLATES["thematic_alignment"]
    assert schema.field_names == ("source", "response")
    assert schema.fields[0].kind == "texts"
    assert schema.gold_reference is False
    assert schema.dimension_names == ("alignment", "missing_themes", "unsupported_claims")

    alignment = schema.dimension("alignment")
    assert alignment.scale == "ordinal"
    assert alignment.required is True
    assert alignment.label_values == ONE_TO_FIVE
    for label in alignment.labels:
        assert label.description.strip(), f"alignment label {label.value} has no description"

    for flag in ("missing_themes", "unsupported_claims"):
        dimension = schema.dimension(flag)
        assert dimension.scale == "nominal"
        assert dimension.required is False
        assert dimension.label_values == ("yes", "no")


def test_exam_question_template():
    schema = TEMPLATES["exam_question"]
    assert schema.field_names == ("source", "prompt", "response")
    # Experts correct the generated answer: the gold reference box starts from it.
    assert (schema.gold_reference, schema.gold_reference_field) == (True, "response")
    assert schema.given_reference({"prompt": "Q?", "response": "Its answer"}) == "Its answer"
    assert schema.dimension_names == (
        "correctness", "evidence_based", "professionalism", "relevance", "difficulty")
    for dimension in schema.dimensions:
        assert dimension.scale == "ordinal"
        assert dimension.label_values == ONE_TO_FIVE
        assert all(label.description.strip() for label in dimension.labels)


def test_pairwise_template():
    schema = TEMPLATES["pairwise"]
    assert schema.field_names == ("prompt", "response_a", "response_b")
    assert all(f.required for f in schema.fields)
    assert schema.dimension_names == ("preference",)
    preference = schema.dimension("preference")
    assert preference.scale == "nominal"
    assert preference.label_values == ("A", "B", "tie")


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_label_has_a_unique_unreserved_single_key(name):
    for dimension in TEMPLATES[name].dimensions:
        keys = [label.key for label in dimension.labels]
        assert all(len(key) == 1 for key in keys), (dimension.name, keys)
        assert len(set(keys)) == len(keys), (dimension.name, keys)
        assert not {key.lower() for key in keys} & set("crnbsv"), (dimension.name, keys)


def test_reserved_keys_are_the_streamlit_and_navigation_letters():
    assert frozenset("crnbsv") == RESERVED_KEYS


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_schema_dict_round_trip_is_equal(name):
    schema = TEMPLATES[name]
    data = schema_to_dict(schema)
    assert schema_from_dict(data) == schema
    # The dict is plain data: it survives JSON unchanged.
    assert schema_from_dict(json.loads(json.dumps(data))) == schema


def test_round_trip_keeps_interval_bounds_and_optional_flags():
    schema = TaskSchema(
        name="custom", title="Custom", description="d",
        fields=(TEMPLATES["correctness"].fields[0],),
        dimensions=(Dimension("score", "interval", "Score", minimum=-1.5, maximum=10.0,
                              required=False),),
    )
    data = schema_to_dict(schema)
    assert data["dimensions"][0] == {"name": "score", "scale": "interval", "title": "Score",
                                     "description": "", "required": False, "min": -1.5,
                                     "max": 10.0}
    assert schema_from_dict(data) == schema


def test_a_schema_stored_before_gold_reference_field_starts_the_box_from_reference():
    # Projects created before the key existed store the correctness schema without it; their
    # reference box started from the item's ``reference`` field, and still does.
    stored = schema_to_dict(TEMPLATES["correctness"])
    del stored["gold_reference_field"]
    assert schema_from_dict(stored).gold_reference_field == "reference"
    no_reference = {**stored, "fields": [f for f in stored["fields"] if f["name"] != "reference"]}
    assert schema_from_dict(no_reference).gold_reference_field is None  # the box starts empty
    without_gold = {**stored, "gold_reference": False}
    assert schema_from_dict(without_gold).gold_reference_field is None
    assert schema_from_dict(without_gold).given_reference({"reference": "Canberra"}) is None


def test_unknown_dimension_lists_the_known_ones():
    with pytest.raises(KeyError, match=r"unknown dimension 'nope' \(dimensions: correct\)"):
        TEMPLATES["correctness"].dimension("nope")


def test_rank_follows_scale_order():
    alignment = TEMPLATES["thematic_alignment"].dimension("alignment")
    assert [alignment.rank(v) for v in ONE_TO_FIVE] == [0, 1, 2, 3, 4]


# --- label normalisation ---------------------------------------------------------------------

CORRECT = TEMPLATES["correctness"].dimension("correct")
PREFERENCE = TEMPLATES["pairwise"].dimension("preference")
ALIGNMENT = TEMPLATES["thematic_alignment"].dimension("alignment")
MISSING_THEMES = TEMPLATES["thematic_alignment"].dimension("missing_themes")


@pytest.mark.parametrize(("dimension", "raw", "expected"), [
    (CORRECT, "correct", "correct"),
    (CORRECT, "Correct", "correct"),
    (CORRECT, "CORRECT", "correct"),
    (CORRECT, "  correct \t", "correct"),
    (CORRECT, "Incorrect", "incorrect"),
    (CORRECT, "yes", "correct"),
    (CORRECT, "YES", "correct"),
    (CORRECT, "No", "incorrect"),
    (CORRECT, "TRUE", "correct"),
    (CORRECT, "false", "incorrect"),
    (CORRECT, True, "correct"),
    (CORRECT, False, "incorrect"),
    (CORRECT, 1, "correct"),
    (CORRECT, 0, "incorrect"),
    (CORRECT, "0", "incorrect"),
    (PREFERENCE, "A", "A"),
    (PREFERENCE, "a", "A"),
    (PREFERENCE, "A is better", "A"),
    (PREFERENCE, "b IS BETTER", "B"),
    (PREFERENCE, "response_a", "A"),
    (PREFERENCE, "Response_B", "B"),
    (PREFERENCE, "Tie", "tie"),
    (PREFERENCE, "TIE", "tie"),
    (MISSING_THEMES, True, "yes"),
    (MISSING_THEMES, "False", "no"),
])
def test_nominal_accepts_value_display_and_alias_case_insensitively(dimension, raw, expected):
    assert dimension.normalize(raw) == expected


@pytest.mark.parametrize("raw", [3, 3.0, "3", " 3.0 ", "3.0", "3 · Partial", "3 · PARTIAL", " 3 "])
def test_ordinal_accepts_the_number_in_any_spelling(raw):
    assert ALIGNMENT.normalize(raw) == "3"


@pytest.mark.parametrize(("raw", "shown"), [
    (3.5, "3.5"),
    ("3.5", "'3.5'"),
    (0, "'0'"),
    (6, "'6'"),
    ("three", "'three'"),
    (True, "'true'"),
    (None, "None"),
    (float("nan"), "nan"),
])
def test_ordinal_rejects_anything_else_listing_the_allowed_labels(raw, shown):
    with pytest.raises(LabelError) as info:
        ALIGNMENT.normalize(raw)
    assert str(info.value) == f"unknown label {shown} (allowed: 1, 2, 3, 4, 5)"


@pytest.mark.parametrize(("dimension", "raw", "message"), [
    (CORRECT, "maybe", "unknown label 'maybe' (allowed: correct, incorrect)"),
    (CORRECT, 2, "unknown label '2' (allowed: correct, incorrect)"),
    (PREFERENCE, "garbage", "unknown label 'garbage' (allowed: A, B, tie)"),
    (PREFERENCE, "1", "unknown label '1' (allowed: A, B, tie)"),
    (PREFERENCE, True, "unknown label 'true' (allowed: A, B, tie)"),
])
def test_unknown_label_message_lists_the_allowed_set(dimension, raw, message):
    with pytest.raises(LabelError) as info:
        dimension.normalize(raw)
    assert str(info.value) == message


SCORE = Dimension("score", "interval", "Score", minimum=0.0, maximum=10.0)


@pytest.mark.parametrize(("raw", "expected"), [
    (3, "3"),
    (3.0, "3"),
    (2.5, "2.5"),
    ("2.5", "2.5"),
    (" 7 ", "7"),
    ("7.0", "7"),
    (0, "0"),
    (10, "10"),
    (0.1, "0.1"),
])
def test_interval_accepts_numbers_within_bounds_in_canonical_form(raw, expected):
    assert SCORE.normalize(raw) == expected


@pytest.mark.parametrize(("raw", "message"), [
    (-1, "-1 is below the minimum 0"),
    (10.5, "10.5 is above the maximum 10"),
    ("11", "11 is above the maximum 10"),
    (float("nan"), "expected a finite number, got nan"),
    (float("inf"), "expected a finite number, got inf"),
    ("nan", "expected a finite number, got 'nan'"),
    ("-inf", "expected a finite number, got '-inf'"),
    (True, "expected a number, got True"),
    (False, "expected a number, got False"),
    ("high", "expected a number, got 'high'"),
    (None, "expected a number, got None"),
    ([3], "expected a number, got [3]"),
])
def test_interval_rejects_out_of_range_non_finite_bools_and_text(raw, message):
    with pytest.raises(LabelError) as info:
        SCORE.normalize(raw)
    assert str(info.value) == message


def test_interval_without_bounds_takes_any_finite_number():
    free = Dimension("delta", "interval", "Delta")
    assert free.normalize(-1e6) == "-1000000"
    assert free.normalize(1e-3) == "0.001"


@pytest.mark.parametrize(("number", "text"), [
    (3.0, "3"), (-2.0, "-2"), (2.5, "2.5"), (0.1, "0.1"), (1e21, "1000000000000000000000"),
])
def test_format_number_is_the_shortest_exact_text(number, text):
    assert format_number(number) == text
    assert float(text) == number


def test_normalize_returns_the_canonical_value_whatever_the_case():
    dimension = Dimension("d", "nominal", "D", labels=(
        Label("Yes", "Yes"), Label("no", "No"),
    ))
    assert dimension.normalize("Yes") == "Yes"
    assert dimension.normalize("yes") == "Yes"
    assert dimension.normalize("NO") == "no"
