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

A **ranking** dimension (``scale = "ranking"``) is answered with the response numbers from best
to worst: a JSON list ``[2, 1, 4, 3]`` (the whole output), a JSON object holding that list under
the dimension's name (``{"rationale": "...", "ranking": [2, 1, 4, 3]}``), or a last line
``Verdict: [2, 1, 4, 3]`` (``Verdict: 2,1,4,3`` too). The order is accepted only when
:func:`core.rank_order.parse_ranking` finds it a permutation of the item's responses 1..n (the
caller passes n, the length of the item's ranked list); its label is the canonical text
``"2,1,4,3"``. A repeated or missing number, a list of the wrong length, the order as one text
inside the JSON, or prose is unparseable, as above.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from core.rank_order import MAX_RESPONSES, MIN_RESPONSES, RankingError, format_order, parse_ranking
from core.schema import Dimension, LabelError

_VERDICT_LINE = re.compile(r"^\s*verdict\s*:(.*)$", re.IGNORECASE)
_FENCE = re.compile(r"^```[A-Za-z]*[ \t]*\n(.*)\n```$", re.DOTALL)
_SHOWN = 80  # characters of a stated label quoted in a problem
_PROBLEM = 300  # characters of a problem at most (a ranking's error quotes what was stated)


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


def _json_value(text: str, *, lists: bool = False) -> dict[str, Any] | list[Any] | str:
    """The JSON object (or, with ``lists``, list) ``text`` holds, or why it is not one."""
    fenced = _FENCE.match(text)
    body = fenced.group(1).strip() if fenced else text
    wanted = "a JSON object or list" if lists else "a JSON object"
    if not body.startswith(("{", "[") if lists else "{"):
        return f"not {wanted}"
    try:
        data = json.loads(body)
    except ValueError as error:
        return f"invalid JSON ({error})"
    return data if isinstance(data, dict) or (lists and isinstance(data, list)) else f"not {wanted}"


def parse_verdict(text: str | None, dimension: Dimension, *, n_responses: int | None = None
                  ) -> ParsedVerdict:
    """Read a judge's raw output strictly (see the module docstring).

    ``n_responses`` is, for a ranking dimension, the number of responses the item has (the
    length of its ranked list, :meth:`~core.schema.Dimension.responses_in`); None accepts an
    order of any length from 2 to 9. Returns a :class:`ParsedVerdict` with the canonical label
    and the rationale, or with no label and the problem (empty output, no JSON object and no
    last ``Verdict:`` line, a stated label that is not one of the dimension's, an order that is
    not a permutation of the responses). Never raises on any text.
    """
    if text is None or not text.strip():
        return _unparseable("the output is empty")
    stripped = text.strip()
    if dimension.is_ranking:
        return _parse_order(stripped, dimension, n_responses)
    data = _json_value(stripped)
    if isinstance(data, dict):
        return _from_json(data, dimension)
    lines = stripped.splitlines()
    match = _VERDICT_LINE.match(lines[-1])
    if match is None:
        return _unparseable(f"the output is not a JSON verdict ({data}) and its last line is not "
                            "'Verdict: LABEL'")
    rationale = "\n".join(lines[:-1]).strip() or None
    return _accept(match.group(1).strip(), dimension, rationale, "the verdict line's label")


def _json_rationale(data: dict[str, Any]) -> str | ParsedVerdict | None:
    """The stripped ``rationale`` of a JSON answer (None if absent or blank), or the
    unparseable verdict when it is not text."""
    rationale = data.get("rationale")
    if rationale is not None and not isinstance(rationale, str):
        return _unparseable(f"the JSON 'rationale' is not text but {_shown(rationale)}")
    if rationale is None:
        return None
    return rationale.strip() or None


