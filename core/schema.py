"""Task schemas: the fields an annotator sees and the dimensions they label.

A project has exactly one :class:`TaskSchema`. Built-in schemas live in
:mod:`core.templates`; users can write their own in TOML (:mod:`core.schema_toml`).
Both go through :func:`schema_from_dict`, so every schema obeys the same rules and every
error names the key that is wrong.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from core.rank_order import RankingError, format_order, parse_ranking

Scale = Literal["nominal", "ordinal", "interval", "ranking"]
SCALES: tuple[str, ...] = ("nominal", "ordinal", "interval", "ranking")
# A ranking orders the entries of one list field (texts or images), ``responses`` by default.
RANKED_KINDS: frozenset[str] = frozenset({"texts", "images"})
DEFAULT_RANKED_FIELD = "responses"
FieldKind = Literal["text", "texts", "image", "images"]
FIELD_KINDS: tuple[str, ...] = ("text", "texts", "image", "images")
# Kinds whose values are images (stored by SHA-256, see core.importing.images): "image" holds
# one, "images" a list.
IMAGE_KINDS: frozenset[str] = frozenset({"image", "images"})

# Streamlit reserves C and R; the annotation page binds N, B, S and V to navigation.
RESERVED_KEYS = frozenset("crnbsv")
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# Column names of the import contract that a dimension or field may not shadow.
RESERVED_NAMES = frozenset(
    {"id", "model", "group", "judges", "humans", "judge", "human", "rationale", "raw", "comment"}
)


class SchemaError(ValueError):
    """A schema definition is invalid; the message names the source, the key and the problem.

    A schema reports all its problems at once: ``problems`` holds every ``(key, problem)``
    and the message has one ``<source>: <key>: <problem>`` line each; ``key`` and ``problem``
    are the first.
    """

    def __init__(self, source: str, key: str, problem: str, *,
                 more: Sequence[tuple[str, str]] = ()) -> None:
        self.source = source
        self.key = key
        self.problem = problem
        self.problems: tuple[tuple[str, str], ...] = ((key, problem), *more)
        super().__init__("\n".join(f"{source}: {k}: {p}" for k, p in self.problems))


class LabelError(ValueError):
    """A value is not a valid label for a dimension; the message lists what is allowed."""


@dataclass(frozen=True)
class Label:
    """One choice of a nominal or ordinal dimension."""

    value: str
    display: str
    description: str = ""
    key: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dimension:
    """One thing the annotator judges about an item, on a given scale."""

    name: str
    scale: Scale
    title: str
    description: str = ""
    labels: tuple[Label, ...] = ()
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    # A ranking dimension's list field, whose entries the label orders from best to worst.
    over: str | None = None
    _lookup: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup: dict[str, str] = {}
        for label in self.labels:
            lookup[label.value] = label.value
            for alias in (label.display, *label.aliases):
                lookup.setdefault(alias.casefold(), label.value)
            lookup.setdefault(label.value.casefold(), label.value)
        self._lookup.update(lookup)

    @property
    def label_values(self) -> tuple[str, ...]:
        """The canonical label values, in scale order."""
        return tuple(label.value for label in self.labels)

    def rank(self, value: str) -> int:
        """Return the 0-based position of ``value`` on the scale; raises KeyError if unknown."""
        return self.label_values.index(value)

    def normalize(self, raw: Any) -> str:
        """Return the canonical label for ``raw``.

        Accepts the label value, its display name or an alias (case-insensitive), and for
        ordinal scales the number itself (``3`` or ``3.0`` for ``"3"``). Interval scales take
        any finite number within the bounds and return it as a canonical decimal string.
        A ranking takes an order of the responses (:mod:`core.rank_order`) and returns its
        canonical text ``"2,1,4,3"``; whether it orders all of an item's responses is checked
        with the item (:meth:`check_order_length`). Raises :class:`LabelError` naming the
        allowed values.
        """
        if self.scale == "interval":
            return self._normalize_interval(raw)
        if self.scale == "ranking":
            try:
                return format_order(parse_ranking(raw))
            except RankingError as exc:
                raise LabelError(str(exc)) from None
        if isinstance(raw, bool):
            raw = "true" if raw else "false"
        elif isinstance(raw, float) and raw.is_integer():
            raw = str(int(raw))
        elif isinstance(raw, int):
            raw = str(raw)
        if isinstance(raw, str):
            found = self._lookup.get(raw) or self._lookup.get(raw.strip().casefold())
            if found is None and self.scale == "ordinal":
                found = self._lookup.get(_integer_text(raw))
            if found is not None:
                return found
        allowed = ", ".join(self.label_values)
        raise LabelError(f"unknown label {raw!r} (allowed: {allowed})")

    def _normalize_interval(self, raw: Any) -> str:
        if isinstance(raw, bool):
            raise LabelError(f"expected a number, got {raw!r}")
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise LabelError(f"expected a number, got {raw!r}") from None
        if not math.isfinite(number):
            raise LabelError(f"expected a finite number, got {raw!r}")
        if self.minimum is not None and number < self.minimum:
            raise LabelError(f"{number:g} is below the minimum {self.minimum:g}")
        if self.maximum is not None and number > self.maximum:
            raise LabelError(f"{number:g} is above the maximum {self.maximum:g}")
        return format_number(number)


    def responses_in(self, fields: Mapping[str, Any]) -> int | None:
        """The number of entries a ranking orders in an item with ``fields``: the length of its
        :attr:`over` list (texts, image hashes or images); None for a dimension that is not a
        ranking or an item without that list."""
        if self.scale != "ranking" or self.over is None:
            return None
        entries = fields.get(self.over)
        return len(entries) if isinstance(entries, list | tuple) else None

    def check_order_length(self, label: str, fields: Mapping[str, Any]) -> None:
        """Raise :class:`LabelError` unless the ranking ``label`` orders exactly the entries of
        the item's :attr:`over` field in ``fields`` (a list); nothing to check otherwise."""
        entries = self.responses_in(fields)
        if entries is None:
            return
        ranked = label.count(",") + 1
        if ranked != entries:
            raise LabelError(f"the ranking {label!r} orders {ranked} responses, the item's "
                             f"{self.over!r} holds {entries}")

    @property
    def is_ranking(self) -> bool:
        """True for a ranking dimension (labels are orders of the :attr:`over` field)."""
        return self.scale == "ranking"


