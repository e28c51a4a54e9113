"""Reading a judge's ranking (issue 18, item 5): an order of the item's responses as a JSON
list, inside the JSON object under the dimension's name, or on the ``Verdict:`` line; anything
that is not a permutation of the item's response numbers is unparseable with the reason; the
structured-output schema is an array of exactly the item's number of response numbers."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.judges.verdicts import parse_verdict, verdict_json_schema, verdict_response_format
from core.schema import schema_from_dict
from core.templates import TEMPLATES

RANKING = TEMPLATES["batch_ranking"].dimension("ranking")
ORDER = schema_from_dict({
    "name": "custom", "fields": [{"name": "options", "kind": "texts"}],
    "dimensions": [{"name": "order", "scale": "ranking", "over": "options"}],
}).dimension("order")


@pytest.mark.parametrize(("text", "label", "rationale"), [
    ("[2, 1, 4, 3]", "2,1,4,3", None),
    ("  [2,1,4,3]\n", "2,1,4,3", None),
    ("```json\n[2, 1, 4, 3]\n```", "2,1,4,3", None),
    ('{"ranking": [2, 1, 4, 3]}', "2,1,4,3", None),
    ('{"rationale": "2 is exact; 3 is wrong.", "ranking": [2, 1, 4, 3]}', "2,1,4,3",
     "2 is exact; 3 is wrong."),
    ('```\n{"ranking": [4, 3, 2, 1], "confidence": 0.5}\n```', "4,3,2,1", None),  # extra keys ignored
    ("Response 2 is exact.\nVerdict: [2, 1, 4, 3]", "2,1,4,3", "Response 2 is exact."),
    ("verdict: 2,1,4,3", "2,1,4,3", None),
    ('["2", "1", "4", "3"]', "2,1,4,3", None),
])
def test_documented_forms_are_read(text, label, rationale):
    verdict = parse_verdict(text, RANKING, n_responses=4)
    assert (verdict.label, verdict.rationale, verdict.problem) == (label, rationale, None)


@pytest.mark.parametrize(("text", "problem"), [
    ("[1, 1, 2, 3]", "the JSON list is not an order of the responses: [1, 1, 2, 3] must order "
                     "responses 1–4 once each (missing [4]; repeated [1])"),
    ("[1, 2, 3]", "the JSON list is not an order of the responses: [1, 2, 3] must order "
                  "responses 1–4 once each (missing [4])"),
    ("[1, 2, 3, 4, 5]", "must order responses 1–4 once each (not a response [5])"),
    ("[0, 1, 2, 3]", "(missing [4]; not a response [0])"),
    ("[2.0, 1, 4, 3]", "2.0 in [2.0, 1, 4, 3] is not a response number"),
    ("[true, 1, 4, 3]", "True in [True, 1, 4, 3] is not a response number"),
    ("[[2, 1, 4, 3]]", "is not a response number"),
    ("[]", "[] must order responses 1–4 once each (missing [1, 2, 3, 4])"),
    ("Response 2 is the best, then 1, then 4, then 3.",
     "the output is not a JSON ranking (not a JSON object or list) and its last line is not "
     "'Verdict: [...]' (the response numbers from best to worst)"),
    ("Verdict: [2, 1, 4, 3].", "the verdict line is not an order of the responses"),
    ("Verdict: 2 > 1 > 4 > 3", "'2 > 1 > 4 > 3' is not a response number"),
    ("Verdict: response 2", "the verdict line is not an order of the responses"),
    ('{"label": [2, 1, 4, 3]}', "the JSON object has no 'ranking' (the list of response numbers "
                                "from best to worst)"),
    ('{"ranking": "2,1,4,3"}', "the JSON 'ranking' is '2,1,4,3', not a list of response numbers"),
    ('{"ranking": 2}', "the JSON 'ranking' is 2, not a list of response numbers"),
    ('{"ranking": [2, 1, 4, 3], "rationale": 7}', "the JSON 'rationale' is not text but 7"),
    ('[2, 1, 4, 3', "the output is not a JSON ranking (invalid JSON"),
    ("", "the output is empty"),
])
def test_anything_else_is_unparseable_with_the_reason(text, problem):
    verdict = parse_verdict(text, RANKING, n_responses=4)
    assert verdict.label is None and not verdict.parsed
    assert problem in verdict.problem


def test_the_order_is_read_under_the_dimension_s_own_name():
    assert parse_verdict('{"order": [3, 1, 2]}', ORDER, n_responses=3).label == "3,1,2"
    assert "has no 'order'" in parse_verdict('{"ranking": [3, 1, 2]}', ORDER,
                                             n_responses=3).problem


def test_without_the_item_s_count_any_full_order_of_two_to_nine_is_read():
    assert parse_verdict("[3, 1, 2]", RANKING).label == "3,1,2"
    assert parse_verdict("[1]", RANKING).label is None
    assert parse_verdict("[1, 3]", RANKING).label is None


def test_a_very_long_stated_order_gives_a_short_problem():
    verdict = parse_verdict("Verdict: " + "x" * 5000, RANKING, n_responses=4)
    assert verdict.label is None and len(verdict.problem) <= 301


def test_an_unparseable_ranking_keeps_its_rationale():
    verdict = parse_verdict("Two is best.\nVerdict: [2, 2, 1]", RANKING, n_responses=3)
    assert verdict.label is None and verdict.rationale == "Two is best."


@settings(max_examples=300, deadline=None)
@given(n=st.integers(2, 9), stated=st.lists(st.integers(-1, 11), max_size=11),
       form=st.sampled_from(["list", "object", "line"]))
def test_exactly_the_permutations_of_the_item_s_responses_are_read(n, stated, form):
    text = {"list": json.dumps(stated), "object": json.dumps({"ranking": stated}),
            "line": f"Verdict: {json.dumps(stated)}"}[form]
    verdict = parse_verdict(text, RANKING, n_responses=n)
    if sorted(stated) == list(range(1, n + 1)):  # oracle: a permutation of 1..n
        assert verdict.label == ",".join(map(str, stated))
    else:
        assert verdict.label is None and verdict.problem


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=80))
def test_text_without_numbers_is_never_read_as_an_order(text):
    for candidate in (text, f"{text}\nVerdict: {text}", json.dumps({"ranking": text})):
        verdict = parse_verdict(candidate, RANKING, n_responses=3)
        assert verdict.label is None and verdict.problem


def test_the_json_schema_is_an_array_of_exactly_the_item_s_response_numbers():
    assert verdict_json_schema(RANKING, rationale=True, n_responses=4) == {
        "type": "object",
        "properties": {"rationale": {"type": "string"},
                       "ranking": {"type": "array",
                                   "items": {"type": "integer", "enum": [1, 2, 3, 4]},
                                   "minItems": 4, "maxItems": 4}},
        "required": ["rationale", "ranking"], "additionalProperties": False}
    assert verdict_json_schema(ORDER, rationale=False, n_responses=2)["properties"] == {
        "order": {"type": "array", "items": {"type": "integer", "enum": [1, 2]},
                  "minItems": 2, "maxItems": 2}}
    # Without the item's count: 2 to 9 numbers 1..9 (the parser checks the permutation).
    generic = verdict_json_schema(RANKING, rationale=False)["properties"]["ranking"]
    assert (generic["minItems"], generic["maxItems"], generic["items"]["enum"]) == (
        2, 9, list(range(1, 10)))
    assert verdict_response_format(RANKING, rationale=False, n_responses=3) == {
        "type": "json_schema",
        "json_schema": {"name": "verdict", "strict": True,
                        "schema": verdict_json_schema(RANKING, rationale=False, n_responses=3)}}


def test_the_item_s_count_is_the_length_of_its_ranked_list():
    assert RANKING.responses_in({"responses": ["a", "b", "c"]}) == 3
    assert RANKING.responses_in({"responses": ("h1", "h2")}) == 2  # image hashes or images
    assert RANKING.responses_in({"prompt": "p"}) is None
    assert RANKING.responses_in({"responses": "not a list"}) is None
    assert ORDER.responses_in({"responses": ["a", "b"]}) is None  # it ranks "options"
    not_ranking = schema_from_dict({"name": "n", "fields": [{"name": "responses", "kind": "texts"}],
                                    "dimensions": [{"name": "ok", "scale": "nominal",
                                                    "labels": [{"value": "y"}, {"value": "n"}]}]})
    assert not_ranking.dimension("ok").responses_in({"responses": ["a", "b"]}) is None
