"""Judge prompts: the shipped strategies, validation of (user-edited) templates, rendering.

A :class:`PromptTemplate` is a system text and a user text with named fields in braces
(``{prompt}``, ``{response}``, ``{labels}`` ...; literal braces are written ``{{`` and ``}}``).
:func:`builtin_prompt` composes the shipped one for a task schema and a strategy from the text
files in ``prompts/``; users copy and edit those, and :func:`compile_prompt` holds shipped and
edited templates to the same rules. A judge is prompted once per item x dimension x sample.

Fields a template may use:

* the schema's item fields (``prompt``, ``response``, ``source``, ``response_a`` ...): a list
  value (e.g. the thematic ``source`` texts) is numbered ``1. ...``, one per line; a field the
  item does not have reads ``(not given)``, an empty one ``(empty)``. The list a ranking
  dimension orders (its ``over`` field, e.g. ``responses``) is written as numbered blocks
  ``Response 1:`` / the text / a blank line / ``Response 2:`` ..., since the judge answers with
  those numbers;
* ``reference``: the reference answer the *caller* passes (the item's reference, or the
  adjudicated gold reference when one exists), never read from the item. A template that uses
  it is reference-guided and cannot be rendered without one;
* ``dimension`` (its title), ``dimension_description``, ``labels`` (the allowed label values),
  ``label_descriptions`` (one line per label: value, display name, description);
* ``output_format`` (required): where Docket puts the answer format, which depends on the
  endpoint: a JSON object (``"json"``, with ``response_format``) or a last line
  ``Verdict: LABEL`` (``"verdict"``), each with a rationale first or not (the strategy's). For
  a ranking dimension the answer is the list of response numbers from best to worst, in a JSON
  object under the dimension's name or on the ``Verdict:`` line (``output/ranking_*.txt``).

Image fields (``kind = "image"`` or ``"images"``) are not text: the caller passes their bytes
as :class:`JudgeImage` values (one, or a list for ``images``) and the user message becomes a
list of parts (:class:`TextPart`, :class:`ImagePart`; the OpenAI ``image_url`` form with a
``data:`` URI). Where the user text names an image field (``{image}``) the text is split there
and the field's images are put in that place, in list order; image fields the text does not
name are put after the text, in schema order. The images of a ranked list (a ranking's
``over`` field of kind ``images``) are each preceded by the text ``Response k:``, numbered
from 1 in list order. An image field the item does not have reads ``(not given)`` where it is
named and adds nothing otherwise. Image fields may be named in the user message only (system
messages carry no images). An item without images gets a plain string content, as before.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from core.schema import Dimension, TaskSchema, dimension_values_text

PROMPT_DIR = Path(__file__).with_name("prompts")

OutputMode = Literal["json", "verdict"]
OUTPUT_MODES: tuple[str, ...] = ("json", "verdict")

# Fields every template may use besides the schema's item fields (see the module docstring).
PROMPT_FIELDS: tuple[str, ...] = (
    "reference", "dimension", "dimension_description", "labels", "label_descriptions",
    "output_format",
)
NOT_GIVEN = "(not given)"
EMPTY = "(empty)"
RESPONSE_HEADING = "Response {number}:"  # before each entry of a ranked list, text or image

# "{{" and "}}" are literal braces; "{name}" a field; any other brace is an error.
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}\n]*)\}|[{}]")
_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


class PromptError(ValueError):
    """A template is invalid or cannot be rendered for an item; the message says where and why."""


@dataclass(frozen=True)
class JudgeImage:
    """An image of an item's image field as a judge is sent it: its bytes and MIME type, named
    by the SHA-256 of the bytes. Shown (repr, previews) by that hash, never by its bytes."""

    sha256: str
    mime: str
    data: bytes = field(repr=False, compare=False)

    @cached_property
    def data_uri(self) -> str:
        """The ``data:<mime>;base64,...`` URI sent to the endpoint (encoded once per image)."""
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"

    def describe(self) -> str:
        """``image/png, 12,345 bytes, sha256 3f2a...``: the image as previews show it."""
        return f"{self.mime}, {len(self.data):,} bytes, sha256 {self.sha256}"


@dataclass(frozen=True)
class TextPart:
    """A run of text in a message with images."""

    text: str

    def as_dict(self) -> dict[str, Any]:
        """The OpenAI wire form ``{"type": "text", "text": ...}``."""
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class ImagePart:
    """One image of the item field ``field`` in a message."""

    field: str
    image: JudgeImage

    def as_dict(self) -> dict[str, Any]:
        """The OpenAI wire form ``{"type": "image_url", "image_url": {"url": "data:..."}}``."""
        return {"type": "image_url", "image_url": {"url": self.image.data_uri}}


ContentPart = TextPart | ImagePart


@dataclass(frozen=True)
class Message:
    """One chat message sent to a judge: a plain text, or (a user message of an item with
    images) a tuple of text and image parts in the order they are sent."""

    role: Literal["system", "user", "assistant"]
    content: str | tuple[ContentPart, ...]

    @property
    def parts(self) -> tuple[ContentPart, ...]:
        """The content as parts (a plain text is one text part)."""
        return (TextPart(self.content),) if isinstance(self.content, str) else self.content

    @property
    def images(self) -> tuple[ImagePart, ...]:
        """The image parts, in order (none for a plain text)."""
        return tuple(part for part in self.parts if isinstance(part, ImagePart))

    @property
    def text(self) -> str:
        """The text parts joined, images left out (the whole content for a plain text)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content if isinstance(part, TextPart))

    def describe(self) -> str:
        """The content as text with each image written ``[image FIELD: mime, size, sha256]``
        where it is sent (what the prompt lab previews; never the image's bytes)."""
        return "".join(part.text if isinstance(part, TextPart)
                       else f"[image {part.field}: {part.image.describe()}]"
                       for part in self.parts)

    def with_text(self, extra: str) -> Message:
        """This message with ``extra`` added at its end, after a blank line."""
        if isinstance(self.content, str):
            return Message(self.role, f"{self.content}\n\n{extra}")
        *before, last = self.content
        if isinstance(last, TextPart):
            return Message(self.role, (*before, TextPart(f"{last.text}\n\n{extra}")))
        return Message(self.role, (*self.content, TextPart(f"\n\n{extra}")))

    def as_dict(self) -> dict[str, Any]:
        """Return the OpenAI wire form ``{"role": ..., "content": ...}``: the content a string,
        or a list of ``text`` and ``image_url`` parts (images as ``data:`` URIs)."""
        if isinstance(self.content, str):
            return {"role": self.role, "content": self.content}
        return {"role": self.role, "content": [part.as_dict() for part in self.content]}


