"""The whole comparison of one dimension: every rater, every pair, the groups, bias, rankings.

:func:`compare_dimension` is what the CLI prints as JSON and what the dashboard shows. Raters
are each human annotator, the human consensus, each judge and each jury; pairs are all
unordered pairs in that order (``a`` before ``b``, so a judge is always ``b`` against a human
and the mean signed difference reads as the judge's bias). Items a rater did not label are
left out pairwise, never imputed. Bootstrap resamples are drawn per pair and group from
``numpy.random.default_rng([seed, index])``, so a pair's interval does not depend on which
other raters are present.

A ranking dimension (an order of each item's responses, :mod:`core.metrics.batch_ranking`)
has its own pair metrics (:func:`ranking_pairs`: mean per-item Kendall τ-b and Spearman ρ,
top-1 agreement, normalised Levenshtein distance) and a Borda consensus, and no juries; the
label-scale parts (groups, confusion matrices, bias, model ranking, preference,
self-consistency) are empty or None for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np

from core.metrics.agreement import check_bootstrap, confusion_matrix, group_agreement, pair_agreement
from core.metrics.batch_ranking import agreement_of_codes
from core.metrics.bias import bias_report
from core.metrics.comparison import (
    AggregateInfo,
    Comparison,
    GroupComparison,
    JuryInfo,
    PairComparison,
    PreferenceReport,
    SwappedConsistency,
    VerdictCount,
)
from core.metrics.consensus import Aggregate, Jury, as_jury, human_consensus, jury_verdict
from core.metrics.consistency import consistency_report
from core.metrics.ranking import ranking_report
from core.metrics.ratings import CONSENSUS, HUMAN, JUDGE, JURY, MetricsInputError, Ratings
from core.metrics.results import MetricResult
from core.metrics.samples import PairSample, group_sample, pair_sample, pair_sample_from_table, pair_tables
from core.metrics.views import align_swapped, binarize, is_preference, swapped_pairs
from core.rank_order import RankingError

JURY_NAME_CHARS = 100


def _aggregate_info(aggregate: Aggregate) -> AggregateInfo:
    return AggregateInfo(aggregate.method, aggregate.items, aggregate.ties)


Juries = Mapping[str, Sequence[str] | Jury]


def binarized_juries(juries: Juries) -> dict[str, Jury]:
    """The juries for a binarised view: each takes the majority of its members' binarised
    labels, whatever its rule on the full scale (a median or mean of two labels is no label)."""
    return {name: Jury(as_jury(jury).members) for name, jury in juries.items()}


def with_derived_raters(ratings: Ratings, juries: Juries
                        ) -> tuple[Ratings, AggregateInfo | None, list[JuryInfo]]:
    """Ratings in output order (humans, ``human:consensus``, judges, juries) and the consensus
    and jury descriptions (method, items with a value, tied items).

    Raises :class:`MetricsInputError` for a bad jury name or membership.
    """
    humans, judges = ratings.of_kind(HUMAN), ratings.of_kind(JUDGE)
    derived: dict[str, np.ndarray] = {}
    consensus_info = None
    if humans:
        consensus = human_consensus(ratings)
        derived[CONSENSUS] = consensus.values
        consensus_info = _aggregate_info(consensus)
    jury_info = []
    for jury, given in juries.items():
        if not jury or len(jury) > JURY_NAME_CHARS or ":" in jury:
            raise MetricsInputError(f"jury name {jury!r} must have 1 to {JURY_NAME_CHARS} "
                                    "characters and no ':'")
        members = as_jury(given)
        try:
            members.method(ratings.dimension.scale)
        except MetricsInputError as exc:
            raise MetricsInputError(f"jury {jury!r}: {exc}") from None
        verdict = jury_verdict(ratings, members)
        derived[f"{JURY}:{jury}"] = verdict.values
        jury_info.append(JuryInfo(f"{JURY}:{jury}",
                                  tuple(m.removeprefix(f"{JUDGE}:") for m in members.members),
                                  _aggregate_info(verdict)))
    juries_named = [name for name in derived if name != CONSENSUS]
    order = [*humans, *([CONSENSUS] if humans else []), *judges, *juries_named]
    columns = {name: ratings.values[:, i] for i, name in enumerate(ratings.raters)} | derived
    values = np.column_stack([columns[name] for name in order]) if order else ratings.values
    failed = {name: ratings.unparseable[:, i] for i, name in enumerate(ratings.raters)}
    none = np.zeros(len(ratings.item_ids), dtype=bool)
    unparseable = (np.column_stack([failed.get(name, none) for name in order]) if order
                   else ratings.unparseable)
    ordered = Ratings(ratings.dimension, tuple(order), values, ratings.item_ids, ratings.models,
                      ratings.groups, unparseable)
    return ordered, consensus_info, jury_info


def pair_samples(ratings: Ratings) -> dict[tuple[int, int], PairSample]:
    """The sample of every rater pair (i < j, positions in ``ratings.raters``)."""
    scale, k = ratings.dimension.scale, ratings.n_labels
    pairs = list(combinations(range(len(ratings.raters)), 2))
    if scale == "interval":
        return {(i, j): pair_sample(ratings.values[:, i], ratings.values[:, j], scale, k)
                for i, j in pairs}
    tables = pair_tables(ratings.codes, k)
    return {(i, j): pair_sample_from_table(tables[i, j], scale) for i, j in pairs}


def compare_pairs(ratings: Ratings, samples: Mapping[tuple[int, int], PairSample] | None = None, *,
                  n_resamples: int = 0, seed: int = 0, confidence: float = 0.95
                  ) -> list[PairComparison]:
    """One entry per unordered rater pair: ``a``, ``b``, ``n``, every applicable metric,
    ``ci95``, ``undefined`` and (nominal/ordinal) the ``confusion_matrix``. ``samples`` are
    the pairs' samples when already built (keyed by rater positions, i < j)."""
    labels = ratings.dimension.label_values
    entries = []
    samples = samples if samples is not None else pair_samples(ratings)
    for index, ((i, j), sample) in enumerate(samples.items()):
        a, b = ratings.raters[i], ratings.raters[j]
        results = pair_agreement(sample, names=(a, b), labels=labels, n_resamples=n_resamples,
                                 rng=np.random.default_rng([seed, index]), confidence=confidence)
        matrix = (confusion_matrix(sample, labels) if ratings.dimension.scale != "interval"
                  else None)
        entries.append(PairComparison(results, a=a, b=b, n=round(sample.n[0]),
                                      confusion_matrix=matrix))
    return entries


