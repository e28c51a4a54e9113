"""What the audit reads beside the labels: response lengths, both models of a pairwise item,
and each judge's model family."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from core.audit.probes import ProbeItem
from core.metrics.ratings import Categories, MetricsInputError


def _lengths(values: Sequence[float | None] | np.ndarray | None, n_items: int, name: str
             ) -> np.ndarray:
    if values is None:
        return np.full(n_items, np.nan)
    array = np.array([np.nan if v is None else v for v in values], dtype=float)
    if array.shape != (n_items,):
        raise MetricsInputError(f"{name} has {len(array)} entries for {n_items} items")
    if (array[~np.isnan(array)] < 0).any():
        raise MetricsInputError(f"{name} holds a negative length")
    return array


@dataclass(frozen=True, eq=False)
class ItemFacts:
    """Per item (in the order of the ratings' items): the length in characters of the
    single response (``length``) or of responses A and B (``length_a``/``length_b``; NaN:
    no such text), and the models behind A and B (``model_a``/``model_b``)."""

    length: np.ndarray
    length_a: np.ndarray
    length_b: np.ndarray
    model_a: Categories
    model_b: Categories

    @classmethod
    def of(cls, n_items: int, *, length: Sequence[float | None] | np.ndarray | None = None,
           length_a: Sequence[float | None] | np.ndarray | None = None,
           length_b: Sequence[float | None] | np.ndarray | None = None,
           model_a: Sequence[str | None] | None = None,
           model_b: Sequence[str | None] | None = None) -> ItemFacts:
        """Facts of ``n_items`` items; anything not given is absent for every item.

        Raises :class:`MetricsInputError` for a list of the wrong length or a negative length.
        """
        return cls(_lengths(length, n_items, "length"), _lengths(length_a, n_items, "length_a"),
                   _lengths(length_b, n_items, "length_b"),
                   Categories.of(model_a, n_items), Categories.of(model_b, n_items))


@dataclass(frozen=True)
class AuditOptions:
    """Audit settings: bootstrap resamples (0: no CI), seed, each judge's model family by
    rater name (``judge:<name>``; a judge without one has no self-preference figure), each
    judge's per-item ``answered`` (did its model answer the question correctly itself; None:
    unknown), ``pair_with``: judge -> the same judge given a reference, and ``probes``: each
    judge's verdicts on the paraphrases of its probed items (:mod:`core.audit.probes`)."""

    n_resamples: int = 1000
    seed: int = 0
    families: Mapping[str, str | None] = field(default_factory=dict)
    answered: Mapping[str, Sequence[bool | None]] = field(default_factory=dict)
    pair_with: Mapping[str, str] = field(default_factory=dict)
    probes: Mapping[str, Sequence[ProbeItem]] = field(default_factory=dict)


def in_family(model: str | None, family: str) -> bool:
    """True when ``model`` belongs to ``family``: the family name occurs in the model name,
    ignoring case (family ``gpt-4`` holds ``gpt-4-0613`` and ``openai/gpt-4o``)."""
    return model is not None and family.casefold() in model.casefold()
