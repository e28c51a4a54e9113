"""PPI++ for a mean (Angelopoulos, Duchi & Zrnic 2023) and its inverse-probability-weighted
form for items labelled with known, unequal probabilities (Zrnic & Candès 2024).

Notation: ``y`` the human labels of the ``n`` labelled items, ``f`` a judge's prediction on
them, ``f_unlabelled`` its prediction on the ``N`` other items. The PPI++ estimate

    θ̂(λ) = λ · mean(f_unlabelled) + mean(y − λ f)

is unbiased for every fixed λ (λ = 0 is the classical mean of the labels, λ = 1 plain PPI).
The power-tuned λ minimises the estimated variance and is clipped to [0, 1], so a useless
judge drives λ to 0 and the interval to the classical one instead of widening it. The
interval is the CLT interval θ̂ ± z · √(λ² var(f_unlabelled)/N + var(y − λ f)/n), with the
population variances (ddof = 0) exactly as ``ppi_py.ppi_mean_ci`` computes them, so that its
numbers are an oracle for ours. The classical interval is the same formula at λ = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

MIN_LABELS = 2


class EstimateError(ValueError):
    """Inputs an estimate cannot be computed from; the message names what is wrong."""


@dataclass(frozen=True)
class MeanEstimate:
    """A mean with its CLT interval: ``estimate``, ``ci95`` (or the asked level), the
    standard error, λ (None for the classical estimate), labelled and unlabelled counts."""

    estimate: float
    ci: tuple[float, float]
    se: float
    lam: float | None
    n_labelled: int
    n_unlabelled: int

    @property
    def halfwidth(self) -> float:
        """Half the interval's width."""
        return (self.ci[1] - self.ci[0]) / 2