def ranking_pairs(ratings: Ratings, *, n_resamples: int = 0, seed: int = 0,
                  confidence: float = 0.95) -> list[PairComparison]:
    """One entry per unordered rater pair of a ranking dimension, as :func:`compare_pairs`:
    ``a``, ``b``, ``n`` (items both ranked) and the four ranking metrics
    (:data:`~core.metrics.batch_ranking.RANKING_METRICS`, each with its CI), no confusion
    matrix. Pair ``index`` draws from ``default_rng([seed, index])`` like every other pair.
    Raises :class:`MetricsInputError` naming the pair when two orders of one item rank
    different numbers of responses."""
    entries = []
    for index, (i, j) in enumerate(combinations(range(len(ratings.raters)), 2)):
        a, b = ratings.raters[i], ratings.raters[j]
        try:
            found = agreement_of_codes(ratings.values[:, i], ratings.values[:, j],
                                       n_resamples=n_resamples, confidence=confidence,
                                       rng=np.random.default_rng([seed, index]))
        except RankingError as exc:
            raise MetricsInputError(f"{a} and {b}: {exc}") from None
        entries.append(PairComparison(found.results(), a=a, b=b, n=found.kendall_tau_b.n))
    return entries


def compare_groups(ratings: Ratings, *, n_resamples: int = 0, seed: int = 0,
                   confidence: float = 0.95) -> list[GroupComparison]:
    """Fleiss' κ (nominal/ordinal) and Krippendorff's α at the dimension's level for the
    groups "humans" (two or more annotators) and "humans+judges" (at least one of each); none
    on a ranking dimension (its human–human agreement is the annotator pairs')."""
    humans, judges = ratings.of_kind(HUMAN), ratings.of_kind(JUDGE)
    humans = tuple(h for h in humans if h != CONSENSUS)
    groups: list[tuple[str, tuple[str, ...]]] = []
    if ratings.dimension.is_ranking:  # Fleiss' κ and α are defined on labels, not orders
        return []
    if len(humans) >= 2:
        groups.append(("humans", humans))
    if humans and judges:
        groups.append(("humans+judges", (*humans, *judges)))
    entries = []
    scale = ratings.dimension.scale
    for index, (name, members) in enumerate(groups):
        columns = [ratings.raters.index(m) for m in members]
        source = ratings.values if scale == "interval" else ratings.codes
        sample = group_sample(source[:, columns], scale, ratings.n_labels)
        results = group_agreement(sample, labels=ratings.dimension.label_values,
                                  n_resamples=n_resamples,
                                  rng=np.random.default_rng([seed, 1_000_000 + index]),
                                  confidence=confidence)
        entries.append(GroupComparison(results, name=name, raters=tuple(members),
                                       alpha_level=scale, n=next(iter(results.values())).n))
    return entries