def _integer_text(raw: str) -> str:
    """Return ``"3"`` for ``"3.0"`` or ``" 3 "``; anything else unchanged."""
    try:
        number = float(raw)
    except ValueError:
        return raw
    return str(int(number)) if number.is_integer() else raw


def format_number(number: float) -> str:
    """Return the shortest exact decimal text of a number (``3.0`` -> ``"3"``)."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))


@dataclass(frozen=True)
class FieldSpec:
    """A field of an item shown to the annotator (``prompt``, ``response``, ...): a text, a
    list of texts, an image or a list of images (:data:`FIELD_KINDS`)."""

    name: str
    title: str
    required: bool = True
    kind: FieldKind = "text"
    description: str = ""
    # An empty string is a real value (a model that answered nothing), not a missing one.
    allow_empty: bool = False

    @property
    def is_image(self) -> bool:
        """True for an ``image`` or ``images`` field (its stored values are SHA-256 hashes)."""
        return self.kind in IMAGE_KINDS


@dataclass(frozen=True)
class TaskSchema:
    """What an item looks like and which dimensions are labelled."""

    name: str
    title: str
    description: str
    fields: tuple[FieldSpec, ...]
    dimensions: tuple[Dimension, ...]
    gold_reference: bool = False
    # The field whose text the gold reference box starts from (the item's own reference).
    gold_reference_field: str | None = None

    def dimension(self, name: str) -> Dimension:
        """Return the dimension called ``name``; raises KeyError listing the known ones."""
        for dimension in self.dimensions:
            if dimension.name == name:
                return dimension
        known = ", ".join(d.name for d in self.dimensions)
        raise KeyError(f"unknown dimension {name!r} (dimensions: {known})")

    @property
    def dimension_names(self) -> tuple[str, ...]:
        """Names of the dimensions, in schema order."""
        return tuple(d.name for d in self.dimensions)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of the item text fields, in schema order."""
        return tuple(f.name for f in self.fields)

    @property
    def image_fields(self) -> tuple[FieldSpec, ...]:
        """The fields of kind ``image`` or ``images``, in schema order."""
        return tuple(f for f in self.fields if f.is_image)

    def given_reference(self, fields: Mapping[str, Any]) -> str | None:
        """The item's own reference answer: the text of :attr:`gold_reference_field` in the
        item's ``fields``, None when the schema names no such field or the item's is empty."""
        if not self.gold_reference or self.gold_reference_field is None:
            return None
        value = fields.get(self.gold_reference_field)
        return value if isinstance(value, str) and value.strip() else None


