"""Import of ranking labels (issue 18): the batch_ranking template's `ranking` dimension takes an
order of the row's responses in every spelling, stores the canonical "2,1,4,3", and refuses an
order that is not a permutation of exactly that row's responses, naming line and column."""

from __future__ import annotations

import pytest

from core.schema import SchemaError, schema_from_dict
from core.templates import TEMPLATES
from tests.core.test_import_validate import problems, validate_csv, validate_jsonl

RANKING = TEMPLATES["batch_ranking"]


def row(item_id: str, order: object, responses: object = ("a", "b", "c", "d"), **extra: object
        ) -> dict:
    return {"id": item_id, "prompt": "Which is best?", "responses": list(responses)
            if isinstance(responses, tuple) else responses,
            "humans": {"ann": {"ranking": order}}, **extra}


def stored_labels(batch) -> list[str | None]:
    (labels,) = [r.labels for r in batch.rater_labels if r.rater == "ann"]
    return list(labels)


def test_every_spelling_of_an_order_is_stored_as_its_canonical_text():
    batch = validate_jsonl(row("1", [2, 1, 4, 3]), row("2", "[4, 3, 2, 1]"),
                           row("3", "1,2,3,4"), row("4", ["3", "1", "2", "4"]), schema=RANKING)
    assert problems(batch) == []
    assert stored_labels(batch) == ["2,1,4,3", "4,3,2,1", "1,2,3,4", "3,1,2,4"]


def test_csv_holds_the_responses_as_a_json_list_and_the_order_as_comma_text():
    batch = validate_csv('id,prompt,responses,human.ann.ranking',
                         '1,Q,"[""x"", ""y"", ""z""]","3,1,2"', schema=RANKING)
    assert problems(batch) == []
    assert stored_labels(batch) == ["3,1,2"]
    assert batch.items.fields_json[0] == '{"prompt": "Q", "responses": ["x", "y", "z"]}'


@pytest.mark.parametrize(("order", "responses", "message"), [
    ([1, 2, 3], ("a", "b", "c", "d"),
     "human.ann.ranking: the ranking '1,2,3' orders 3 responses, the item's 'responses' holds 4"),
    ([1, 1, 2, 3], ("a", "b", "c", "d"), r"human.ann.ranking: [1, 1, 2, 3] must order responses "
                                         "1–4 once each (missing [4]; repeated [1])"),
    ("best", ("a", "b"), "human.ann.ranking: 'best' in 'best' is not a response number"),
    ([1, 2], ("only one",), "responses: a ranked field holds 2–9 responses, this row 1"),
    ([1, 2], "one text", "responses: a ranked field holds 2–9 responses, this row 1"),
])
def test_an_order_that_is_not_of_this_rows_responses_is_refused(order, responses, message):
    batch = validate_jsonl(row("good", [2, 1, 3, 4]), row("bad", order, responses),
                           schema=RANKING)
    assert problems(batch) == [f"f.jsonl:line 2: {message}"]
    assert [item for item in batch.items.external_ids] == ["good"]


def _schema(dimension: dict, field_kind: str = "texts") -> dict:
    return {"name": "r", "fields": [{"name": "responses", "kind": field_kind}],
            "dimensions": [{"name": "rank", **dimension}]}


def test_a_ranking_over_images_is_a_valid_schema():
    schema = schema_from_dict(_schema({"scale": "ranking", "over": "responses"}, "images"))
    assert schema.dimensions[0].over == "responses"
    assert schema.dimensions[0].is_ranking


@pytest.mark.parametrize(("dimension", "kind", "problem"), [
    ({"scale": "ranking", "over": "nothing"}, "texts",
     "dimensions[0].over: 'nothing' is not a field of kind texts or images (list fields: responses)"),
    ({"scale": "ranking"}, "text",
     "dimensions[0].over: 'responses' is not a field of kind texts or images (list fields: none)"),
    ({"scale": "ranking", "labels": [{"value": "a"}, {"value": "b"}]}, "texts",
     "dimensions[0].labels: a ranking dimension orders its `over` field's entries: it takes no "
     "labels"),
    ({"scale": "ordinal", "over": "responses", "labels": [{"value": "1"}, {"value": "2"}]},
     "texts", "dimensions[0].over: only ranking dimensions take over"),
])
def test_a_wrong_ranking_dimension_is_refused_naming_the_key(dimension, kind, problem):
    with pytest.raises(SchemaError) as caught:
        schema_from_dict(_schema(dimension, kind), source="s.toml")
    assert f"s.toml: {problem}" in str(caught.value).splitlines()
