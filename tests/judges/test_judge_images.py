"""Judges on items with images (issue 18, item 5): where the images go in the user message,
the OpenAI ``image_url`` parts with ``data:`` URIs the fake server receives (decoded back to
the very bytes, with their MIME type), text-only items unchanged, and an endpoint not marked
vision-capable refused before any request is made."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest
from PIL import Image, ImageDraw

from core.judges.client import JudgeRequest
from core.judges.debate import DebateSetup, run_debate
from core.judges.prompting import (
    NOT_GIVEN,
    ImagePart,
    JudgeImage,
    Message,
    PromptError,
    PromptTemplate,
    TextPart,
    builtin_prompt,
    compile_prompt,
    render_messages,
)
from core.schema import schema_from_dict
from core.templates import TEMPLATES
from tests.judges.fake_openai import content_text
from tests.judges.helpers import with_client

SCORING = TEMPLATES["image_scoring"]
SCORE = SCORING.dimension("score")
ALBUM = schema_from_dict({
    "name": "album",
    "fields": [{"name": "cover", "kind": "image"}, {"name": "prompt"},
               {"name": "pages", "kind": "images", "required": False},
               {"name": "back", "kind": "image", "required": False}],
    "dimensions": [{"name": "ok", "scale": "nominal",
                    "labels": [{"value": "yes"}, {"value": "no"}]}],
})
OK = ALBUM.dimension("ok")


def drawn(fmt: str = "PNG", colour: tuple[int, int, int] = (200, 40, 40),
          size: tuple[int, int] = (64, 48)) -> bytes:
    """A real picture drawn with Pillow: a filled circle on a white background."""
    image = Image.new("RGB", size, (255, 255, 255))
    ImageDraw.Draw(image).ellipse((8, 4, size[0] - 8, size[1] - 4), fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def judge_image(data: bytes, mime: str) -> JudgeImage:
    return JudgeImage(hashlib.sha256(data).hexdigest(), mime, data)


PNG = judge_image(drawn("PNG"), "image/png")
JPEG = judge_image(drawn("JPEG", (30, 90, 200)), "image/jpeg")
GIF = judge_image(drawn("GIF", (20, 160, 60)), "image/gif")


def decoded(url: str) -> tuple[str, bytes]:
    """The MIME type and bytes of a ``data:<mime>;base64,<data>`` URI, parsed by hand."""
    header, comma, payload = url.partition(",")
    assert comma and header.startswith("data:") and header.endswith(";base64"), header
    return header[len("data:"):-len(";base64")], base64.b64decode(payload, validate=True)


def wire_parts(content: object) -> list[tuple[str, object]]:
    """A wire content list as ``("text", text)`` / ``("image", (mime, bytes))`` pairs."""
    assert isinstance(content, list)
    out: list[tuple[str, object]] = []
    for part in content:
        if part["type"] == "text":
            assert set(part) == {"type", "text"}
            out.append(("text", part["text"]))
        else:
            assert part["type"] == "image_url" and set(part["image_url"]) == {"url"}
            out.append(("image", decoded(part["image_url"]["url"])))
    return out


def album_prompt(user: str, system: str = "You judge albums.") -> PromptTemplate:
    return PromptTemplate(system=system, user=user, strategy="direct")


# --- placement ------------------------------------------------------------------------------

def test_the_image_goes_where_the_shipped_prompt_names_it_and_decodes_to_its_bytes():
    item = {"image": PNG, "prompt": "How many circles?", "response": "One red circle."}
    messages = render_messages(builtin_prompt(SCORING, "rationale"), SCORING, item, SCORE)

    assert isinstance(messages[0].content, str)  # the system message never carries images
    wire = wire_parts(messages[1].as_dict()["content"])
    assert [kind for kind, _ in wire] == ["text", "image", "text"]
    assert wire[0] == ("text", "Image:\n")
    assert wire[1] == ("image", ("image/png", drawn("PNG")))
    after = wire[2][1]
    assert isinstance(after, str)
    assert after.startswith("\n\nQuestion about the image:\nHow many circles?\n\nAnswer to grade:\n"
                            "One red circle.\n\nCriterion: Score")
    assert Image.open(io.BytesIO(wire[1][1][1])).format == "PNG"


@pytest.mark.parametrize("strategy", ["direct", "rationale", "rubric"])
@pytest.mark.parametrize("reference", [False, True])
def test_every_shipped_image_scoring_prompt_sends_the_image_once(strategy, reference):
    template = builtin_prompt(SCORING, strategy, reference=reference)
    item = {"image": JPEG, "prompt": "q", "response": "r"}
    messages = render_messages(template, SCORING, item, SCORE, reference="ref", output="verdict")
    assert [(part.field, part.image) for part in messages[1].images] == [("image", JPEG)]
    assert "{image}" not in messages[1].text and NOT_GIVEN not in messages[1].text


def test_a_list_field_is_split_in_place_in_list_order_and_unnamed_fields_come_after_the_text():
    prompt = album_prompt("Cover: {cover}\nPages:\n{pages}\nQuestion: {prompt}\n{output_format}")
    item = {"cover": PNG, "pages": [JPEG, GIF, PNG], "prompt": "Same style?", "back": GIF}
    (system, user) = render_messages(prompt, ALBUM, item, OK, output="verdict")

    assert system.content == "You judge albums."
    parts = user.content
    assert isinstance(parts, tuple)
    assert [type(part).__name__ for part in parts] == [
        "TextPart", "ImagePart", "TextPart", "ImagePart", "ImagePart", "ImagePart", "TextPart",
        "ImagePart"]
    assert parts[0] == TextPart("Cover: ")
    assert parts[2] == TextPart("\nPages:\n")
    assert [(p.field, p.image) for p in parts if isinstance(p, ImagePart)] == [
        ("cover", PNG), ("pages", JPEG), ("pages", GIF), ("pages", PNG), ("back", GIF)]
    assert isinstance(parts[6], TextPart) and parts[6].text.startswith("\nQuestion: Same style?\n")
    assert not parts[6].text.endswith(("\n", " "))  # the text is stripped before the appendix
    wire = wire_parts(user.as_dict()["content"])
    assert [payload for kind, payload in wire if kind == "image"] == [
        ("image/png", PNG.data), ("image/jpeg", JPEG.data), ("image/gif", GIF.data),
        ("image/png", PNG.data), ("image/gif", GIF.data)]


def test_image_fields_the_text_does_not_name_follow_it_in_schema_order():
    prompt = album_prompt("Question: {prompt}\n{output_format}")
    item = {"back": GIF, "pages": [JPEG], "cover": PNG, "prompt": "q"}
    user = render_messages(prompt, ALBUM, item, OK)[1]
    assert isinstance(user.parts[0], TextPart) and user.parts[0].text.startswith("Question: q\n")
    assert [(p.field, p.image) for p in user.parts[1:]] == [
        ("cover", PNG), ("pages", JPEG), ("back", GIF)]


def test_a_missing_image_reads_not_given_where_named_and_adds_nothing_elsewhere():
    prompt = album_prompt("Back: {back}\nCover: {cover}\n{output_format}")
    user = render_messages(prompt, ALBUM, {"cover": PNG, "prompt": "q"}, OK)[1]
    assert user.parts[0] == TextPart(f"Back: {NOT_GIVEN}\nCover: ")
    assert [(p.field, p.image) for p in user.images] == [("cover", PNG)]
    # No image at all: a plain string, as for any text item.
    text_only = render_messages(prompt, ALBUM, {"prompt": "q"}, OK)[1]
    assert isinstance(text_only.content, str)
    assert text_only.content.startswith(f"Back: {NOT_GIVEN}\nCover: {NOT_GIVEN}\n")


def test_text_only_items_keep_a_plain_string_content():
    schema = TEMPLATES["correctness"]
    messages = render_messages(builtin_prompt(schema, "direct"), schema,
                               {"prompt": "2+2?", "response": "4"}, schema.dimension("correct"))
    assert all(isinstance(m.content, str) for m in messages)
    assert messages[1].as_dict() == {"role": "user", "content": messages[1].content}
    assert messages[1].text == messages[1].describe() == messages[1].content


def test_an_image_field_in_the_system_message_is_refused():
    with pytest.raises(PromptError, match=r"system message: image field \{cover\} can only be "
                                          r"placed in the user message"):
        compile_prompt(album_prompt("{output_format}", system="Look at {cover}"), ALBUM)


def test_a_hash_instead_of_image_data_is_refused_naming_the_field():
    prompt = compile_prompt(builtin_prompt(SCORING, "direct"), SCORING)
    with pytest.raises(PromptError, match=r"image field 'image': '0{64}' is not image data"):
        prompt.render({"image": "0" * 64, "prompt": "q", "response": "r"}, SCORE)
    with pytest.raises(PromptError, match=r"image field 'pages': '1{64}' is not image data"):
        compile_prompt(album_prompt("{output_format}"), ALBUM).render(
            {"cover": PNG, "pages": [JPEG, "1" * 64]}, OK)


def test_the_message_names_images_by_hash_never_by_their_bytes():
    user = render_messages(builtin_prompt(SCORING, "direct"), SCORING,
                           {"image": PNG, "prompt": "q", "response": "r"}, SCORE)[1]
    payload = base64.b64encode(PNG.data).decode()
    described = user.describe()
    assert f"[image image: image/png, {len(PNG.data):,} bytes, sha256 {PNG.sha256}]" in described
    assert payload not in described and payload not in repr(user) and payload not in str(user)


def test_a_debate_turn_is_added_after_the_images():
    user = render_messages(builtin_prompt(SCORING, "direct"), SCORING,
                           {"image": PNG, "prompt": "q", "response": "r"}, SCORE)[1]
    longer = user.with_text("Now argue.")
    assert longer.images == user.images
    assert longer.text == user.text + "\n\nNow argue."
    assert len(longer.parts) == len(user.parts)  # merged into the last text part
    only_image = Message("user", (ImagePart("image", PNG),))
    assert only_image.with_text("Go.").parts == (ImagePart("image", PNG), TextPart("\n\nGo."))


# --- on the wire (the fake OpenAI server) ---------------------------------------------------

def scoring_request(image: JudgeImage, label: str = "4") -> JudgeRequest:
    prompt = compile_prompt(builtin_prompt(SCORING, "direct"), SCORING)
    item = {"image": image, "prompt": "How many circles?", "response": f"One. <<expect:{label}>>"}
    return JudgeRequest("k", prompt, item, SCORE)


@pytest.mark.parametrize("image", [PNG, JPEG], ids=["png", "jpeg"])
def test_a_vision_endpoint_receives_the_image_as_a_data_uri_of_its_exact_bytes(fake_openai, image):
    result = with_client(fake_openai, lambda client: client.call(scoring_request(image)),
                         vision=True)

    assert result.verdict is not None and result.verdict.label == "4"
    (request,) = fake_openai.requests
    system, user = request.body["messages"]
    assert system["role"] == "system" and isinstance(system["content"], str)
    wire = wire_parts(user["content"])
    assert [kind for kind, _ in wire] == ["text", "image", "text"]
    assert wire[1] == ("image", (image.mime, image.data))
    fmt = Image.open(io.BytesIO(wire[1][1][1])).format
    assert {"PNG": "image/png", "JPEG": "image/jpeg"}[fmt] == image.mime
    assert wire[0][1] == "Image:\n" and "How many circles?" in wire[2][1]
    assert "response_format" in request.body  # the answer format is unchanged by images


def test_a_text_item_is_sent_as_before(fake_openai):
    from tests.judges.helpers import request as text_request

    with_client(fake_openai, lambda client: client.call(text_request(0)), vision=True)
    (request,) = fake_openai.requests
    assert all(isinstance(m["content"], str) for m in request.body["messages"])


def test_an_endpoint_not_marked_vision_capable_is_refused_before_any_request(fake_openai):
    result = with_client(fake_openai, lambda client: client.call(scoring_request(PNG)))

    assert result.verdict is None and result.attempts == 0
    assert result.error == (f"endpoint judge-model at {fake_openai.base_url} is not marked "
                            "vision-capable; the item has image fields image")
    assert fake_openai.requests == []


def test_an_error_echoing_the_request_never_carries_the_base64(fake_openai):
    payload = base64.b64encode(PNG.data).decode()

    async def use(client):
        # A server that echoes the request in its error: the data URI is cut to its header.
        return client._scrub(f"HTTP 400: bad image data:image/png;base64,{payload} in message 1")

    scrubbed = with_client(fake_openai, use, vision=True)
    assert scrubbed == "HTTP 400: bad image data:image/png;base64,… in message 1"


def test_every_debater_sees_the_image(fake_openai):
    messages = render_messages(builtin_prompt(SCORING, "direct"), SCORING,
                               {"image": JPEG, "prompt": "q", "response": "r <<expect:2>>"},
                               SCORE, output="verdict")

    async def use(client):
        async def call(judge, turn):
            done = await client.complete(turn)
            assert done.error is None, done.error
            return done.text
        return await run_debate(DebateSetup(("a", "b"), rounds=1), messages, SCORE, call)

    result = with_client(fake_openai, use, vision=True)
    assert result.verdict.label == "2"
    assert len(fake_openai.requests) == 3
    for request in fake_openai.requests:
        user = request.body["messages"][-1]
        assert [payload for kind, payload in wire_parts(user["content"]) if kind == "image"] == [
            ("image/jpeg", JPEG.data)]
    assert "Verdict" in content_text(fake_openai.requests[-1].body["messages"][-1]["content"])


def test_the_data_uri_is_encoded_once_per_image():
    image = judge_image(drawn("PNG"), "image/png")
    assert image.data_uri is image.data_uri