@dataclass(frozen=True)
class Strategy:
    """A shipped way of asking for a verdict."""

    name: str
    title: str
    description: str
    # Whether the judge writes a rationale before its label (answer format and JSON schema).
    rationale: bool


STRATEGIES: dict[str, Strategy] = {
    "direct": Strategy("direct", "Direct verdict",
                       "The item, the criterion and the allowed labels; the label only.", False),
    "rationale": Strategy("rationale", "Rationale then verdict",
                          "The judge explains its reasoning first, then gives the label.", True),
    "rubric": Strategy("rubric", "Rubric-guided",
                       "Each label's description is a criterion the judge checks the item "
                       "against; reasoning, then the label.", True),
}


@dataclass(frozen=True)
class PromptTemplate:
    """A judge prompt: system and user texts with named fields, and the strategy it follows."""

    system: str
    user: str
    strategy: str

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise PromptError(f"strategy: unknown strategy {self.strategy!r} "
                              f"(strategies: {', '.join(STRATEGIES)})")


def _read(relative: str) -> str:
    return (PROMPT_DIR / relative).read_text(encoding="utf-8").strip()


def builtin_prompt(schema: TaskSchema, strategy: str, *, reference: bool = False) -> PromptTemplate:
    """Return the shipped template for ``schema`` and ``strategy``.

    ``reference=True`` adds the reference-answer block (the template becomes reference-guided).
    Built-in task templates have their own texts in ``prompts/<template>/``; any other schema
    gets a generic item block listing its fields by title. A schema whose dimensions are all
    rankings gets the strategy's ranking text (``prompts/strategies/ranking/``: order the
    responses instead of choosing a label). Raises :class:`PromptError` for an unknown strategy.
    """
    if strategy not in STRATEGIES:
        raise PromptError(f"strategy: unknown strategy {strategy!r} (strategies: {', '.join(STRATEGIES)})")
    folder = PROMPT_DIR / schema.name
    if (folder / "item.txt").is_file():
        system = _read(f"{schema.name}/system.txt")
        blocks = [_read(f"{schema.name}/item.txt")]
        reference_block = f"{schema.name}/reference.txt"
    else:
        system = "You are an expert evaluator. You judge the item below on one criterion."
        blocks = ["\n\n".join(f"{spec.title}:\n{{{spec.name}}}" for spec in schema.fields
                              if spec.name != "reference")]
        reference_block = "correctness/reference.txt"
    if reference:
        blocks.append(_read(reference_block))
    ranking = bool(schema.dimensions) and all(d.is_ranking for d in schema.dimensions)
    blocks.append(_read(f"strategies/{'ranking/' if ranking else ''}{strategy}.txt"))
    return PromptTemplate(system=system, user="\n\n".join(blocks), strategy=strategy)