def preference_report(ratings: Ratings, pairs: Sequence[PairComparison]
                      ) -> PreferenceReport | None:
    """For a pairwise-preference dimension: each judge's and jury's accuracy against the human
    consensus, and each judge's position consistency with its ``@swapped`` run (both are the
    percent agreement of that pair, with its CI, over the pair's items); None for other
    dimensions."""
    if not is_preference(ratings.dimension):
        return None
    by_pair = {(p.a, p.b): p for p in pairs}

    def agreement_of(a: str, b: str) -> MetricResult:
        pair = by_pair[(a, b)]
        metric = "percent_agreement"
        return MetricResult(pair.value(metric), pair.n, pair.undefined(metric), pair.ci95(metric))

    scored = [*ratings.of_kind(JUDGE), *ratings.of_kind(JURY)]
    accuracy = ({rater: agreement_of(CONSENSUS, rater) for rater in scored}
                if CONSENSUS in ratings.raters else {})
    consistency = {judge: SwappedConsistency(swapped, agreement_of(judge, swapped))
                   for judge, swapped in swapped_pairs(ratings)}
    return PreferenceReport(accuracy, consistency)


def compare_dimension(ratings: Ratings, *, juries: Juries | None = None,
                      binarize_at: str | None = None, n_resamples: int = 0, seed: int = 0,
                      confidence: float = 0.95,
                      samples: Mapping[str, np.ndarray] | None = None) -> Comparison:
    """Compare every rater of one dimension; returns a :class:`~core.metrics.comparison.
    Comparison` (``to_dict()``: the JSON document of ``cli.py metrics``).

    Fields: ``dimension``, ``scale`` (``nominal`` after binarising), ``binarized_at``,
    ``raters``, ``pairs``, ``groups``, ``labels``, ``consensus`` (method, items, ties),
    ``juries``, ``bias``, ``ranking`` (None without models), ``preference`` (None unless
    A/B preference), ``verdicts`` (per judge: ``parsed`` and ``unparseable`` verdicts; the
    metrics use the parsed ones only), ``self_consistency`` (per judge in ``samples``, its
    items x K samples in ``ratings``' item order: :class:`~core.metrics.consistency.
    SelfConsistency`; empty without samples or on a ranking dimension). ``juries`` maps a
    jury name to its judges or to a :class:`~core.metrics.consensus.Jury` with its rule (a
    binarised view: majority, see :func:`binarized_juries`). Raises :class:`MetricsInputError`
    for a bad jury, binarising threshold or bootstrap setting.
    """
    check_bootstrap(n_resamples, confidence)
    dimension_name = ratings.dimension.name
    consistency = consistency_report(samples or {}, ratings.dimension,
                                     raters=ratings.of_kind(JUDGE), binarize_at=binarize_at,
                                     n_resamples=n_resamples, seed=seed, confidence=confidence)
    if binarize_at is not None:
        ratings = binarize(ratings, binarize_at)
        juries = binarized_juries(juries or {})
        binarize_at = ratings.dimension.labels[0].value.removeprefix(">=")
    ratings = align_swapped(ratings)
    ratings, consensus, jury_info = with_derived_raters(ratings, juries or {})
    if ratings.dimension.is_ranking:
        return Comparison(
            dimension=dimension_name, scale="ranking", binarized_at=None,
            raters=tuple(ratings.raters),
            pairs=tuple(ranking_pairs(ratings, n_resamples=n_resamples, seed=seed,
                                      confidence=confidence)),
            groups=(), labels=(), consensus=consensus, juries=tuple(jury_info),
            verdicts=verdict_counts(ratings))
    samples = pair_samples(ratings)
    pairs = compare_pairs(ratings, samples, n_resamples=n_resamples, seed=seed,
                          confidence=confidence)
    scored = [*ratings.of_kind(JUDGE), *ratings.of_kind(JURY)]
    has_consensus = CONSENSUS in ratings.raters
    if has_consensus:
        reference = ratings.raters.index(CONSENSUS)
        against = {rater: samples[(reference, ratings.raters.index(rater))] for rater in scored}
    return Comparison(
        dimension=dimension_name,
        scale=ratings.dimension.scale,
        binarized_at=binarize_at,
        raters=tuple(ratings.raters),
        pairs=tuple(pairs),
        groups=tuple(compare_groups(ratings, n_resamples=n_resamples, seed=seed,
                                    confidence=confidence)),
        labels=tuple(ratings.dimension.label_values),
        consensus=consensus,
        juries=tuple(jury_info),
        bias=bias_report(ratings, against, CONSENSUS) if has_consensus else None,
        ranking=ranking_report(ratings, scored, CONSENSUS) if has_consensus else None,
        preference=preference_report(ratings, pairs),
        verdicts=verdict_counts(ratings),
        self_consistency=tuple(consistency),
    )


def verdict_counts(ratings: Ratings) -> tuple[VerdictCount, ...]:
    """Per judge (in matrix order): its parsed labels and its unparseable outputs (left out
    of every metric)."""
    return tuple(VerdictCount(rater, int((~np.isnan(ratings.column(rater))).sum()),
                              ratings.unparseable_count(rater))
                 for rater in ratings.of_kind(JUDGE))
