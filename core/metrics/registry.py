"""The metrics registry: every agreement metric Docket computes, by name.

The dashboard shows each entry's definition, the CLI and JSON use its name as the key, the
README check and the property tests iterate the same dict: a new metric gets its symmetry,
order-invariance, bounds and perfect-agreement tests by being registered here. The four
batch-ranking metrics are in :data:`RANKING_REGISTRY` (computed together by
:mod:`core.metrics.batch_ranking`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.metrics import group_metrics, pair_metrics
from core.metrics.samples import GroupSample, PairSample

Symmetry = Literal["symmetric", "antisymmetric"]
ALL_SCALES = ("nominal", "ordinal", "interval")
CATEGORICAL = ("nominal", "ordinal")


@dataclass(frozen=True)
class MetricDefinition:
    """One metric: where it applies, its properties, its definition text and its code.

    ``pair`` computes it for two raters, ``group`` for many raters (either may be None).
    ``bounds`` are the values it can take; ``perfect`` is its value when every pairable item
    gets the same label from everyone (and the labels vary across items). ``symmetry`` says
    what exchanging the two raters does: nothing, or flip the sign. ``needs_variation``: the
    metric is undefined (0/0) when every pairable label is one and the same.
    """

    name: str
    title: str
    scales: tuple[str, ...]
    symmetry: Symmetry
    bounds: tuple[float, float]
    perfect: float
    definition: str
    pair: Callable[[PairSample], np.ndarray] | None = None
    group: Callable[[GroupSample], np.ndarray] | None = None
    needs_variation: bool = True
    bootstrap: bool = True


_DEFINITIONS = (
    MetricDefinition(
        "percent_agreement", "Percent agreement", ALL_SCALES[:2], "symmetric", (0.0, 1.0), 1.0,
        "Share of the pairable items on which both raters gave the same label: p_o = (number of "
        "items with equal labels) / n, reported as a proportion (0.9115 = 91.15 %). Easy to "
        "read, but not corrected for chance: with a skewed label distribution two raters agree "
        "often by luck, so always read it next to kappa. Undefined with fewer than 2 pairable "
        "items.",
        pair=pair_metrics.percent_agreement, needs_variation=False),
    MetricDefinition(
        "cohen_kappa", "Cohen's κ", ALL_SCALES[:2], "symmetric", (-1.0, 1.0), 1.0,
        "Chance-corrected agreement κ = (p_o − p_e) / (1 − p_e), where chance agreement p_e = "
        "Σ_k p_a(k) · p_b(k) uses each rater's own label distribution. 1 is perfect agreement, 0 "
        "what two independent raters with these distributions would reach, below 0 worse than "
        "chance. The standard coefficient for a judge against a human. Undefined when both "
        "raters gave every pairable item the same single label (p_e = 1), or with fewer than 2 "
        "pairable items.",
        pair=pair_metrics.cohen_kappa),
    MetricDefinition(
        "scott_pi", "Scott's π", ALL_SCALES[:2], "symmetric", (-1.0, 1.0), 1.0,
        "Like Cohen's κ, but chance agreement comes from the pooled label distribution of both "
        "raters: p_e = Σ_k ((p_a(k) + p_b(k)) / 2)². It treats the raters as interchangeable, "
        "so a rater who is simply more lenient is penalised rather than explained away; close "
        "to κ when both use labels alike. Undefined when both raters gave every pairable item "
        "the same single label, or with fewer than 2 pairable items.",
        pair=pair_metrics.scott_pi),
    MetricDefinition(
        "gwet_ac1", "Gwet's AC1", ALL_SCALES[:2], "symmetric", (-1.0, 1.0), 1.0,
        "Gwet's first-order agreement coefficient AC1 = (p_o − p_e) / (1 − p_e) with p_e = "
        "Σ_k π_k (1 − π_k) / (q − 1), π_k the pooled share of label k and q the number of labels "
        "on the scale. Stays high when agreement is high but one label dominates (the 'kappa "
        "paradox', e.g. 95 % 'correct'), where κ collapses. Undefined only with fewer than 2 "
        "pairable items.",
        pair=pair_metrics.gwet_ac1, needs_variation=False),
    MetricDefinition(
        "kappa_linear", "Linearly weighted κ", ("ordinal",), "symmetric", (-1.0, 1.0), 1.0,
        "Weighted κ_w = 1 − Σ w_ij O_ij / Σ w_ij E_ij with disagreement weights w_ij = "
        "|i − j| / (k − 1) over the scale's k labels, O the observed and E the chance "
        "(product of marginals) table. Near misses on an ordinal scale count as partial "
        "agreement, in proportion to the distance. Undefined when both raters gave every "
        "pairable item the same single label, or with fewer than 2 pairable items.",
        pair=pair_metrics.kappa_linear),
    MetricDefinition(
        "kappa_quadratic", "Quadratically weighted κ", ("ordinal",), "symmetric", (-1.0, 1.0), 1.0,
        "Weighted κ with w_ij = ((i − j) / (k − 1))²: large disagreements cost much more than "
        "near misses; close to the intraclass correlation and the usual choice for rating "
        "scales such as 1–5 rubrics. Undefined when both raters gave every pairable item the "
        "same single label, or with fewer than 2 pairable items.",
        pair=pair_metrics.kappa_quadratic),
    MetricDefinition(
        "pearson", "Pearson's r", ("interval",), "symmetric", (-1.0, 1.0), 1.0,
        "Linear correlation r = cov(a, b) / (sd(a) sd(b)) of the two raters' scores. Insensitive "
        "to a constant offset or scale factor (use MAE and the mean signed difference for "
        "those); sensitive to outliers. Undefined when either rater gave every pairable item "
        "the same score, or with fewer than 2 pairable items.",
        pair=pair_metrics.pearson),
    MetricDefinition(
        "spearman", "Spearman's ρ", ALL_SCALES[1:], "symmetric", (-1.0, 1.0), 1.0,
        "Pearson correlation of the two raters' ranks (ties get their average rank). Measures "
        "whether the raters order the items alike, whatever their offset or spread: a judge "
        "that is always one point harsher still gets ρ = 1. Undefined when either rater gave "
        "every pairable item the same label, or with fewer than 2 pairable items.",
        pair=pair_metrics.spearman),
    MetricDefinition(
        "kendall_tau_b", "Kendall's τ-b", ("ordinal",), "symmetric", (-1.0, 1.0), 1.0,
        "τ_b = (P − Q) / √((n0 − n1)(n0 − n2)): concordant minus discordant item pairs, "
        "corrected for the many ties of a short ordinal scale (n0 = n(n−1)/2, n1 and n2 the "
        "pairs tied on each rater). Reads as the probability of ordering a pair of items alike "
        "minus that of ordering it oppositely. Undefined when either rater gave every pairable "
        "item the same label, or with fewer than 2 pairable items.",
        pair=pair_metrics.kendall_tau_b),
    MetricDefinition(
        "mae", "Mean absolute difference", ALL_SCALES[1:], "symmetric", (0.0, math.inf), 0.0,
        "MAE = mean |a − b| over the pairable items, in label steps (ordinal) or score units "
        "(interval); 0 is perfect agreement. Tells how far apart the raters are, in the "
        "scale's own units, which no correlation does. Undefined with fewer than 2 pairable "
        "items.",
        pair=pair_metrics.mae, needs_variation=False),
    MetricDefinition(
        "mean_signed_difference", "Mean signed difference (bias)", ("interval",), "antisymmetric",
        (-math.inf, math.inf), 0.0,
        "Bias = mean (b − a) over the pairable items: positive when rater b scores higher than "
        "rater a (b is more lenient), negative when harsher; exchanging the raters flips the "
        "sign. A judge can correlate perfectly with the humans and still be biased. Undefined "
        "with fewer than 2 pairable items.",
        pair=pair_metrics.mean_signed_difference, needs_variation=False),
    MetricDefinition(
        "fleiss_kappa", "Fleiss' κ", ALL_SCALES[:2], "symmetric", (-math.inf, 1.0), 1.0,
        "Multi-rater κ = (p_a − p_e) / (1 − p_e): p_a is the share of agreeing rater pairs "
        "within an item, averaged over items with two or more labels; p_e = Σ_k π_k² with π_k "
        "the label shares averaged over items. Items may have different numbers of raters "
        "(Gwet 2014's generalisation; with equal numbers it is exactly Fleiss 1971); an item "
        "rated once counts toward π_k only, so with many such items the value can fall below "
        "−1. Undefined when every label in the group is the same, or with fewer than 2 items "
        "having two or more labels.",
        group=group_metrics.fleiss_kappa),
    MetricDefinition(
        "krippendorff_alpha", "Krippendorff's α", ALL_SCALES, "symmetric", (-1.0, 1.0), 1.0,
        "α = 1 − D_o / D_e: observed disagreement within items over the disagreement expected "
        "from all pairable labels pooled, with the difference function of the scale (nominal: "
        "0/1; ordinal: rank distance through the label totals; interval: squared difference). "
        "Handles any number of raters and missing labels (items with fewer than two labels "
        "are left out) and is comparable across scales. Undefined when all pairable labels "
        "are the same (D_e = 0), or with fewer than 2 pairable items.",
        pair=pair_metrics.krippendorff_alpha, group=group_metrics.group_alpha),
)

REGISTRY: dict[str, MetricDefinition] = {d.name: d for d in _DEFINITIONS}

# Batch ranking (core.metrics.batch_ranking): a rater orders each item's responses, and two
# raters are compared item by item, then averaged over the items both ranked. Two names are
# those of label-scale metrics above (kendall_tau_b, spearman) with a per-item meaning here,
# so these definitions stand apart; they have no PairSample function (ranking_agreement
# computes all four at once).
_RANKING_DEFINITIONS = (
    MetricDefinition(
        "kendall_tau_b", "Kendall's τ-b", ("ranking",), "symmetric", (-1.0, 1.0), 1.0,
        "Per item, τ = (C − D) / (n(n − 1)/2) over the n responses' pairs: concordant minus "
        "discordant pairs of responses between the two orders (an order has no ties, so τ-b "
        "equals τ-a), then the mean over the items both raters ranked. 1 = the same order on "
        "every item, −1 = always reversed, 0 = no relation. The headline for rankings: it "
        "counts every pair of responses, not only the best one. Undefined when no item was "
        "ranked by both raters.", needs_variation=False),
    MetricDefinition(
        "spearman", "Spearman's ρ", ("ranking",), "symmetric", (-1.0, 1.0), 1.0,
        "Per item, ρ = 1 − 6 Σ d² / (n (n² − 1)) with d each response's difference in rank "
        "between the two orders, then the mean over the items both raters ranked. Like τ but "
        "weighs a response moved far more than several small swaps. Undefined when no item "
        "was ranked by both raters.", needs_variation=False),
    MetricDefinition(
        "top1_agreement", "Top-1 agreement", ("ranking",), "symmetric", (0.0, 1.0), 1.0,
        "Share of the items both raters ranked on which both put the same response first: "
        "mean of [a₁ = b₁]. The plainest reading (does the judge pick the humans' best "
        "response?), blind to the rest of the order. Undefined when no item was ranked by "
        "both raters.", needs_variation=False),
    MetricDefinition(
        "normalized_levenshtein", "Normalised Levenshtein distance", ("ranking",), "symmetric",
        (0.0, 1.0), 0.0,
        "Per item, the fewest insertions, deletions and substitutions turning one order, read "
        "as a sequence of response numbers, into the other, divided by n = the number of "
        "responses; then the mean over the items both raters ranked. 0 = the same order; lower "
        "is better (a distance). The figure the MLLM-as-a-Judge benchmark reports for batch "
        "ranking. Undefined when no item was ranked by both raters.", needs_variation=False),
)
RANKING_REGISTRY: dict[str, MetricDefinition] = {d.name: d for d in _RANKING_DEFINITIONS}

# The metric a judge is scored by against the human consensus, per scale: the dashboard's
# headline and the prompt lab's comparison of prompt versions.
MAIN_METRIC = {"nominal": "cohen_kappa", "ordinal": "kappa_quadratic", "interval": "krippendorff_alpha",
               "ranking": "kendall_tau_b"}


def pair_metrics_for(scale: str) -> list[MetricDefinition]:
    """The pair metrics that apply to a scale, in registry (= output) order."""
    return [d for d in REGISTRY.values() if d.pair is not None and scale in d.scales]


def group_metrics_for(scale: str) -> list[MetricDefinition]:
    """The group metrics that apply to a scale, in registry (= output) order."""
    return [d for d in REGISTRY.values() if d.group is not None and scale in d.scales]


def metric_names_for(scale: str) -> list[str]:
    """The names of the pair metrics every rater pair carries on ``scale``, in output order:
    the registry's (:func:`pair_metrics_for`), or the four ranking metrics of
    :data:`RANKING_REGISTRY` on a ranking scale."""
    if scale == "ranking":
        return list(RANKING_REGISTRY)
    return [d.name for d in pair_metrics_for(scale)]


def metric_definition(metric: str, scale: str | None = None) -> MetricDefinition:
    """The definition of ``metric`` as it is computed on ``scale``: a ranking scale's own
    (:data:`RANKING_REGISTRY`), else the registry's; with no scale, the registry's if it has
    the name, else the ranking one (the title and bounds agree where both have a name).
    Raises KeyError naming an unknown metric."""
    if scale == "ranking" and metric in RANKING_REGISTRY:
        return RANKING_REGISTRY[metric]
    found = REGISTRY.get(metric) or (RANKING_REGISTRY.get(metric) if scale is None else None)
    if found is None:
        raise KeyError(f"unknown metric {metric!r} for scale {scale or 'any'}")
    return found