def _from_json(data: dict[str, Any], dimension: Dimension) -> ParsedVerdict:
    rationale = _json_rationale(data)
    if isinstance(rationale, ParsedVerdict):
        return rationale
    if "label" not in data:
        return _unparseable("the JSON object has no 'label'", rationale)
    stated = data["label"]
    if not isinstance(stated, str | int | float | bool):
        return _unparseable(f"the JSON 'label' is {_shown(stated)}, not a single value", rationale)
    return _accept(stated, dimension, rationale, "the JSON label")


def _parse_order(text: str, dimension: Dimension, n_responses: int | None) -> ParsedVerdict:
    """A ranking answer (see the module docstring): a JSON list, a JSON object with the list
    under the dimension's name, or a last ``Verdict:`` line."""
    data = _json_value(text, lists=True)
    if isinstance(data, list):
        return _accept_order(data, n_responses, None, "the JSON list")
    if isinstance(data, dict):
        rationale = _json_rationale(data)
        if isinstance(rationale, ParsedVerdict):
            return rationale
        key = dimension.name
        if key not in data:
            return _unparseable(f"the JSON object has no {key!r} (the list of response numbers "
                                "from best to worst)", rationale)
        if not isinstance(data[key], list):
            return _unparseable(f"the JSON {key!r} is {_shown(data[key])}, not a list of "
                                "response numbers", rationale)
        return _accept_order(data[key], n_responses, rationale, f"the JSON {key!r}")
    lines = text.splitlines()
    match = _VERDICT_LINE.match(lines[-1])
    if match is None:
        return _unparseable(f"the output is not a JSON ranking ({data}) and its last line is not "
                            "'Verdict: [...]' (the response numbers from best to worst)")
    rationale = "\n".join(lines[:-1]).strip() or None
    return _accept_order(match.group(1).strip(), n_responses, rationale, "the verdict line")


def _accept_order(stated: Any, n_responses: int | None, rationale: str | None,
                  where: str) -> ParsedVerdict:
    try:
        order = parse_ranking(stated, n_responses)
    except RankingError as error:
        problem = f"{where} is not an order of the responses: {error}"
        if len(problem) > _PROBLEM:
            problem = problem[:_PROBLEM] + "…"
        return _unparseable(problem, rationale)
    return ParsedVerdict(format_order(order), rationale, None)


def _order_schema(n_responses: int | None) -> dict[str, Any]:
    """An order as a JSON schema: exactly n response numbers, each one of 1..n (that each
    appears once cannot be said in the schema subset endpoints accept: the parser checks it)."""
    top = MAX_RESPONSES if n_responses is None else n_responses
    return {"type": "array", "items": {"type": "integer", "enum": list(range(1, top + 1))},
            "minItems": MIN_RESPONSES if n_responses is None else n_responses,
            "maxItems": top}


def verdict_json_schema(dimension: Dimension, *, rationale: bool,
                        n_responses: int | None = None) -> dict[str, Any]:
    """The JSON schema of a verdict: ``label`` an enum of the dimension's label values (a number
    within the bounds for an interval scale), preceded by a ``rationale`` string if asked for.

    For a ranking dimension the answer is named after the dimension instead of ``label``: an
    array of exactly ``n_responses`` response numbers 1..n (None: 2 to 9 numbers 1..9)."""
    if dimension.is_ranking:
        key, value = dimension.name, _order_schema(n_responses)
        properties = ({"rationale": {"type": "string"}, key: value} if rationale
                      else {key: value})
        return {"type": "object", "properties": properties, "required": list(properties),
                "additionalProperties": False}
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


def verdict_response_format(dimension: Dimension, *, rationale: bool,
                            n_responses: int | None = None) -> dict[str, Any]:
    """The ``response_format`` request parameter (OpenAI structured outputs) for a verdict on
    ``dimension``: ``{"type": "json_schema", "json_schema": {...}}`` wrapping
    :func:`verdict_json_schema` (``n_responses``: the item's number of responses, rankings)."""
    schema = verdict_json_schema(dimension, rationale=rationale, n_responses=n_responses)
    return {"type": "json_schema",
            "json_schema": {"name": "verdict", "strict": True, "schema": schema}}