@dataclass(frozen=True)
class _Part:
    literal: str
    field: str | None


def _parse(text: str, allowed: frozenset[str], where: str) -> tuple[_Part, ...]:
    """Split ``text`` into literal runs and field names; raises PromptError at the first bad brace."""
    parts: list[_Part] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        literal.append(text[position:match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        line = text.count("\n", 0, match.start()) + 1
        name = match.group(1)
        if name is None:
            raise PromptError(f"{where}, line {line}: single {token!r}; write {token * 2!r} "
                              "for a literal brace")
        if not _FIELD_NAME.match(name) or name not in allowed:
            shown = "{" + name + "}"
            raise PromptError(f"{where}, line {line}: unknown field {shown} (allowed: "
                              f"{', '.join(sorted(allowed))}; write {{{{ and }}}} for literal braces)")
        parts.append(_Part("".join(literal), name))
        literal = []
    literal.append(text[position:])
    parts.append(_Part("".join(literal), None))
    return tuple(parts)


def _fill(parts: tuple[_Part, ...], values: Mapping[str, str]) -> str:
    out: list[str] = []
    for part in parts:
        out.append(part.literal)
        if part.field is not None:
            out.append(values[part.field])
    return "".join(out)


def _fields(parts: tuple[_Part, ...]) -> set[str]:
    return {part.field for part in parts if part.field is not None}


# Fields of the ranking answer formats: the JSON key (the dimension's name) and which numbers.
_RANKING_OUTPUT_FIELDS = frozenset({"answer_key", "response_numbers"})


@lru_cache(maxsize=1)
def _output_formats() -> dict[tuple[str, bool, bool], tuple[_Part, ...]]:
    """(answer format, with rationale, ranking) -> the parsed shipped text
    ``output/[ranking_]<mode>[_rationale].txt``."""
    formats = {}
    for mode in OUTPUT_MODES:
        for rationale in (False, True):
            for ranking in (False, True):
                name = (f"output/{'ranking_' if ranking else ''}{mode}"
                        f"{'_rationale' if rationale else ''}.txt")
                allowed = _RANKING_OUTPUT_FIELDS if ranking else frozenset({"labels"})
                formats[(mode, rationale, ranking)] = _parse(_read(name), allowed, name)
    return formats


def labels_text(dimension: Dimension) -> str:
    """The allowed label values as the ``{labels}`` field shows them (``"correct, incorrect"``)."""
    return dimension_values_text(dimension)


def label_descriptions_text(dimension: Dimension) -> str:
    """One line per label, as the ``{label_descriptions}`` field shows them:
    ``- value (display): description`` (display and description left out when they add nothing)."""
    if dimension.scale in ("interval", "ranking"):
        return f"- {dimension_values_text(dimension)}"
    lines = []
    for label in dimension.labels:
        line = f"- {label.value}"
        if label.display and label.display != label.value:
            line += f" ({label.display})"
        if label.description:
            line += f": {label.description}"
        lines.append(line)
    return "\n".join(lines)


def _item_text(value: object) -> str:
    if value is None:
        return NOT_GIVEN
    if isinstance(value, str):
        return value if value.strip() else EMPTY
    if isinstance(value, Sequence):
        texts = [str(text) for text in value]
        return "\n".join(f"{number}. {text}" for number, text in enumerate(texts, 1)) or EMPTY
    return str(value)


def _ranked_text(value: object) -> str:
    """A ranked list as numbered blocks (``Response 1:``, the text, a blank line, ...)."""
    if value is None:
        return NOT_GIVEN
    if isinstance(value, str) or not isinstance(value, Sequence):
        return _item_text(value)
    blocks = [f"{RESPONSE_HEADING.format(number=number)}\n{_item_text(text)}"
              for number, text in enumerate(value, 1)]
    return "\n\n".join(blocks) or EMPTY


def _numbers_text(n_responses: int | None) -> str:
    """The response numbers a ranking answer lists: ``"1 to 4"``."""
    return "of all the responses" if n_responses is None else f"1 to {n_responses}"


def _item_images(name: str, value: object) -> tuple[JudgeImage, ...] | None:
    """The images of image field ``name`` (None when the item does not have it); raises
    PromptError for a value that is not image data (e.g. a hash whose image was not loaded)."""
    if value is None:
        return None
    if isinstance(value, JudgeImage):
        return (value,)
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        bad = next((image for image in value if not isinstance(image, JudgeImage)), None)
        if bad is None:
            return tuple(value)
        value = bad
    shown = value if isinstance(value, str) else type(value).__name__
    raise PromptError(f"image field {name!r}: {shown!r} is not image data (the image could not "
                      "be loaded)")


@dataclass(frozen=True)
class CompiledPrompt:
    """A template validated against a schema, ready to render many items quickly."""

    template: PromptTemplate
    field_names: tuple[str, ...]
    _system: tuple[_Part, ...] = field(repr=False)
    _user: tuple[_Part, ...] = field(repr=False)
    _used: frozenset[str] = field(repr=False)
    # The schema's image fields (kind image/images), in schema order.
    image_fields: tuple[str, ...] = ()
    # The list fields a ranking dimension orders: written as numbered "Response k:" blocks.
    ranked_fields: tuple[str, ...] = ()

    @property
    def reference_guided(self) -> bool:
        """True when the template shows a reference answer (uses ``{reference}``)."""
        return "reference" in self._used

    @property
    def rationale(self) -> bool:
        """True when the judge is asked for a rationale before its label."""
        return STRATEGIES[self.template.strategy].rationale

    def render(self, item: Mapping[str, object], dimension: Dimension, *,
               reference: str | Sequence[str] | None = None, output: OutputMode = "json"
               ) -> list[Message]:
        """Return the chat messages for ``item`` judged on ``dimension``.

        ``item`` maps field names to text (or a list of texts), and image fields to a
        :class:`JudgeImage` (or a list of them); ``reference`` is the reference answer for a
        reference-guided template. Images go into the user message as the module docstring
        says. For a ranking ``dimension`` the answer format asks for the numbers of the
        item's responses (as many as its ranked list holds). Raises :class:`PromptError` when
        the template needs a reference and none (or a blank one) is given, for an image field
        whose value is not image data, or for an unknown ``output``.
        """
        if output not in OUTPUT_MODES:
            raise PromptError(f"output: unknown answer format {output!r} (formats: "
                              f"{', '.join(OUTPUT_MODES)})")
        images = {name: _item_images(name, item.get(name)) for name in self.image_fields}
        values = {name: (_ranked_text if name in self.ranked_fields else _item_text)(item.get(name))
                  for name in self.field_names if name in self._used and name not in images}
        if self.reference_guided:
            text = None if reference is None else _item_text(reference)
            if text is None or text == EMPTY:
                raise PromptError("the template is reference-guided (uses {reference}) but no "
                                  "reference answer was given for this item")
            values["reference"] = text
        for name, found in images.items():
            # Shown only where the field is named and has no image to put there.
            values[name] = NOT_GIVEN if found is None else EMPTY
        values["dimension"] = dimension.title
        values["dimension_description"] = dimension.description
        values["labels"] = labels_text(dimension)
        values["label_descriptions"] = label_descriptions_text(dimension)
        if dimension.is_ranking:
            values["answer_key"] = dimension.name
            values["response_numbers"] = _numbers_text(dimension.responses_in(item))
        values["output_format"] = _fill(
            _output_formats()[(output, self.rationale, dimension.is_ranking)], values)
        messages = []
        system = _fill(self._system, values).strip()
        if system:
            messages.append(Message("system", system))
        messages.append(Message("user", self._user_content(values, images)))
        return messages

    def _user_content(self, values: Mapping[str, str],
                      images: Mapping[str, tuple[JudgeImage, ...] | None]
                      ) -> str | tuple[ContentPart, ...]:
        """The user message's content: a plain string without images, else its parts."""
        if not any(images.values()):
            return _fill(self._user, values).strip()
        parts: list[ContentPart] = []
        text: list[str] = []
        for part in self._user:
            text.append(part.literal)
            if part.field is None:
                continue
            if images.get(part.field):
                text = self._put_images(parts, text, part.field, images[part.field] or ())
            else:
                text.append(values[part.field])
        parts.append(TextPart("".join(text)))
        if isinstance(parts[0], TextPart):
            parts[0] = TextPart(parts[0].text.lstrip())
        if isinstance(parts[-1], TextPart):
            parts[-1] = TextPart(parts[-1].text.rstrip())
        named = _fields(self._user)
        for name in self.image_fields:
            if name not in named and images[name]:
                rest = self._put_images(parts, ["\n\n"] if name in self.ranked_fields else [],
                                        name, images[name] or ())
                parts.append(TextPart("".join(rest)))
        merged: list[ContentPart] = []
        for part in parts:  # adjacent texts as one part
            if isinstance(part, TextPart) and merged and isinstance(merged[-1], TextPart):
                merged[-1] = TextPart(merged[-1].text + part.text)
            else:
                merged.append(part)
        return tuple(part for part in merged if not isinstance(part, TextPart) or part.text)

    def _put_images(self, parts: list[ContentPart], text: list[str], name: str,
                    images: Sequence[JudgeImage]) -> list[str]:
        """Append the text so far and then field ``name``'s images to ``parts`` (each image of
        a ranked list after its ``Response k:`` heading); return the text to go on with."""
        for number, image in enumerate(images, 1):
            if name in self.ranked_fields:
                text.append(("\n\n" if number > 1 else "")
                            + RESPONSE_HEADING.format(number=number) + "\n")
            parts.append(TextPart("".join(text)))
            text = []
            parts.append(ImagePart(name, image))
        return text


def allowed_fields(schema: TaskSchema) -> frozenset[str]:
    """Every field name a template for ``schema`` may use."""
    return frozenset(schema.field_names) | frozenset(PROMPT_FIELDS)


def compile_prompt(template: PromptTemplate, schema: TaskSchema) -> CompiledPrompt:
    """Validate ``template`` against ``schema`` and return it ready to render.

    Raises :class:`PromptError` naming the message (system/user), the line and the field for an
    unknown field, a stray brace, a template without ``{output_format}``, or an image field
    named in the system message.
    """
    ranked = tuple(dict.fromkeys(d.over for d in schema.dimensions if d.is_ranking and d.over))
    return _compile(template, schema.field_names, tuple(f.name for f in schema.image_fields),
                    ranked)


@lru_cache(maxsize=256)
def _compile(template: PromptTemplate, field_names: tuple[str, ...],
             image_fields: tuple[str, ...] = (), ranked_fields: tuple[str, ...] = ()
             ) -> CompiledPrompt:
    allowed = frozenset(field_names) | frozenset(PROMPT_FIELDS)
    system = _parse(template.system, allowed, "system message")
    user = _parse(template.user, allowed, "user message")
    used = _fields(system) | _fields(user)
    if "output_format" not in used:
        raise PromptError("user message: the template must contain {output_format}, where Docket "
                          "puts the answer format (a JSON object or a last 'Verdict: LABEL' line)")
    in_system = [name for name in image_fields if name in _fields(system)]
    if in_system:
        shown = ", ".join("{" + name + "}" for name in in_system)
        raise PromptError(f"system message: image field {shown} can only be placed in the user "
                          "message (images are sent as parts of the user message)")
    return CompiledPrompt(template, field_names, system, user, frozenset(used), image_fields,
                          ranked_fields)


def render_messages(template: PromptTemplate, schema: TaskSchema, item: Mapping[str, object],
                    dimension: Dimension, *, reference: str | Sequence[str] | None = None,
                    output: OutputMode = "json") -> list[Message]:
    """Return the chat messages of ``template`` for one item and dimension (the live preview).

    Same as ``compile_prompt(template, schema).render(...)``; raises :class:`PromptError` as
    those do.
    """
    return compile_prompt(template, schema).render(item, dimension, reference=reference, output=output)


def fill_text(text: str, values: Mapping[str, str], *, where: str) -> str:
    """Return ``text`` with its ``{name}`` fields replaced by ``values`` (no other names allowed).

    Used for the shipped auxiliary texts (debate turns). Raises :class:`PromptError` for an
    unknown field or a stray brace.
    """
    return _fill(_parse(text, frozenset(values), where), values)


def read_prompt_text(relative: str) -> str:
    """Return the shipped text file ``prompts/<relative>``, stripped."""
    return _read(relative)
