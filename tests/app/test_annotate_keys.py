"""The annotation page's key map, built from task schemas (pure, no Streamlit run)."""

from __future__ import annotations

from components.annotate_keys import key_map, label_keys
from components.annotate_panel import item_heading
from core.schema import schema_from_dict
from core.templates import TEMPLATES


def schema(labels: list[dict], *, dimensions: int = 1):
    return schema_from_dict({
        "name": "custom", "fields": [{"name": "prompt"}],
        "dimensions": [{"name": f"d{i}", "scale": "nominal", "labels": labels}
                       for i in range(dimensions)]})


def test_template_keys_come_from_the_schema():
    keys = key_map(TEMPLATES["exam_question"])
    assert keys.labels["difficulty"] == {str(v): str(v) for v in range(1, 6)}
    assert keys.flag == "F" and keys.move_dimension
    assert key_map(TEMPLATES["correctness"]).legend()[:2] == [("1 2", "choose a label"),
                                                              ("Enter", "save")]
    assert key_map(TEMPLATES["thematic_alignment"]).legend()[0] == ("1–5", "choose a label")


def test_labels_without_keys_get_free_digits_in_order():
    custom = schema([{"value": "good", "key": "2"}, {"value": "bad"}, {"value": "ugly"}])
    assert label_keys(custom.dimensions[0]) == {"good": "2", "bad": "1", "ugly": "3"}


def test_a_schema_that_uses_f_for_a_label_loses_the_flag_key_not_the_label():
    custom = schema([{"value": "fine", "key": "f"}, {"value": "poor", "key": "p"}])
    keys = key_map(custom)
    assert keys.labels["d0"] == {"fine": "F", "poor": "P"}
    assert keys.flag is None and not keys.move_dimension
    assert ("F", "flag for review") not in keys.legend()
    assert keys.legend()[0] == ("F P", "choose a label")


def test_rationale_rating_keys_are_listed_only_with_rationales_and_yield_to_labels():
    keys = key_map(TEMPLATES["correctness"])
    assert keys.rate == {"sound": "J", "flawed": "K", "hallucinated": "L"}
    rating = ("J K L", "rate the next rationale sound / flawed / hallucinated")
    assert rating in keys.legend(rationales=True) and rating not in keys.legend()
    custom = key_map(schema([{"value": "keep", "key": "k"}, {"value": "drop", "key": "d"}]))
    assert custom.rate is None  # K is a label's: the ratings are by click only
    assert not [entry for entry in custom.legend(rationales=True) if "rationale" in entry[1]]


def test_item_heading_escapes_the_id_and_shows_the_state():
    assert item_heading("q*1", "done", flagged=True) == (
        "**Item q\\*1** :green-badge[:material/check: Labelled] "
        ":orange-badge[:material/flag: Flagged]")
    assert item_heading("q1", "pending", flagged=False) == "**Item q1** :blue-badge[To label]"


def test_a_ranking_lists_its_response_numbers_and_backspace_first():
    keys = key_map(TEMPLATES["batch_ranking"])
    assert keys.ranking and keys.labels == {"ranking": {}}
    assert keys.legend(responses=4)[:3] == [("1–4", "rank the responses, best first"),
                                            ("Backspace", "undo"), ("Enter", "save")]
    assert keys.legend(responses=2)[0] == ("1 2", "rank the responses, best first")
    assert not key_map(TEMPLATES["correctness"]).ranking