def dimension_values_text(dimension: Dimension) -> str:
    """The values a dimension takes, for people: its label values in scale order
    (``"correct, incorrect"``), or an interval's range (``"number 0…10"``, ``"any number"``)."""
    if dimension.scale == "ranking":
        return f"an order of the {dimension.over} from best to worst, e.g. [2, 1, 3]"
    if dimension.scale != "interval":
        return ", ".join(dimension.label_values)
    low = "" if dimension.minimum is None else f"{dimension.minimum:g}"
    high = "" if dimension.maximum is None else f"{dimension.maximum:g}"
    return f"number {low}…{high}" if low or high else "any number"


def schema_to_dict(schema: TaskSchema) -> dict[str, Any]:
    """Return a plain dict (JSON/TOML-ready) that :func:`schema_from_dict` reads back equal."""
    return {
        "name": schema.name,
        "title": schema.title,
        "description": schema.description,
        "gold_reference": schema.gold_reference,
        **({"gold_reference_field": schema.gold_reference_field}
           if schema.gold_reference_field is not None else {}),
        "fields": [
            {
                "name": f.name,
                "title": f.title,
                "required": f.required,
                "kind": f.kind,
                "description": f.description,
                "allow_empty": f.allow_empty,
            }
            for f in schema.fields
        ],
        "dimensions": [_dimension_to_dict(d) for d in schema.dimensions],
    }


def _dimension_to_dict(dimension: Dimension) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": dimension.name,
        "scale": dimension.scale,
        "title": dimension.title,
        "description": dimension.description,
        "required": dimension.required,
    }
    if dimension.scale == "ranking":
        data["over"] = dimension.over
    elif dimension.scale == "interval":
        if dimension.minimum is not None:
            data["min"] = dimension.minimum
        if dimension.maximum is not None:
            data["max"] = dimension.maximum
    else:
        data["labels"] = [
            {
                "value": label.value,
                "display": label.display,
                "description": label.description,
                "key": label.key,
                "aliases": list(label.aliases),
            }
            for label in dimension.labels
        ]
    return data


