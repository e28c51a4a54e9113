"""Label budgets: how many more labels until an interval is as narrow as wanted.

A standard error shrinks as 1/√n, so an interval of half-width h on n labels reaches the
target half-width t at n · (h / t)² labels. The projection assumes the next labels come from
the same design as the ones so far.
"""

from __future__ import annotations

import math

DEFAULT_TARGET = 0.05


def labels_needed(halfwidth: float, n: int, target: float) -> int:
    """Further labels (beyond ``n``) for a half-width of ``target``; 0 when already there.

    Raises ValueError for a target that is not positive, a negative half-width or n < 1.
    """
    if not target > 0:
        raise ValueError(f"the target half-width must be positive, got {target}")
    if halfwidth < 0 or n < 1:
        raise ValueError(f"need a half-width >= 0 and n >= 1, got {halfwidth} and {n}")
    if halfwidth <= target:
        return 0
    return max(0, math.ceil(n * (halfwidth / target) ** 2 - 1e-9) - n)


def effective_labels(classical_se: float, ppi_se: float, n: int) -> float:
    """How many labels alone would give the PPI++ standard error: n · (se_classical / se_ppi)².

    Returns ``n`` when both errors are 0; raises ValueError for negative errors.
    """
    if classical_se < 0 or ppi_se < 0:
        raise ValueError("standard errors cannot be negative")
    if ppi_se == 0:
        return float(n) if classical_se == 0 else math.inf
    return n * (classical_se / ppi_se) ** 2


def budget_sentence(needed: int | None, target: float) -> str:
    """The budget line the pages show: "≈ 140 labels to go" or "enough labels for ±0.05"
    (``needed`` None: "not enough labels yet to project")."""
    if needed is None:
        return f"not enough labels yet to project the labels needed for ±{target:g}"
    if needed == 0:
        return f"enough labels for ±{target:g}"
    return f"≈ {needed} labels to go for ±{target:g}"
