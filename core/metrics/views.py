"""Derived views of a dimension: the binarised scale, the positive label, swapped judges."""

from __future__ import annotations

import numpy as np

from core.metrics.ratings import JUDGE, MetricsInputError, Ratings, rater_kind
from core.schema import Dimension, Label, LabelError, format_number

SWAPPED_SUFFIX = "@swapped"


def positive_label(dimension: Dimension) -> str | None:
    """The label whose rate measures leniency: the first label of a two-label nominal scale
    (templates list ``correct``/``yes`` first; a binarised view puts "≥ t" first), the top
    label of an ordinal scale, None otherwise."""
    if dimension.scale == "nominal" and len(dimension.labels) == 2:
        return dimension.labels[0].value
    if dimension.scale == "ordinal":
        return dimension.labels[-1].value
    return None


def binarize(ratings: Ratings, threshold: str) -> Ratings:
    """The two-label nominal view "≥ threshold" / "< threshold" of an ordinal or interval scale.

    The positive label ``>=<t>`` comes first (code 0). An ordinal threshold may be written as
    any spelling the dimension accepts. Raises :class:`MetricsInputError` for a nominal
    or ranking dimension, an unknown label, a non-numeric interval threshold, or the lowest
    ordinal label (every item would be positive).
    """
    dimension = ratings.dimension
    if dimension.is_ranking:
        raise MetricsInputError(
            f"cannot binarise dimension {dimension.name!r}: it is a ranking (an order of "
            "responses); binarising needs an ordinal or interval scale")
    if dimension.scale == "nominal":
        raise MetricsInputError(
            f"cannot binarise dimension {dimension.name!r}: it is nominal; binarising needs an "
            "ordinal or interval scale")
    if dimension.scale == "ordinal":
        try:
            value = dimension.normalize(threshold)
        except LabelError as exc:
            raise MetricsInputError(f"binarise at {threshold!r}: {exc}") from None
        cut = float(dimension.rank(value))
        if cut == 0:
            raise MetricsInputError(
                f"binarise at {threshold!r}: it is the lowest label of {dimension.name!r}, so "
                "every label would count as positive")
        shown = value
    else:
        try:
            cut = float(threshold)
        except ValueError:
            raise MetricsInputError(
                f"binarise at {threshold!r}: dimension {dimension.name!r} is interval, give a "
                "number") from None
        shown = format_number(cut)
    values = ratings.values
    binary = np.where(np.isnan(values), np.nan, np.where(values >= cut, 0.0, 1.0))
    view = Dimension(
        name=dimension.name, scale="nominal", title=f"{dimension.title} ≥ {shown}",
        description=f"{dimension.title} binarised: {shown} or more is positive.",
        labels=(Label(f">={shown}", f"≥ {shown}"), Label(f"<{shown}", f"< {shown}")),
        required=dimension.required)
    return ratings.replace(dimension=view, values=binary)


def is_preference(dimension: Dimension) -> bool:
    """True for a pairwise-preference dimension: nominal with labels ``A`` and ``B``."""
    return dimension.scale == "nominal" and {"A", "B"} <= set(dimension.label_values)


def swapped_pairs(ratings: Ratings) -> list[tuple[str, str]]:
    """``(judge:<j>, judge:<j>@swapped)`` for every judge imported in both orders."""
    judges = set(ratings.of_kind(JUDGE))
    return [(name.removesuffix(SWAPPED_SUFFIX), name) for name in ratings.raters
            if rater_kind(name) == JUDGE and name.endswith(SWAPPED_SUFFIX)
            and name.removesuffix(SWAPPED_SUFFIX) in judges]


def align_swapped(ratings: Ratings) -> Ratings:
    """Flip A and B of every ``judge:<j>@swapped`` on a preference dimension, so that its
    labels mean the same as everyone else's (the swapped run showed B's text in position A).
    Other dimensions come back unchanged."""
    dimension = ratings.dimension
    if not is_preference(dimension):
        return ratings
    a, b = dimension.rank("A"), dimension.rank("B")
    values = ratings.values.copy()
    for index, name in enumerate(ratings.raters):
        if rater_kind(name) == JUDGE and name.endswith(SWAPPED_SUFFIX):
            column = values[:, index]
            values[:, index] = np.where(column == a, b, np.where(column == b, a, column))
    return ratings.replace(values=values)