class _Reader:
    """Typed access to a nested dict that notes each problem with its dotted key path.

    A read that finds a problem notes it and returns None, so reading goes on and one
    :class:`SchemaError` lists every problem of the schema (:meth:`raise_problems`).
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[tuple[str, str]] = []

    def note(self, key: str, problem: str) -> None:
        """Note a problem at ``key``; returns None, which is what a read that found one returns."""
        self.problems.append((key, problem))

    def raise_problems(self) -> None:
        """Raise one :class:`SchemaError` listing every noted problem, if any."""
        if self.problems:
            (key, problem), *more = self.problems
            raise SchemaError(self.source, key, problem, more=more)

    def table(self, data: Any, key: str) -> dict[str, Any] | None:
        if not isinstance(data, dict):
            return self.note(key, f"expected a table, got {type(data).__name__}")
        return data

    def string(self, data: dict[str, Any], key: str, path: str, *, default: str | None = None
               ) -> str | None:
        value = data.get(key, default)
        if value is None:
            return self.note(f"{path}{key}", "is required")
        if not isinstance(value, str):
            return self.note(f"{path}{key}", f"expected a string, got {type(value).__name__}")
        return value

    def boolean(self, data: dict[str, Any], key: str, path: str, *, default: bool) -> bool | None:
        value = data.get(key, default)
        if not isinstance(value, bool):
            return self.note(f"{path}{key}", f"expected true or false, got {value!r}")
        return value

    def number(self, data: dict[str, Any], key: str, path: str) -> float | None:
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return self.note(f"{path}{key}", f"expected a number, got {value!r}")
        return float(value)

    def array(self, data: dict[str, Any], key: str, path: str) -> list[Any] | None:
        value = data.get(key)
        if value is None:
            return self.note(f"{path}{key}", "is required")
        if not isinstance(value, list):
            return self.note(f"{path}{key}", f"expected an array, got {type(value).__name__}")
        return value

    def name(self, data: dict[str, Any], key: str, path: str) -> str | None:
        value = self.string(data, key, path)
        if value is not None and not NAME_PATTERN.match(value):
            return self.note(
                f"{path}{key}",
                f"{value!r} is not a valid name (lowercase letter first, then a-z, 0-9 or _,"
                " at most 64 characters)",
            )
        return value

    def entry_name(self, data: dict[str, Any], path: str) -> str | None:
        """The ``name`` of a field or dimension: a valid name the import format does not use."""
        name = self.name(data, "name", path)
        if name in RESERVED_NAMES:
            return self.note(f"{path}name", f"{name!r} is reserved by the import format")
        return name

    def unknown_keys(self, data: dict[str, Any], allowed: set[str], path: str) -> None:
        for key in data:
            if key not in allowed:
                self.note(f"{path}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


_SCHEMA_KEYS = {"name", "title", "description", "gold_reference", "gold_reference_field", "fields",
                "dimensions"}
# Schemas stored before ``gold_reference_field`` existed started the box from this field.
DEFAULT_REFERENCE_FIELD = "reference"
_FIELD_KEYS = {"name", "title", "required", "kind", "description", "allow_empty"}
_DIMENSION_KEYS = {"name", "scale", "title", "description", "required", "labels", "min", "max",
                   "over"}
_LABEL_KEYS = {"value", "display", "description", "key", "aliases"}


def schema_from_dict(data: Any, *, source: str = "<schema>") -> TaskSchema:
    """Build and validate a :class:`TaskSchema` from plain data (parsed TOML or JSON).

    Raises :class:`SchemaError` listing every problem, each as ``<source>: <key path>:
    <problem>``.
    """
    if not isinstance(data, dict):  # then nothing else can be read
        raise SchemaError(source, "<root>", f"expected a table, got {type(data).__name__}")
    read, root = _Reader(source), data
    read.unknown_keys(root, _SCHEMA_KEYS, "")
    name = read.name(root, "name", "")
    title = read.string(root, "title", "", default=name or "")
    description = read.string(root, "description", "", default="")
    gold_reference = read.boolean(root, "gold_reference", "", default=False)

    raw_fields = read.array(root, "fields", "")
    fields = [_read_field(read, raw, f"fields[{i}].") for i, raw in enumerate(raw_fields or [])]
    if raw_fields == []:
        read.note("fields", "a schema needs at least one field")
    _check_unique(read, _raw_names(raw_fields, "name"), "fields", "field name", "name")

    raw_dimensions = read.array(root, "dimensions", "")
    dimensions = [_read_dimension(read, raw, f"dimensions[{i}].")
                  for i, raw in enumerate(raw_dimensions or [])]
    if raw_dimensions == []:
        read.note("dimensions", "a schema needs at least one dimension")
    _check_unique(read, _raw_names(raw_dimensions, "name"), "dimensions", "dimension name", "name")
    field_names = set(_raw_names(raw_fields, "name")) - {""}
    for index, dimension_name in enumerate(_raw_names(raw_dimensions, "name")):
        if dimension_name in field_names:
            read.note(f"dimensions[{index}].name", f"{dimension_name!r} is also a field name")
    _check_ranked_fields(read, fields, dimensions)
    reference_field = _reference_field(read, root, fields, gold_reference)
    read.raise_problems()
    return TaskSchema(name, title, description, tuple(fields), tuple(dimensions),  # type: ignore[arg-type]
                      gold_reference, reference_field)


def _reference_field(read: _Reader, root: dict[str, Any], fields: Sequence[FieldSpec | None],
                     gold_reference: bool | None) -> str | None:
    """The field the gold reference box starts from: ``gold_reference_field`` (a text field),
    else :data:`DEFAULT_REFERENCE_FIELD` when the schema has it, else None (an empty box).
    A problem is noted (reported with the others), never raised here."""
    known = [f for f in fields if f is not None]
    if "gold_reference_field" not in root:
        has_default = any(f.name == DEFAULT_REFERENCE_FIELD for f in known)
        return DEFAULT_REFERENCE_FIELD if gold_reference and has_default else None
    name = read.string(root, "gold_reference_field", "")
    if not gold_reference:
        read.note("gold_reference_field", "needs gold_reference = true")
        return None
    kinds = {f.name: f.kind for f in known}
    if name is not None and kinds.get(name) != "text":
        text_fields = ", ".join(f.name for f in known if f.kind == "text")
        read.note("gold_reference_field",
                  f"{name!r} is not a text field of the schema (text fields: {text_fields})")
        return None
    return name


def _check_ranked_fields(read: _Reader, fields: Sequence[FieldSpec | None],
                         dimensions: Sequence[Dimension | None]) -> None:
    """Note every ranking dimension whose ``over`` is not a list field (texts or images)."""
    kinds = {f.name: f.kind for f in fields if f is not None}
    lists = ", ".join(name for name, kind in kinds.items() if kind in RANKED_KINDS) or "none"
    for index, dimension in enumerate(dimensions):
        if dimension is None or not dimension.is_ranking:
            continue
        if kinds.get(dimension.over or "") not in RANKED_KINDS:
            read.note(f"dimensions[{index}].over",
                      f"{dimension.over!r} is not a field of kind texts or images (list fields: "
                      f"{lists})")


def _check_unique(read: _Reader, names: list[str], key: str, what: str, attribute: str) -> None:
    """Note ``<key>[i].<attribute>`` of every repeat; empty names are not compared."""
    seen: set[str] = set()
    for index, name in enumerate(names):
        if name and name in seen:
            read.note(f"{key}[{index}].{attribute}", f"duplicate {what} {name!r}")
        seen.add(name)


def _raw_names(raws: list[Any] | None, key: str) -> list[str]:
    """Return the ``key`` of each raw table as text ("" where absent or not a string or an
    integer), so that a repeat is found even among entries that have another problem."""
    names = []
    for raw in raws or []:
        value = raw.get(key) if isinstance(raw, dict) else None
        valid = isinstance(value, str | int) and not isinstance(value, bool)
        names.append(str(value) if valid else "")
    return names


def _read_field(read: _Reader, raw: Any, path: str) -> FieldSpec | None:
    """Return the field at ``path``, or None when it has a problem (noted in ``read``)."""
    noted = len(read.problems)
    data = read.table(raw, path.rstrip("."))
    if data is None:
        return None
    read.unknown_keys(data, _FIELD_KEYS, path)
    name = read.entry_name(data, path)
    kind = read.string(data, "kind", path, default="text")
    if kind is not None and kind not in FIELD_KINDS:
        read.note(f"{path}kind", f"{kind!r} is not one of {', '.join(FIELD_KINDS)}")
    title = read.string(data, "title", path, default=(name or "").replace("_", " ").capitalize())
    required = read.boolean(data, "required", path, default=True)
    description = read.string(data, "description", path, default="")
    allow_empty = read.boolean(data, "allow_empty", path, default=False)
    if allow_empty and kind in IMAGE_KINDS:
        read.note(f"{path}allow_empty", f"an {kind} field cannot be empty (leave allow_empty out)")
    if len(read.problems) > noted:
        return None
    return FieldSpec(name=name, title=title, required=required, kind=kind,  # type: ignore[arg-type]
                     description=description, allow_empty=allow_empty)  # type: ignore[arg-type]


def _read_dimension(read: _Reader, raw: Any, path: str) -> Dimension | None:
    """Return the dimension at ``path``, or None when it has a problem (noted in ``read``)."""
    noted = len(read.problems)
    data = read.table(raw, path.rstrip("."))
    if data is None:
        return None
    read.unknown_keys(data, _DIMENSION_KEYS, path)
    name = read.entry_name(data, path)
    scale = read.string(data, "scale", path)
    if scale is not None and scale not in SCALES:
        read.note(f"{path}scale", f"{scale!r} is not one of {', '.join(SCALES)}")
        scale = None
    common: dict[str, Any] = {
        "name": name,
        "scale": scale,
        "title": read.string(data, "title", path, default=(name or "").replace("_", " ").capitalize()),
        "description": read.string(data, "description", path, default=""),
        "required": read.boolean(data, "required", path, default=True),
    }
    if scale is None:  # unknown: whether labels or min/max belong here cannot be told
        return None
    if scale != "ranking" and "over" in data:
        read.note(f"{path}over", "only ranking dimensions take over")
    if scale == "ranking":
        for key in ("labels", "min", "max"):
            if key in data:
                read.note(f"{path}{key}", "a ranking dimension orders its `over` field's entries: "
                          f"it takes no {key}")
        scale_keys: dict[str, Any] = {"over": read.string(data, "over", path,
                                                         default=DEFAULT_RANKED_FIELD)}
    elif scale == "interval":
        if "labels" in data:
            read.note(f"{path}labels", "an interval dimension takes min/max, not labels")
        minimum, maximum = read.number(data, "min", path), read.number(data, "max", path)
        if minimum is not None and maximum is not None and minimum >= maximum:
            read.note(f"{path}max", f"max ({maximum:g}) must be greater than min ({minimum:g})")
        scale_keys = {"minimum": minimum, "maximum": maximum}
    else:
        scale_keys = {"labels": _read_labels(read, data, path, scale)}
    if len(read.problems) > noted:
        return None
    return Dimension(**common, **scale_keys)


def _read_labels(read: _Reader, data: dict[str, Any], path: str, scale: str) -> tuple[Label, ...]:
    """Return the labels of a nominal or ordinal dimension (problems noted in ``read``)."""
    for bound in ("min", "max"):
        if bound in data:
            read.note(f"{path}{bound}", f"only interval dimensions take {bound}")
    raw_labels = read.array(data, "labels", path)
    if raw_labels is None:
        return ()
    labels = [_read_label(read, raw_label, f"{path}labels[{i}].", scale)
              for i, raw_label in enumerate(raw_labels)]
    if len(labels) < 2:
        read.note(f"{path}labels", f"needs at least 2 labels, got {len(labels)}")
    _check_unique(read, _raw_names(raw_labels, "value"), f"{path}labels", "label value", "value")
    _check_unique(read, [key.lower() for key in _raw_names(raw_labels, "key")], f"{path}labels",
                  "key", "key")
    _check_no_alias_clash(read, labels, path)
    return tuple(label for label in labels if label)


def _read_label(read: _Reader, raw: Any, path: str, scale: str) -> Label | None:
    """Return the label at ``path``, or None when it has a problem (noted in ``read``)."""
    noted = len(read.problems)
    data = read.table(raw, path.rstrip("."))
    if data is None:
        return None
    read.unknown_keys(data, _LABEL_KEYS, path)
    value = data.get("value")
    if scale == "ordinal" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        read.note(f"{path}value", f"expected a non-empty string, got {value!r}")
        value = ""
    key = read.string(data, "key", path, default="") or ""
    if key and (len(key) != 1 or not key.isascii() or not key.isalnum()):
        read.note(f"{path}key", f"{key!r} must be a single letter or digit")
    elif key.lower() in RESERVED_KEYS:
        read.note(
            f"{path}key",
            f"{key.lower()!r} is reserved (C and R by Streamlit; N, B, S, V by annotation navigation)",
        )
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        read.note(f"{path}aliases", "expected an array of strings")
        aliases = []
    display = read.string(data, "display", path, default=value)
    description = read.string(data, "description", path, default="")
    if len(read.problems) > noted:
        return None
    return Label(value=value, display=display, description=description,  # type: ignore[arg-type]
                 key=key.lower(), aliases=tuple(aliases))


def _check_no_alias_clash(read: _Reader, labels: list[Label | None], path: str) -> None:
    """Note every spelling (value, display, alias) that two labels would share."""
    owner: dict[str, str] = {}
    for index, label in enumerate(labels):
        if label is None:
            continue
        for spelling in sorted({label.value.casefold(), label.display.casefold(),
                                *(a.casefold() for a in label.aliases)}):
            other = owner.setdefault(spelling, label.value)
            if other != label.value:
                read.note(f"{path}labels[{index}]",
                          f"{spelling!r} would mean both {other!r} and {label.value!r}")
