"""Strict verdict parsing: a label only when the output states it in a documented form, through
the dimension's documented spellings; property tests that nothing else is ever mapped."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.judges.verdicts import parse_verdict, verdict_json_schema, verdict_response_format
from core.schema import Dimension, schema_from_dict
from core.templates import TEMPLATES

CORRECT = TEMPLATES["correctness"].dimension("correct")
PREFERENCE = TEMPLATES["pairwise"].dimension("preference")
ALIGNMENT = TEMPLATES["thematic_alignment"].dimension("alignment")
DIMENSIONS = [CORRECT, PREFERENCE, ALIGNMENT]


def spellings(dimension: Dimension) -> dict[str, str]:
    """Oracle written from the schema, not from normalize(): casefolded spelling -> label."""
    table = {}
    for label in dimension.labels:
        for spelling in (label.value, label.display, *label.aliases):
            table[spelling.strip().casefold()] = label.value
    return table


def stated_labels(dimension: Dimension, stated: object) -> set[str]:
    """The labels a stated value can mean under the documented rules (oracle)."""
    if isinstance(stated, bool):
        stated = "true" if stated else "false"
    if isinstance(stated, int | float) and not isinstance(stated, bool):
        stated = str(int(stated)) if float(stated).is_integer() else str(stated)
    if not isinstance(stated, str):
        return set()
    table = spellings(dimension)
    found = {table[stated.strip().casefold()]} if stated.strip().casefold() in table else set()
    if dimension.scale == "ordinal" and not found:
        try:
            number = float(stated)
        except ValueError:
            return found
        if number.is_integer() and str(int(number)) in table:
            found = {table[str(int(number))]}
    return found


def what_text_states(text: str) -> list[object]:
    """Everything a text could be said to state as its verdict (JSON label or last line)."""
    stated: list[object] = []
    body = text.strip()
    fence = re.match(r"^```[A-Za-z]*[ \t]*\n(.*)\n```$", body, re.DOTALL)
    try:
        data = json.loads(fence.group(1).strip() if fence else body)
    except ValueError:
        data = None
    if isinstance(data, dict) and "label" in data:
        stated.append(data["label"])
    lines = body.splitlines()
    if lines:
        match = re.match(r"^\s*verdict\s*:(.*)$", lines[-1], re.IGNORECASE)
        if match:
            stated.append(match.group(1))
    return stated


# --- examples -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "label", "rationale"), [
    ('{"rationale": "Paris is right.", "label": "correct"}', "correct", "Paris is right."),
    ('{"label": "Incorrect"}', "incorrect", None),
    ('  {"label": "yes", "confidence": 0.9}  ', "correct", None),  # alias; extra keys ignored
    ('```json\n{"rationale": "r", "label": "false"}\n```', "incorrect", "r"),
    ("It says Paris.\nVerdict: correct", "correct", "It says Paris."),
    ("Reasoning...\n\nverdict:   INCORRECT  \n\n", "incorrect", "Reasoning..."),
    ("Verdict: Correct", "correct", None),
    ("not json {\nVerdict: correct", "correct", "not json {"),
])
def test_documented_forms_are_read(text, label, rationale):
    verdict = parse_verdict(text, CORRECT)
    assert (verdict.label, verdict.rationale, verdict.problem) == (label, rationale, None)


@pytest.mark.parametrize(("dimension", "text", "label"), [
    (PREFERENCE, "Verdict: A is better", "A"),
    (PREFERENCE, "Verdict: response_b", "B"),
    (PREFERENCE, '{"label": "TIE"}', "tie"),
    (ALIGNMENT, "Verdict: 4", "4"),
    (ALIGNMENT, "Verdict: 4.0", "4"),
    (ALIGNMENT, '{"label": 5}', "5"),
    (ALIGNMENT, "Verdict: 2 · weak", "2"),
])
def test_display_names_aliases_and_ordinal_numbers_are_labels(dimension, text, label):
    assert parse_verdict(text, dimension).label == label


@pytest.mark.parametrize(("text", "problem"), [
    (None, "the output is empty"),
    ("   \n ", "the output is empty"),
    ("The answer is correct.", "the output is not a JSON verdict (not a JSON object) and its last "
                               "line is not 'Verdict: LABEL'"),
    ("Verdict: correct\nI hope that helps.", "its last line is not 'Verdict: LABEL'"),
    ("Verdict: **correct**", "the verdict line's label '**correct**' is not a label of 'correct'"),
    ("Verdict: correct.", "the verdict line's label 'correct.' is not a label of 'correct'"),
    ("Verdict: mostly correct", "the verdict line's label 'mostly correct' is not a label"),
    ("Verdict:", "the verdict line's label '' is not a label"),
    ("Final verdict: correct", "its last line is not 'Verdict: LABEL'"),
    ('{"label": "partially correct"}', "the JSON label 'partially correct' is not a label of 'correct'"),
    ('{"label": null}', "the JSON 'label' is None, not a single value"),
    ('{"label": ["correct"]}', "the JSON 'label' is ['correct'], not a single value"),
    ('{"verdict": "correct"}', "the JSON object has no 'label'"),
    ('{"label": "correct", "rationale": 3}', "the JSON 'rationale' is not text but 3"),
    ('["correct"]', "the output is not a JSON verdict (not a JSON object)"),
    ('{"label": "correct"', "the output is not a JSON verdict (invalid JSON"),
])
def test_anything_else_is_unparseable_with_the_reason(text, problem):
    verdict = parse_verdict(text, CORRECT)
    assert verdict.label is None and not verdict.parsed
    assert problem in verdict.problem


def test_an_unparseable_verdict_keeps_the_rationale_it_had():
    verdict = parse_verdict("The response names Lyon.\nVerdict: wrong", CORRECT)
    assert verdict.label is None and verdict.rationale == "The response names Lyon."


def test_json_schema_label_is_an_enum_of_the_labels_and_rationale_comes_first():
    assert verdict_json_schema(PREFERENCE, rationale=True) == {
        "type": "object",
        "properties": {"rationale": {"type": "string"},
                       "label": {"type": "string", "enum": ["A", "B", "tie"]}},
        "required": ["rationale", "label"], "additionalProperties": False}
    assert verdict_json_schema(ALIGNMENT, rationale=False)["properties"] == {
        "label": {"type": "string", "enum": ["1", "2", "3", "4", "5"]}}
    assert verdict_response_format(CORRECT, rationale=False) == {
        "type": "json_schema", "json_schema": {"name": "verdict", "strict": True, "schema": {
            "type": "object", "properties": {"label": {"type": "string", "enum": ["correct", "incorrect"]}},
            "required": ["label"], "additionalProperties": False}}}


def test_an_interval_dimension_takes_numbers_within_its_bounds():
    score = schema_from_dict({"name": "s", "fields": [{"name": "text"}], "dimensions": [
        {"name": "score", "scale": "interval", "min": 0, "max": 10}]}).dimensions[0]
    assert verdict_json_schema(score, rationale=False)["properties"]["label"] == {
        "type": "number", "minimum": 0.0, "maximum": 10.0}
    assert parse_verdict("Verdict: 7.5", score).label == "7.5"
    assert parse_verdict('{"label": 10}', score).label == "10"
    assert "above the maximum" in parse_verdict("Verdict: 11", score).problem
    assert parse_verdict("Verdict: seven", score).label is None


# --- properties ---------------------------------------------------------------------------

label_words = st.sampled_from(sorted({s for d in DIMENSIONS for s in spellings(d)} | {
    "Correct", "INCORRECT", "right", "wrong", "a", "b", "verdict", "Verdict:", "label", "5"}))
noise = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
sentences = st.lists(st.one_of(label_words, noise), max_size=8).map(" ".join)
texts = st.one_of(
    st.text(max_size=200),
    st.lists(sentences, min_size=1, max_size=5).map("\n".join),
    st.tuples(sentences, label_words, noise).map(lambda t: f"{t[0]}\nVerdict: {t[1]}{t[2]}"),
    st.tuples(sentences, noise, label_words).map(lambda t: f"{t[0]}\nverdict :{t[1]} {t[2]}"),
    st.tuples(st.one_of(label_words, noise, st.integers(), st.booleans(), st.none(),
                        st.lists(label_words, max_size=2)), noise).map(
        lambda t: json.dumps({"rationale": t[1], "label": t[0]})),
)


@settings(max_examples=400, deadline=None)
@given(text=texts, dimension=st.sampled_from(DIMENSIONS))
@example(text="The response is correct, not incorrect.", dimension=CORRECT)
@example(text="correct", dimension=CORRECT)
@example(text="Verdict: correct!", dimension=CORRECT)
@example(text="4 · Good", dimension=ALIGNMENT)
def test_a_label_is_only_ever_one_the_text_states(text, dimension):
    verdict = parse_verdict(text, dimension)
    assert (verdict.label is None) is (verdict.problem is not None)
    if verdict.label is not None:
        stated = what_text_states(text)
        assert stated, f"{text!r} states nothing but got {verdict.label!r}"
        assert verdict.label in stated_labels(dimension, stated[0]), (text, verdict)


@settings(max_examples=300, deadline=None)
@given(words=st.lists(st.one_of(label_words, noise), min_size=1, max_size=12),
       dimension=st.sampled_from(DIMENSIONS))
def test_label_words_in_free_text_are_never_taken_for_a_verdict(words, dimension):
    text = " ".join(words)
    if what_text_states(text):
        return  # it happens to be in a documented form: covered by the property above
    verdict = parse_verdict(text, dimension)
    assert verdict.label is None and verdict.problem


@settings(max_examples=300, deadline=None)
@given(dimension=st.sampled_from(DIMENSIONS), data=st.data())
def test_every_documented_spelling_is_read_in_both_forms(dimension, data):
    spelling, label = data.draw(st.sampled_from(sorted(spellings(dimension).items())))
    shown = data.draw(st.sampled_from([spelling, spelling.upper(), f"  {spelling} "]))
    assert parse_verdict(f"Because.\nVerdict: {shown}", dimension).label == label
    assert parse_verdict(json.dumps({"label": shown}), dimension).label == label


@settings(max_examples=300, deadline=None)
@given(dimension=st.sampled_from(DIMENSIONS), stated=st.text(max_size=20))
def test_a_stated_label_outside_the_documented_spellings_is_unparseable(dimension, stated):
    if stated_labels(dimension, stated):
        return
    assert parse_verdict(f"Verdict: {stated}", dimension).label is None
    assert parse_verdict(json.dumps({"label": stated}), dimension).label is None
