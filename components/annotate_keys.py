"""The annotation page's keyboard map: label keys from the schema plus the navigation keys.

Streamlit's native ``st.button(shortcut=...)`` does the key handling (it ignores plain keys
while a text field has the focus, so typing a comment never triggers a shortcut). Streamlit
reserves C and R; the schema already forbids N, B, S and V as label keys. Only the *active*
dimension's labels carry their keys, so several dimensions can all use 1-5. A ranking dimension
takes the digits too (its response numbers) while it is active: the order is typed there until
it is complete, which makes the next dimension, and its label keys, active.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.schema import Dimension, TaskSchema

SUBMIT_KEY = "Enter"
NEXT_KEY = "N"
BACK_KEY = "B"
SKIP_KEY = "S"
REVEAL_KEY = "V"
CANCEL_KEY = "Esc"
PREVIOUS_DIMENSION_KEY = "Up"
NEXT_DIMENSION_KEY = "Down"
# Flagging uses F unless the schema gives F to a label (the schema only reserves C R N B S V).
FLAG_KEY = "F"
# A ranking dimension's keys, while it is the active dimension: the response numbers 1-9 (as a
# label dimension's digits, only the active dimension has them) and Backspace to undo.
RANK_UNDO_KEY = "Backspace"
# Rating the next judge rationale (after revealing), unless the schema gives one to a label.
RATE_KEYS = {"sound": "J", "flawed": "K", "hallucinated": "L"}


@dataclass(frozen=True)
class KeyMap:
    """The keys of one schema: per dimension ``{label value: key}``, and the optional keys."""

    labels: dict[str, dict[str, str]]
    flag: str | None
    move_dimension: bool
    rate: dict[str, str] | None = None  # rationale rating -> key; None when a label has one
    ranking: bool = False  # a ranking dimension takes the response numbers and Backspace

    def legend(self, *, rationales: bool = False, responses: int = 0) -> list[tuple[str, str]]:
        """Return ``(keys, what they do)`` pairs for the on-screen legend, in loop order;
        ``rationales``: the judges' rationales are shown, so their rating keys are listed;
        ``responses``: the item's number of responses to rank (with a ranking dimension)."""
        entries = []
        if self.ranking and responses:
            entries += [(_span([str(k) for k in range(1, responses + 1)]),
                         "rank the responses, best first"), (RANK_UNDO_KEY, "undo")]
        label_keys = sorted({key for keys in self.labels.values() for key in keys.values()})
        if label_keys:
            entries.append((_span(label_keys), "choose a label"))
        if self.move_dimension:
            entries.append(("↑ ↓", "previous / next dimension"))
        entries += [("Enter", "save"), (NEXT_KEY, "next item"), (BACK_KEY, "back"),
                    (SKIP_KEY, "skip"), (REVEAL_KEY, "show the judges")]
        if self.flag:
            entries.append((self.flag, "flag for review"))
        if rationales and self.rate:
            entries.append((" ".join(self.rate.values()),
                            "rate the next rationale " + " / ".join(self.rate)))
        entries.append((CANCEL_KEY, "cancel skip or flag"))
        return entries


def label_keys(dimension: Dimension) -> dict[str, str]:
    """Return ``{label value: key}`` for a nominal/ordinal dimension (empty for interval).

    A label without a key in the schema gets the digit of its position (1-9) if no other label
    of the dimension uses it, else the first free digit, so every label can be typed.
    """
    taken = {label.key.upper() for label in dimension.labels if label.key}
    keys: dict[str, str] = {}
    for position, label in enumerate(dimension.labels, start=1):
        if label.key:
            keys[label.value] = label.key.upper()
            continue
        free = [str(d) for d in (position, *range(1, 10)) if 1 <= d <= 9 and str(d) not in taken]
        if free:
            keys[label.value] = free[0]
            taken.add(free[0])
    return keys


def key_map(schema: TaskSchema) -> KeyMap:
    """Return the keyboard map of ``schema``."""
    labels = {dimension.name: label_keys(dimension) for dimension in schema.dimensions}
    used = {key for keys in labels.values() for key in keys.values()}
    return KeyMap(labels=labels, flag=None if FLAG_KEY in used else FLAG_KEY,
                  move_dimension=len(schema.dimensions) > 1,
                  rate=None if used & set(RATE_KEYS.values()) else dict(RATE_KEYS),
                  ranking=any(dimension.is_ranking for dimension in schema.dimensions))


def _span(keys: list[str]) -> str:
    """``["1", "2", "3"]`` -> ``"1–3"``; anything not a run of digits is listed."""
    if len(keys) > 2 and all(k.isdigit() for k in keys) and \
            [int(k) for k in keys] == list(range(int(keys[0]), int(keys[-1]) + 1)):
        return f"{keys[0]}–{keys[-1]}"
    return " ".join(keys)
