"""Strict parsing of a judge's raw output into a label: never a guess.

Two answer forms are accepted, both documented in the prompt's ``{output_format}``:

1. **JSON**: the whole output is one JSON object ``{"rationale": "...", "label": "..."}``
   (``rationale`` optional; other keys ignored), optionally wrapped in one Markdown code fence
   (```` ```json ... ``` ````). Endpoints that support it are held to this form by
   :func:`verdict_response_format` (a JSON schema whose ``label`` is an enum of the labels).
2. **Verdict line**: the last non-blank line is ``Verdict: LABEL`` (``verdict`` in any case);
   the text above it is the rationale.

The stated label is accepted only through :meth:`core.schema.Dimension.normalize` (label value,
display name or alias, ignoring case and surrounding spaces; for ordinal scales also ``3.0`` for
``3``). Anything else - a label that is not one of those spellings, a label word somewhere in
the text, trailing punctuation or emphasis (``**correct**``, ``correct.``) - is unparseable:
the verdict has no label and a problem saying why, and the raw text is kept by the caller.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.schema import Dimension, LabelError

_VERDICT_LINE = re.compile(r"^\s*verdict\s*:(.*)$", re.IGNORECASE)
_FENCE = re.compile(r"^```[A-Za-z]*[ \t]*\n(.*)\n```$", re.DOTALL)
_SHOWN = 80  # characters of a stated label quoted in a problem


@dataclass(frozen=True)
class ParsedVerdict:
    """A judge's output read strictly: a label, or no label and the problem."""

    label: str | None
    rationale: str | None
    problem: str | None

    @property
    def parsed(self) -> bool:
        """True when the output stated a valid label."""
        return self.label is not None


def _unparseable(problem: str, rationale: str | None = None) -> ParsedVerdict:
    return ParsedVerdict(None, rationale, problem)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _accept(stated: Any, dimension: Dimension, rationale: str | None, where: str) -> ParsedVerdict:
    try:
        label = dimension.normalize(stated)
    except LabelError as error:
        return _unparseable(f"{where} {_shown(stated)} is not a label of {dimension.name!r}: {error}",
                            rationale)
    return ParsedVerdict(label, rationale, None)


def _json_object(text: str) -> dict[str, Any] | str:
    """The JSON object ``text`` holds, or why it is not one."""
    fenced = _FENCE.match(text)
    body = fenced.group(1).strip() if fenced else text
    if not body.startswith("{"):
        return "not a JSON object"
    try:
        data = json.loads(body)
    except ValueError as error:
        return f"invalid JSON ({error})"
    return data if isinstance(data, dict) else "not a JSON object"


def parse_verdict(text: str | None, dimension: Dimension) -> ParsedVerdict:
    """Read a judge's raw output strictly (see the module docstring).

    Returns a :class:`ParsedVerdict` with the canonical label and the rationale, or with no
    label and the problem (empty output, no JSON object and no last ``Verdict:`` line, a stated
    label that is not one of the dimension's). Never raises on any text.
    """
    if text is None or not text.strip():
        return _unparseable("the output is empty")
    stripped = text.strip()
    data = _json_object(stripped)
    if isinstance(data, dict):
        return _from_json(data, dimension)
    lines = stripped.splitlines()
    match = _VERDICT_LINE.match(lines[-1])
    if match is None:
        return _unparseable(f"the output is not a JSON verdict ({data}) and its last line is not "
                            "'Verdict: LABEL'")
    rationale = "\n".join(lines[:-1]).strip() or None
    return _accept(match.group(1).strip(), dimension, rationale, "the verdict line's label")


def _from_json(data: dict[str, Any], dimension: Dimension) -> ParsedVerdict:
    rationale = data.get("rationale")
    if rationale is not None and not isinstance(rationale, str):
        return _unparseable(f"the JSON 'rationale' is not text but {_shown(rationale)}")
    if rationale is not None:
        rationale = rationale.strip() or None
    if "label" not in data:
        return _unparseable("the JSON object has no 'label'", rationale)
    stated = data["label"]
    if not isinstance(stated, str | int | float | bool):
        return _unparseable(f"the JSON 'label' is {_shown(stated)}, not a single value", rationale)
    return _accept(stated, dimension, rationale, "the JSON label")


def verdict_json_schema(dimension: Dimension, *, rationale: bool) -> dict[str, Any]:
    """The JSON schema of a verdict: ``label`` an enum of the dimension's label values (a number
    within the bounds for an interval scale), preceded by a ``rationale`` string if asked for."""
    if dimension.scale == "interval":
        label: dict[str, Any] = {"type": "number"}
        if dimension.minimum is not None:
            label["minimum"] = dimension.minimum
        if dimension.maximum is not None:
            label["maximum"] = dimension.maximum
    else:
        label = {"type": "string", "enum": list(dimension.label_values)}
    # The rationale comes first so that a model writing the object reasons before it commits.
    properties = {"rationale": {"type": "string"}, "label": label} if rationale else {"label": label}
    return {"type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


def verdict_response_format(dimension: Dimension, *, rationale: bool) -> dict[str, Any]:
    """The ``response_format`` request parameter (OpenAI structured outputs) for a verdict on
    ``dimension``: ``{"type": "json_schema", "json_schema": {...}}`` wrapping
    :func:`verdict_json_schema`."""
    return {"type": "json_schema",
            "json_schema": {"name": "verdict", "strict": True,
                            "schema": verdict_json_schema(dimension, rationale=rationale)}}
