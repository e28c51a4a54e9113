"""The ranking input: response numbers pressed from best to worst build the order.

One button per response (its number is its shortcut while the input has the keys), "Undo"
(Backspace) and "Clear"; above them the order as it is typed, ``2 › 1 › …``. The rules (the
implied last response, what undo takes back) are :mod:`core.rank_input`. Buttons, not a select
box: a button gives the focus back, so the keys keep working after a click.

The caller keeps the order and passes ``on_edit``: a callback given one edit, a function from
the current order to the new one. It applies the edit to the order it holds *when the click
arrives*, so two clicks in one rerun (a double click) both count against the latest order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import streamlit as st

from components.annotate_keys import RANK_UNDO_KEY
from core.rank_input import clear, is_complete, order_text, press, undo
from core.rank_order import Order, RankingError, parse_partial_order
from core.safe_text import escape_markdown
from core.schema import Dimension

Edit = Callable[[Order], Order]


def response_count(dimension: Dimension, fields: Mapping[str, Any]) -> int:
    """The number of entries a ranking ``dimension`` orders on an item (0 when the item's
    ``over`` field is missing or not a list)."""
    entries = fields.get(dimension.over or "")
    return len(entries) if isinstance(entries, list) else 0


def order_begun(label: str | None, n: int) -> Order:
    """The order begun in a working or draft ``label`` (canonical text, ``"2,1"``) of an item
    with ``n`` responses; empty when there is none or it does not fit the item (a draft from
    before a re-import: the annotator starts again)."""
    try:
        return parse_partial_order(label or "", n)
    except RankingError:
        return ()


def unfinished(title: str, order: Order, n: int) -> str | None:
    """``"Ranking: 2 of 4 ranked"`` (``title`` markdown-escaped) when ``order`` is begun but
    does not place all ``n`` responses; None when it is empty or complete."""
    if not order or is_complete(order, n):
        return None
    return f"{escape_markdown(title)}: {len(order)} of {n} ranked"


UNFINISHED = "Not saved: rank every response, best first ({})."


def render_ranking_input(*, key: str, n: int, order: Order, on_edit: Callable[[Edit], None],
                         shortcuts: bool, disabled: bool = False) -> None:
    """Draw the input for ``n`` responses holding ``order`` (possibly unfinished).

    ``key`` prefixes the widget keys (``<key>.<number>``, ``<key>.undo``, ``<key>.clear``);
    ``shortcuts`` gives the buttons the keys 1-n and Backspace (only one input on a page may).
    """
    complete = is_complete(order, n)
    text = order_text(order, n)
    if order:
        st.markdown(f"**{text}**" + (" :green[:material/check:]" if complete else ""),
                    help="Best first. The last response is implied once the others are placed.")
    else:
        st.caption("Press the response numbers from best to worst.")
    placed = set(order)
    with st.container(horizontal=True, gap="xsmall", key=f"{key}.buttons"):
        for position in range(1, n + 1):
            off = disabled or position in placed
            st.button(str(position), key=f"{key}.{position}", disabled=off,
                      shortcut=str(position) if shortcuts and not off else None,
                      help=f"Response {position}: next best",
                      on_click=on_edit, args=(partial(press, position=position, n=n),))
    with st.container(horizontal=True, gap="xsmall"):
        st.button("Undo", key=f"{key}.undo", type="tertiary", icon=":material/undo:",
                  disabled=disabled or not order,
                  shortcut=RANK_UNDO_KEY if shortcuts and order and not disabled else None,
                  help="Take back the last response placed", on_click=on_edit,
                  args=(partial(undo, n=n),))
        st.button("Clear", key=f"{key}.clear", type="tertiary", icon=":material/backspace:",
                  disabled=disabled or not order, help="Start the order again",
                  on_click=on_edit, args=(clear,))
