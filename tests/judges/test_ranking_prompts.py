"""Judge prompts for ranking dimensions (issue 18, item 5): the ranked responses numbered
``Response k:`` as texts and as images (each image after its number, in list order), the answer
format asking for exactly the item's response numbers, and the ranking strategy texts only for
schemas whose dimensions are all rankings."""

from __future__ import annotations

import hashlib

import pytest

from core.judges.prompting import (
    STRATEGIES,
    ImagePart,
    JudgeImage,
    PromptTemplate,
    TextPart,
    builtin_prompt,
    compile_prompt,
    label_descriptions_text,
    render_messages,
)
from core.schema import schema_from_dict
from core.templates import TEMPLATES

BATCH = TEMPLATES["batch_ranking"]
RANKING = BATCH.dimension("ranking")
GALLERY = schema_from_dict({
    "name": "gallery",
    "fields": [{"name": "prompt", "title": "Instruction"},
               {"name": "candidates", "title": "Pictures", "kind": "images"}],
    "dimensions": [{"name": "order", "scale": "ranking", "over": "candidates",
                    "description": "Which picture follows the instruction best?"}],
})
MIXED = schema_from_dict({
    "name": "mixed",
    "fields": [{"name": "prompt"}, {"name": "responses", "kind": "texts"}],
    "dimensions": [{"name": "ranking", "scale": "ranking", "over": "responses"},
                   {"name": "any_good", "scale": "nominal",
                    "labels": [{"value": "yes"}, {"value": "no"}]}],
})


def image(name: str) -> JudgeImage:
    return JudgeImage(hashlib.sha256(name.encode()).hexdigest(), "image/png", name.encode())


PICTURES = [image("first"), image("second"), image("third")]


def test_the_ranked_responses_are_numbered_blocks_in_the_shipped_prompt():
    item = {"prompt": "Name a colour.", "responses": ["Red.", "Blue,\nlike the sky.", " ", "Green."]}
    user = render_messages(builtin_prompt(BATCH, "direct"), BATCH, item, RANKING)[1].content
    assert user.startswith("Prompt:\nName a colour.\n\nResponses to rank:\n\n"
                           "Response 1:\nRed.\n\nResponse 2:\nBlue,\nlike the sky.\n\n"
                           "Response 3:\n(empty)\n\nResponse 4:\nGreen.\n\nCriterion: Ranking\n")
    assert user.endswith('Answer with a JSON object {"ranking": [<best>, ..., <worst>]} and '
                         "nothing else, where the list holds the response numbers 1 to 4, each "
                         "exactly once, from the best response to the worst.")


@pytest.mark.parametrize("count", [2, 5, 9])
def test_the_answer_format_asks_for_the_numbers_of_this_item(count):
    item = {"prompt": "p", "responses": [f"r{n}" for n in range(count)]}
    for output in ("json", "verdict"):
        user = render_messages(builtin_prompt(BATCH, "rationale"), BATCH, item, RANKING,
                               output=output)[1].content
        assert f"the response numbers 1 to {count}, each exactly once" in user
        assert f"Response {count}:\nr{count - 1}" in user and f"Response {count + 1}:" not in user


def test_the_verdict_line_form_with_a_rationale():
    user = render_messages(builtin_prompt(BATCH, "rubric"), BATCH,
                           {"prompt": "p", "responses": ["a", "b", "c"]}, RANKING,
                           output="verdict")[1].content
    assert "Check each response against the criterion in turn" in user
    assert user.endswith('Write your reasoning, then end with a last line "Verdict: [<best>, ..., '
                         '<worst>]", where the list holds the response numbers 1 to 3, each '
                         "exactly once, from the best response to the worst. Write nothing after "
                         "that line.")


def test_ranked_images_each_follow_their_number_in_list_order():
    item = {"prompt": "A red circle.", "candidates": [PICTURES[2], PICTURES[0], PICTURES[1]]}
    dimension = GALLERY.dimension("order")
    messages = render_messages(builtin_prompt(GALLERY, "direct"), GALLERY, item, dimension)
    parts = messages[1].content
    assert parts[:7] == (
        TextPart("Instruction:\nA red circle.\n\nPictures:\nResponse 1:\n"),
        ImagePart("candidates", PICTURES[2]), TextPart("\n\nResponse 2:\n"),
        ImagePart("candidates", PICTURES[0]), TextPart("\n\nResponse 3:\n"),
        ImagePart("candidates", PICTURES[1]),
        parts[6])
    assert isinstance(parts[6], TextPart) and parts[6].text.startswith("\n\nCriterion: Order\n")
    assert "the response numbers 1 to 3, each exactly once" in parts[6].text
    assert len(parts) == 7


def test_ranked_images_the_text_does_not_name_come_last_still_numbered():
    template = PromptTemplate("", "Rank these for: {prompt}\n{output_format}", "direct")
    item = {"prompt": "A red circle.", "candidates": PICTURES[:2]}
    [message] = render_messages(template, GALLERY, item, GALLERY.dimension("order"),
                                output="verdict")
    parts = message.content
    assert [type(part).__name__ for part in parts] == ["TextPart", "ImagePart", "TextPart",
                                                       "ImagePart"]
    assert parts[0].text.startswith("Rank these for: A red circle.\nAnswer with a single line")
    assert parts[0].text.endswith("from the best response to the worst.\n\nResponse 1:\n")
    assert parts[2].text == "\n\nResponse 2:\n"
    assert [parts[1].image, parts[3].image] == PICTURES[:2]


def test_a_schema_with_only_rankings_gets_the_ranking_strategy_texts():
    for strategy in STRATEGIES:
        for schema in (BATCH, GALLERY):
            user = builtin_prompt(schema, strategy).user
            assert "rank" in user.lower() and "label" not in user.lower()
        # A schema that also has a label dimension keeps the label strategies: one user text
        # serves every dimension. Its ranking dimension still gets the ranking answer format.
        assert "label" in builtin_prompt(MIXED, strategy).user.lower()
    prompt = compile_prompt(builtin_prompt(MIXED, "direct"), MIXED)
    item = {"prompt": "p", "responses": ["a", "b"]}
    ranking = prompt.render(item, MIXED.dimension("ranking"))[1].content
    nominal = prompt.render(item, MIXED.dimension("any_good"))[1].content
    assert "Response 1:\na\n\nResponse 2:\nb" in ranking and "Response 1:\na" in nominal
    assert ranking.endswith("the response numbers 1 to 2, each exactly once, from the best "
                            "response to the worst.")
    assert "Allowed labels: an order of the responses from best to worst" in ranking
    assert nominal.endswith('{"label": "<label>"} and nothing else, where <label> is exactly one '
                            "of: yes, no.")


def test_label_fields_of_a_ranking_say_what_a_ranking_is():
    assert label_descriptions_text(RANKING) == (
        "- an order of the responses from best to worst, e.g. [2, 1, 3]")
    user = render_messages(PromptTemplate("", "{labels}|{label_descriptions}|{output_format}",
                                          "direct"), BATCH, {"responses": ["a", "b"]}, RANKING)[0].content
    assert user.startswith("an order of the responses from best to worst, e.g. [2, 1, 3]|- an "
                           "order of the responses")


def test_an_item_without_its_responses_still_renders():
    user = render_messages(builtin_prompt(BATCH, "direct"), BATCH, {"prompt": "p"},
                           RANKING)[1].content
    assert "Responses to rank:\n\n(not given)" in user
    assert "the response numbers of all the responses, each exactly once" in user
