"""The item as its task template defines it: one block per field, untrusted text as text.

Item text comes from LLMs and import files, so it is drawn with ``st.text`` (never parsed as
markdown or HTML): an ``<img>`` tag or a markdown image in a response stays visible characters
and never makes the annotator's browser fetch anything. Image fields hold SHA-256 hashes and
are drawn from Docket's own image route (:mod:`components.image_view`). Only fields the admin lists as
trusted (project setting) are drawn as markdown, and even then without raw HTML.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import streamlit as st

from components.image_view import render_image_field
from core.rank_input import rank_of
from core.rank_order import Order
from core.safe_text import escape_markdown
from core.schema import FieldSpec, TaskSchema

# Longer texts go into a fixed-height box that scrolls, so the label form stays in view.
LONG_TEXT_CHARS = 900
LONG_TEXT_LINES = 14
SCROLL_HEIGHT = 340
# A list of texts (survey answers) is read as a whole: it scrolls only when it is long in
# total, not for its count (eight one-line answers used to show five in a 340 px box).
LONG_LIST_CHARS = 3 * LONG_TEXT_CHARS
LONG_LIST_TEXTS = 30
LIST_SCROLL_HEIGHT = 560
EMPTY = "(empty)"
NOT_PROVIDED = "(not provided)"


def field_groups(fields: Sequence[FieldSpec]) -> list[tuple[FieldSpec, ...]]:
    """Group the fields into rows: ``x_a`` directly followed by ``x_b`` share a row.

    That puts pairwise responses A and B side by side; every other field has a row alone.
    """
    groups: list[tuple[FieldSpec, ...]] = []
    index = 0
    while index < len(fields):
        spec = fields[index]
        following = fields[index + 1] if index + 1 < len(fields) else None
        if (following is not None and spec.name.endswith("_a")
                and following.name == spec.name[:-2] + "_b"):
            groups.append((spec, following))
            index += 2
        else:
            groups.append((spec,))
            index += 1
    return groups


def is_long(text: str) -> bool:
    """True when ``text`` needs a scrolling box."""
    return len(text) > LONG_TEXT_CHARS or text.count("\n") >= LONG_TEXT_LINES


def render_item(schema: TaskSchema, fields: Mapping[str, Any], *, trusted: Collection[str] = (),
                orders: Mapping[str, Order] | None = None) -> None:
    """Draw every field of the item in schema order (A/B pairs side by side).

    A field a ranking dimension orders is drawn as numbered responses ("Response 2"), each
    with its rank in ``orders`` (field name -> the order begun so far) once placed.
    """
    ranked = {d.over for d in schema.dimensions if d.is_ranking and d.over}
    for group in field_groups(schema.fields):
        if len(group) == 1 and group[0].name in ranked:
            _ranked_field(group[0], fields.get(group[0].name), (orders or {}).get(group[0].name, ()),
                          trusted=group[0].name in trusted)
            continue
        if len(group) == 1:
            _field(group[0], fields.get(group[0].name), trusted=group[0].name in trusted)
            continue
        for column, spec in zip(st.columns(len(group), gap="medium"), group, strict=True):
            with column, st.container(border=True):
                _field(spec, fields.get(spec.name), trusted=spec.name in trusted)


def _field(spec: FieldSpec, value: Any, *, trusted: bool) -> None:
    st.markdown(f"**{escape_markdown(spec.title)}**",
                help=escape_markdown(spec.description) if spec.description else None)
    if value is None:
        st.caption(NOT_PROVIDED)
    elif spec.is_image:
        render_image_field(spec.name, value)
    elif spec.kind == "texts":
        _texts(value if isinstance(value, list) else [value], trusted=trusted)
    else:
        _text_block(str(value), trusted=trusted)


def rank_badge(rank: int | None, n: int) -> str:
    """The badge beside a response: its place in the order (``#1 best``), or nothing yet."""
    if rank is None:
        return ""
    if rank == 1:
        return ":green-badge[#1 best]"
    if rank == n:
        return f":orange-badge[#{rank} worst]"
    return f":blue-badge[#{rank}]"


def _ranked_field(spec: FieldSpec, value: Any, order: Order, *, trusted: bool) -> None:
    st.markdown(f"**{escape_markdown(spec.title)}**",
                help=escape_markdown(spec.description) if spec.description else None)
    if not isinstance(value, list) or not value:
        st.caption(NOT_PROVIDED if value is None else EMPTY)
        return
    ranks = rank_of(order)
    titles = [f"**Response {number}** {rank_badge(ranks.get(number), len(value))}".rstrip()
              for number in range(1, len(value) + 1)]
    if spec.is_image:
        render_image_field(spec.name, value, titles=titles)
        return
    for title, text in zip(titles, value, strict=True):
        with st.container(border=True, gap="small"):
            st.markdown(title)
            _text_block(str(text), trusted=trusted)


def _text_block(text: str, *, trusted: bool) -> None:
    if text == "":
        st.caption(EMPTY)
        return
    if is_long(text):
        with st.container(height=SCROLL_HEIGHT):
            _text(text, trusted=trusted)
    else:
        _text(text, trusted=trusted)


def _text(text: str, *, trusted: bool) -> None:
    if trusted:
        st.markdown(text)  # the admin trusts this field; raw HTML stays off
    else:
        st.text(text)


def _texts(values: list[Any], *, trusted: bool) -> None:
    if not values:
        st.caption(EMPTY)
        return
    st.caption(f"{len(values)} text{'s' if len(values) != 1 else ''}")
    total = sum(len(str(v)) for v in values)
    long_list = total > LONG_LIST_CHARS or len(values) > LONG_LIST_TEXTS
    box = st.container(height=LIST_SCROLL_HEIGHT) if long_list else st.container()
    with box, st.container(gap="medium"):
        for number, value in enumerate(values, start=1):
            with st.container(horizontal=True, gap="small"):
                st.caption(f"{number}.", width=28)
                text = str(value)
                if text == "":
                    st.caption(EMPTY)
                else:
                    with st.container():
                        _text(text, trusted=trusted)
