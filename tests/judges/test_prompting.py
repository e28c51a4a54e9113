"""Judge prompts: every shipped template x strategy x reference renders the item's texts, the
reference only when reference-guided, and (user-edited) templates are validated strictly."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from core.judges.prompting import (
    EMPTY,
    NOT_GIVEN,
    PROMPT_DIR,
    STRATEGIES,
    JudgeImage,
    PromptError,
    PromptTemplate,
    builtin_prompt,
    compile_prompt,
    label_descriptions_text,
    render_messages,
)
from core.schema import schema_from_dict
from core.templates import TEMPLATES

REFERENCE = "REFERENCE-ANSWER-7d1f"
ITEM_REFERENCE_FIELD = "ITEM-REFERENCE-FIELD-2b9c"  # correctness items carry one too
# Every template with shipped prompt texts: the registry, and batch_ranking until it is
# registered (the registry's own wins once it is).
SHIPPED = TEMPLATES
RESPONSES = ["FIRST-RESPONSE text", "SECOND-RESPONSE text", "THIRD-RESPONSE text"]


def item_for(template: str) -> dict[str, object]:
    """Distinctive texts for every field of a built-in template (the thematic source and the
    ranked responses lists), an image for each image field."""
    schema = SHIPPED[template]
    item: dict[str, object] = {name: f"TEXT-OF-{name.upper()}-{template}" for name in schema.field_names}
    if template == "thematic_alignment":
        item["source"] = ["FIRST-SOURCE text", "SECOND-SOURCE text"]
    if template == "batch_ranking":
        item["responses"] = list(RESPONSES)
    if "reference" in item:
        item["reference"] = ITEM_REFERENCE_FIELD
    for spec in schema.image_fields:
        item[spec.name] = JudgeImage(hashlib.sha256(spec.name.encode()).hexdigest(), "image/png",
                                     spec.name.encode())
    return item


CASES = list(itertools.product(SHIPPED, STRATEGIES, (False, True), ("json", "verdict")))


@pytest.mark.parametrize(("template", "strategy", "reference", "output"), CASES,
                         ids=["-".join(map(str, case)) for case in CASES])
def test_every_shipped_prompt_shows_the_item_and_the_reference_only_when_reference_guided(
        template, strategy, reference, output):
    schema = SHIPPED[template]
    prompt = compile_prompt(builtin_prompt(schema, strategy, reference=reference), schema)
    assert prompt.reference_guided is reference
    item = item_for(template)
    for dimension in schema.dimensions:
        messages = render_messages(prompt.template, schema, item, dimension, reference=REFERENCE,
                                   output=output)
        assert [m.role for m in messages] == ["system", "user"]
        user = messages[1].text
        # Every image field is sent as an image where the shipped text names it, never as text.
        assert [(part.field, part.image) for part in messages[1].images] == [
            (spec.name, item[spec.name]) for spec in schema.image_fields]
        assert isinstance(messages[1].content, str) is (not schema.image_fields)
        for name, value in item.items():
            if name == "reference" or isinstance(value, JudgeImage):
                continue
            texts = value if isinstance(value, list) else [value]
            assert all(text in user for text in texts), (name, user)
        assert (REFERENCE in user) is reference
        assert ITEM_REFERENCE_FIELD not in user  # {reference} is the caller's, never the item's
        assert dimension.title in user
        assert all(value in user for value in dimension.label_values)
        if strategy == "rubric":
            assert all(label.description in user for label in dimension.labels)
        assert "{" not in user.replace('{"', "")  # no field left unfilled
        if dimension.is_ranking:
            # The responses are numbered, and the answer is their numbers from best to worst.
            assert "\n\n".join(f"Response {n}:\n{text}" for n, text in enumerate(RESPONSES, 1)) in user
            assert "the response numbers 1 to 3, each exactly once, from the best" in user
            assert "label" not in user.lower()
            if output == "json":
                assert f'"{dimension.name}": [<best>, ..., <worst>]' in user
                assert ('"rationale"' in user) is STRATEGIES[strategy].rationale
            else:
                assert 'Verdict: [<best>, ..., <worst>]' in user
        elif output == "json":
            assert '"label"' in user and ("rationale" in user) is STRATEGIES[strategy].rationale
        else:
            assert 'Verdict: <label>' in user


def test_list_fields_are_numbered_one_per_line():
    schema = TEMPLATES["thematic_alignment"]
    messages = render_messages(builtin_prompt(schema, "direct"), schema,
                               {"source": ["Parking is too hard.", "Buses are late."], "response": "x"},
                               schema.dimensions[0])
    assert "Source texts:\n1. Parking is too hard.\n2. Buses are late.\n" in messages[1].content


def test_missing_and_empty_fields_say_so():
    schema = TEMPLATES["exam_question"]
    messages = render_messages(builtin_prompt(schema, "direct"), schema,
                               {"prompt": "What is 2+2?", "response": "  "}, schema.dimensions[0])
    user = messages[1].content
    assert f"Source context:\n{NOT_GIVEN}\n" in user
    assert f"Its answer:\n{EMPTY}\n" in user


def test_item_text_with_braces_is_shown_as_is_never_read_as_a_field():
    schema = TEMPLATES["correctness"]
    item = {"prompt": "Print {response} and {{x}} and {", "response": "use {labels}"}
    user = render_messages(builtin_prompt(schema, "direct"), schema, item, schema.dimensions[0])[1].content
    assert "Print {response} and {{x}} and {" in user
    assert "use {labels}" in user


def test_the_rubric_lists_each_label_with_its_display_name_and_description():
    dimension = TEMPLATES["pairwise"].dimension("preference")
    assert label_descriptions_text(dimension) == (
        "- A (A is better)\n- B (B is better)\n- tie (Tie): Equally good or equally bad.")


def test_literal_braces_are_written_doubled():
    schema = TEMPLATES["correctness"]
    template = PromptTemplate("Reply in {{JSON}}.", "Q: {prompt}\n{{\"a\": 1}}\n{output_format}", "direct")
    messages = render_messages(template, schema, {"prompt": "why?"}, schema.dimensions[0], output="verdict")
    assert messages[0].content == "Reply in {JSON}."
    assert messages[1].content.startswith('Q: why?\n{"a": 1}\nAnswer with a single line "Verdict: <label>"')


@pytest.mark.parametrize(("user", "problem"), [
    ("Q: {prompt}\nA: {respnse}\n{output_format}",
     "user message, line 2: unknown field {respnse} (allowed: dimension, dimension_description, "
     "label_descriptions, labels, output_format, prompt, reference, response; "
     "write {{ and }} for literal braces)"),
    ("{prompt.__class__}\n{output_format}", "user message, line 1: unknown field {prompt.__class__}"),
    ("{prompt!r}\n{output_format}", "user message, line 1: unknown field {prompt!r}"),
    ("{prompt:>20}\n{output_format}", "user message, line 1: unknown field {prompt:>20}"),
    ("{0}\n{output_format}", "user message, line 1: unknown field {0}"),
    ("{}\n{output_format}", "user message, line 1: unknown field {}"),
    ("{source}\n{output_format}", "user message, line 1: unknown field {source}"),  # not a correctness field
    ("one\ntwo {\n{output_format}", "user message, line 2: single '{'; write '{{' for a literal brace"),
    ("a } b\n{output_format}", "user message, line 1: single '}'; write '}}' for a literal brace"),
    ("Q: {prompt}", "user message: the template must contain {output_format}"),
])
def test_invalid_templates_are_refused_naming_where_and_what(user, problem):
    with pytest.raises(PromptError) as raised:
        compile_prompt(PromptTemplate("system", user, "direct"), TEMPLATES["correctness"])
    assert str(raised.value).startswith(problem)


def test_the_system_message_is_validated_too():
    with pytest.raises(PromptError, match=r"^system message, line 2: unknown field \{judge\}"):
        compile_prompt(PromptTemplate("You are\n{judge}", "{output_format}", "direct"),
                       TEMPLATES["correctness"])


def test_a_user_edited_copy_goes_through_the_same_validation():
    schema = TEMPLATES["pairwise"]
    shipped = builtin_prompt(schema, "rubric")
    edited = PromptTemplate(shipped.system, shipped.user.replace("{response_b}", "{response_c}"), "rubric")
    with pytest.raises(PromptError, match=r"unknown field \{response_c\}"):
        render_messages(edited, schema, {}, schema.dimensions[0])
    fine = PromptTemplate(shipped.system, "Be brief.\n" + shipped.user, "rubric")
    assert render_messages(fine, schema, {"prompt": "p", "response_a": "a", "response_b": "b"},
                           schema.dimensions[0])[1].content.startswith("Be brief.\nPrompt:\np\n")


def test_a_reference_guided_prompt_needs_a_reference():
    schema = TEMPLATES["correctness"]
    template = builtin_prompt(schema, "rationale", reference=True)
    item = {"prompt": "q", "response": "r", "reference": "the item's own"}
    for missing in (None, "", "   ", []):
        with pytest.raises(PromptError, match=r"reference-guided .* no reference answer was given"):
            render_messages(template, schema, item, schema.dimensions[0], reference=missing)


def test_a_reference_given_as_aliases_is_numbered():
    schema = TEMPLATES["correctness"]
    user = render_messages(builtin_prompt(schema, "direct", reference=True), schema,
                           {"prompt": "q", "response": "r"}, schema.dimensions[0],
                           reference=["Tintin", "Tin-Tin"])[1].content
    assert "1. Tintin\n2. Tin-Tin" in user


def test_an_empty_system_text_sends_no_system_message():
    schema = TEMPLATES["correctness"]
    messages = render_messages(PromptTemplate("  ", "{prompt}\n{output_format}", "direct"), schema,
                               {"prompt": "q"}, schema.dimensions[0])
    assert [m.role for m in messages] == ["user"]


def test_unknown_strategy_and_output_format_are_refused():
    schema = TEMPLATES["correctness"]
    with pytest.raises(PromptError,
                       match=r"unknown strategy 'cot' \(strategies: direct, rationale, rubric\)"):
        builtin_prompt(schema, "cot")
    with pytest.raises(PromptError, match=r"unknown strategy 'cot'"):
        PromptTemplate("s", "{output_format}", "cot")
    with pytest.raises(PromptError, match=r"unknown answer format 'xml' \(formats: json, verdict\)"):
        render_messages(builtin_prompt(schema, "direct"), schema, {}, schema.dimensions[0],
                        output="xml")  # type: ignore[arg-type]


def custom_schema():
    return schema_from_dict({
        "name": "helpfulness", "fields": [{"name": "context", "title": "Conversation"},
                                          {"name": "reply", "title": "Assistant reply"}],
        "dimensions": [{"name": "score", "scale": "interval", "min": 0, "max": 10,
                        "description": "How helpful is the reply?"}],
    })


def test_a_custom_schema_gets_a_generic_item_block_with_its_field_titles():
    schema = custom_schema()
    assert not (PROMPT_DIR / schema.name).exists()
    messages = render_messages(builtin_prompt(schema, "rubric", reference=True), schema,
                               {"context": "Hi, my printer jams.", "reply": "Turn it off and on."},
                               schema.dimensions[0], reference="Check the paper tray.", output="verdict")
    user = messages[1].content
    assert user.startswith("Conversation:\nHi, my printer jams.\n\nAssistant reply:\nTurn it off and on.")
    assert "Check the paper tray." in user
    assert "- number 0…10" in user


def test_every_shipped_text_file_is_used():
    """No orphan prompt file: each one is read by builtin_prompt, the output formats or debate."""
    used = {f"output/{ranking}{mode}{rationale}.txt" for ranking in ("", "ranking_")
            for mode in ("json", "verdict") for rationale in ("", "_rationale")}
    used |= {"debate/argue.txt", "debate/final.txt"}
    used |= {f"strategies/{kind}{name}.txt" for kind in ("", "ranking/") for name in STRATEGIES}
    used |= {f"{name}/{part}.txt" for name in SHIPPED for part in ("system", "item", "reference")}
    shipped = {str(path.relative_to(PROMPT_DIR)) for path in PROMPT_DIR.rglob("*.txt")}
    assert shipped == used