def _vector(values: object, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise EstimateError(f"{what} must be a 1-D array, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise EstimateError(f"{what} contains NaN or infinite values")
    return array


def _z(alpha: float) -> float:
    if not 0 < alpha < 1:
        raise EstimateError(f"alpha must be between 0 and 1, got {alpha}")
    return float(norm.ppf(1 - alpha / 2))


def _interval(estimate: float, se: float, alpha: float) -> tuple[float, float]:
    z = _z(alpha)
    return (estimate - z * se, estimate + z * se)


def classical_mean(y: object, *, alpha: float = 0.05) -> MeanEstimate:
    """The mean of the labels with its CLT interval (population variance, as PPI++ at λ = 0).

    Raises :class:`EstimateError` with fewer than :data:`MIN_LABELS` labels or non-finite ones.
    """
    labels = _vector(y, "y")
    if len(labels) < MIN_LABELS:
        raise EstimateError(f"a mean needs at least {MIN_LABELS} labels, got {len(labels)}")
    estimate = float(labels.mean())
    se = float(labels.std() / math.sqrt(len(labels)))
    return MeanEstimate(estimate, _interval(estimate, se, alpha), se, None, len(labels), 0)


def tuned_lambda(y: np.ndarray, f: np.ndarray, f_unlabelled: np.ndarray) -> float:
    """The variance-minimising λ of PPI++ for a mean, clipped to [0, 1].

    λ* = cov(y, f) / ((1 + n/N) · var(f over all items)), with cov over the labelled items
    (ddof 0) and var over labelled and unlabelled predictions together (ddof 1), as
    ``ppi_py`` computes it. A constant prediction gives λ = 0.
    """
    n, big_n = len(y), len(f_unlabelled)
    covariance = float(((y - y.mean()) * (f - f.mean())).mean())
    variance = float(np.var(np.concatenate([f, f_unlabelled]), ddof=1))
    if variance <= 0:
        return 0.0
    return float(np.clip(covariance / ((1 + n / big_n) * variance), 0.0, 1.0))


def ppi_mean(y: object, f: object, f_unlabelled: object, *, alpha: float = 0.05,
             lam: float | None = None) -> MeanEstimate:
    """The PPI++ estimate of the mean of ``y`` over labelled and unlabelled items together.

    ``lam`` None tunes λ (:func:`tuned_lambda`); a number fixes it (1 = plain PPI). Raises
    :class:`EstimateError` for arrays of different lengths, fewer than :data:`MIN_LABELS`
    labels, no unlabelled item, non-finite values or a fixed λ that is not finite.
    """
    labels, predicted = _vector(y, "y"), _vector(f, "f")
    rest = _vector(f_unlabelled, "f_unlabelled")
    if len(labels) != len(predicted):
        raise EstimateError(f"y has {len(labels)} labels but f has {len(predicted)} predictions")
    if len(labels) < MIN_LABELS:
        raise EstimateError(f"a mean needs at least {MIN_LABELS} labels, got {len(labels)}")
    if len(rest) == 0:
        raise EstimateError("PPI needs at least one unlabelled item (every item is labelled: "
                            "use the classical mean)")
    if lam is None:
        lam = tuned_lambda(labels, predicted, rest)
    elif not math.isfinite(lam):
        raise EstimateError(f"lam must be a finite number, got {lam}")
    n, big_n = len(labels), len(rest)
    estimate = float(lam * rest.mean() + (labels - lam * predicted).mean())
    se = math.sqrt(float((lam * rest).std()) ** 2 / big_n
                   + float((labels - lam * predicted).std()) ** 2 / n)
    return MeanEstimate(estimate, _interval(estimate, se, alpha), se, float(lam), n, big_n)


def ppi_mean_weighted(f_all: object, labelled: object, y: object, pi: object, *,
                      alpha: float = 0.05, lam: float | None = None) -> MeanEstimate:
    """The inverse-probability-weighted PPI++ mean over all ``N`` items (active inference).

    ``f_all`` is the prediction on every item, ``labelled`` a boolean mask of the items that
    were drawn and labelled, ``y`` their labels (in mask order) and ``pi`` every item's
    inclusion probability (> 0). With ξ the mask, each item contributes

        Z_i = λ f_i + (y_i − λ f_i) ξ_i / π_i

    and θ̂ = mean(Z), se = sd(Z) / √N (ddof 0). The tuned λ minimises the plug-in variance of
    Z, λ* = −cov(A, B) / var(B) with A = y ξ/π and B = f (1 − ξ/π), clipped to [0, 1].
    Raises :class:`EstimateError` for mismatched lengths, a probability outside (0, 1],
    fewer than :data:`MIN_LABELS` labels, or non-finite values.
    """
    predicted = _vector(f_all, "f_all")
    mask = np.asarray(labelled, dtype=bool)
    probabilities = _vector(pi, "pi")
    labels = _vector(y, "y")
    if mask.shape != predicted.shape or probabilities.shape != predicted.shape:
        raise EstimateError(f"f_all, labelled and pi must have the same length, got "
                            f"{len(predicted)}, {mask.size} and {len(probabilities)}")
    if len(labels) != int(mask.sum()):
        raise EstimateError(f"y has {len(labels)} labels but the mask marks {int(mask.sum())}")
    if len(labels) < MIN_LABELS:
        raise EstimateError(f"a mean needs at least {MIN_LABELS} labels, got {len(labels)}")
    if (probabilities <= 0).any() or (probabilities > 1).any():
        raise EstimateError("inclusion probabilities must be in (0, 1]")
    weight = np.where(mask, 1.0 / probabilities, 0.0)
    full_y = np.zeros(len(predicted))
    full_y[mask] = labels
    a = full_y * weight
    b = predicted * (1.0 - weight)
    if lam is None:
        variance_b = float(b.var())
        covariance = float(((a - a.mean()) * (b - b.mean())).mean())
        lam = float(np.clip(-covariance / variance_b, 0.0, 1.0)) if variance_b > 0 else 0.0
    elif not math.isfinite(lam):
        raise EstimateError(f"lam must be a finite number, got {lam}")
    z = a + lam * b
    estimate = float(z.mean())
    se = float(z.std() / math.sqrt(len(z)))
    return MeanEstimate(estimate, _interval(estimate, se, alpha), se, float(lam), len(labels),
                        len(predicted) - len(labels))


def classical_mean_weighted(labelled: object, y: object, pi: object, *,
                            alpha: float = 0.05) -> MeanEstimate:
    """The Horvitz–Thompson mean of the labels alone (the weighted form at λ = 0).

    Same arguments and errors as :func:`ppi_mean_weighted` without the predictions.
    """
    mask = np.asarray(labelled, dtype=bool)
    result = ppi_mean_weighted(np.zeros(mask.size), mask, y, pi, alpha=alpha, lam=0.0)
    return MeanEstimate(result.estimate, result.ci, result.se, None, result.n_labelled,
                        result.n_unlabelled)
