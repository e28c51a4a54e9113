"""What the dashboard's headline says, shaped from a comparison document (pure, no Streamlit).

The headline compares every judge and jury with the human consensus on the scale's main
metric (κ for nominal labels, quadratically weighted κ for ordinal scales, Krippendorff's α
for interval scores), next to a plain second metric (percent agreement; MAE for interval
scores; on a ranking dimension mean per-item Kendall τ-b beside top-1 agreement), and against
the human–human range: the same metric between every pair of annotators
who share enough items (:data:`DEFAULT_MIN_PAIR_ITEMS`, settable), with their CIs. A pair
below that overlap is left out of the range and listed: one newcomer with five shared items
must not stretch the range down and turn a weak judge green. A judge is called within or
below the human range only when its CI says so (:func:`compare_with_range`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pandas as pd

from core.metrics.batch_ranking import RANKING_METRICS
from core.metrics.comparison import (
    BiasReport,
    Comparison,
    PairComparison,
    SwappedConsistency,
    VerdictCount,
)
from core.metrics.consistency import SelfConsistency
from core.metrics.ratings import CONSENSUS, rater_kind
from core.metrics.registry import MAIN_METRIC, REGISTRY, metric_definition
from core.metrics.results import MetricResult
from core.safe_text import escape_markdown

SECOND_METRIC = {"nominal": "percent_agreement", "ordinal": "percent_agreement", "interval": "mae",
                 "ranking": "top1_agreement"}
PROPORTIONS = {"percent_agreement", "top1_agreement"}
# A ranking's headline choices: the normalised Levenshtein distance is lower-is-better, which
# the forest plot's "best first" and the range verdict do not read; it is in the tables.
RANKING_HEADLINES = tuple(m for m in RANKING_METRICS if m != "normalized_levenshtein")
RANKING_CAPTION = ("Kendall's τ-b is the headline for rankings: it counts every pair of "
                   "responses the two orders rank alike, not only the best one. Read it next "
                   "to top-1 agreement: a judge can pick the humans' best response yet order "
                   "the rest differently, or the reverse.")
OVERVIEW_METRIC = "value"  # the name of each dimension's main metric in the overview grid
# A pair of annotators sharing fewer items says little about how well humans agree (the
# bootstrap CI of κ on 5 items spans most of [-1, 1]); such pairs stay out of the range.
DEFAULT_MIN_PAIR_ITEMS = 20
MIN_PAIR_ITEMS_HELP = ("Items two annotators must both have labelled for their agreement to count "
                       "in the human range; pairs with fewer are left out and listed.")


@dataclass(frozen=True)
class MetricCell:
    """One metric of one rater pair: value or the reason it is undefined, n, CI."""

    value: float | None
    n: int
    ci95: tuple[float, float] | None = None
    reason: str | None = None


@dataclass(frozen=True)
class HeadlineRow:
    """A judge or jury against the human consensus; for a judge, how many of its verdicts
    did not parse to a label (``unparseable`` of ``verdicts``, left out of the metrics)."""

    rater: str
    main: MetricCell
    second: MetricCell | None
    unparseable: int = 0
    verdicts: int = 0


@dataclass(frozen=True)
class HumanPair:
    """Two annotators compared on the headline metric."""

    a: str
    b: str
    cell: MetricCell


@dataclass(frozen=True)
class Ceiling:
    """The humans among themselves: the range (``low``..``high``) and ``mean`` of the metric's
    point estimates over the annotator pairs in ``pairs`` (each with its CI).

    ``too_few`` are the pairs left out because they share fewer than ``min_items`` items.
    Without a range, ``mean``/``low``/``high`` are None and ``reason`` says why.
    """

    mean: float | None
    low: float | None
    high: float | None
    pairs: tuple[HumanPair, ...] = ()
    too_few: tuple[HumanPair, ...] = ()
    min_items: int = DEFAULT_MIN_PAIR_ITEMS
    reason: str | None = None


class RangeVerdict(Enum):
    """How a judge compares with the human range, judged by its CI (the value's ``.value`` is
    the wording the dashboard and the report use)."""

    WITHIN = "within or above the human range"
    NOT_DISTINGUISHABLE = "not distinguishable from the human range"
    BELOW = "below the human range"
    NO_RANGE = "no human range to compare with"


def metrics_for(scale: str) -> list[str]:
    """The pair metrics of a scale, in registry order (the choices of the metric selector);
    on a ranking scale :data:`RANKING_HEADLINES`."""
    if scale == "ranking":
        return list(RANKING_HEADLINES)
    return [d.name for d in REGISTRY.values() if d.pair is not None and scale in d.scales]


def main_metric(scale: str, wanted: str | None = None) -> str:
    """``wanted`` if it applies to the scale, else the scale's main metric."""
    return wanted if wanted in metrics_for(scale) else MAIN_METRIC[scale]


def metric_title(metric: str) -> str:
    """The registry's title of a metric (e.g. "Cohen's κ", "Top-1 agreement")."""
    return metric_definition(metric).title


def metric_text(metric: str, scale: str) -> str:
    """The definition of ``metric`` as computed on ``scale`` (the dashboard's "What do the
    metrics mean?" text)."""
    return metric_definition(metric, scale).definition


def short_name(rater: str) -> str:
    """``judge:gpt-4o`` -> ``gpt-4o``; ``human:consensus`` -> ``human consensus``;
    ``jury:j`` -> ``jury j``; ``human:maria`` -> ``maria``."""
    kind, name = rater.split(":", 1)
    if rater == CONSENSUS:
        return "human consensus"
    return f"jury {name}" if kind == "jury" else name


def cell(entry: PairComparison, metric: str) -> MetricCell:
    """The metric of a pair entry (a comparison's ``pairs`` or a slice entry)."""
    return MetricCell(entry.value(metric), entry.n, entry.ci95(metric), entry.undefined(metric))


def find_pair(document: Comparison, a: str, b: str) -> PairComparison | None:
    """The pair entry of raters ``a`` and ``b`` (either order), or None."""
    return document.pair(a, b)


def scored_raters(document: Comparison) -> list[str]:
    """Judges and juries of the document, in its order."""
    return [r for r in document.raters if rater_kind(r) in ("judge", "jury")]


def human_raters(document: Comparison) -> list[str]:
    """Annotators of the document (not the consensus), in its order."""
    return [r for r in document.raters if rater_kind(r) == "human" and r != CONSENSUS]


def headline_rows(document: Comparison, metric: str, second: str | None) -> list[HeadlineRow]:
    """Every judge and jury against the consensus, best first; undefined values last (by
    name). Empty without a consensus (no human labels)."""
    counts = {entry.rater: entry for entry in document.verdicts}
    rows = []
    for rater in scored_raters(document):
        pair = find_pair(document, CONSENSUS, rater)
        if pair is None:
            continue
        count = counts.get(rater, VerdictCount(rater, 0, 0))
        rows.append(HeadlineRow(rater, cell(pair, metric),
                                cell(pair, second) if second and pair.has(second) else None,
                                count.unparseable, count.parsed + count.unparseable))
    defined = sorted((r for r in rows if r.main.value is not None),
                     key=lambda r: (-r.main.value, r.rater))  # type: ignore[operator]
    undefined = sorted((r for r in rows if r.main.value is None), key=lambda r: r.rater)
    return defined + undefined


def human_ceiling(document: Comparison, metric: str, *,
                  min_items: int = DEFAULT_MIN_PAIR_ITEMS) -> Ceiling:
    """The human–human range of ``metric``: low, high and mean of the point estimates of the
    annotator pairs that share at least ``min_items`` items and have a defined value.

    Pairs sharing fewer items are returned in ``too_few``. With fewer than two annotators,
    no qualifying pair, or the metric undefined for every qualifying pair, the range is None
    and ``reason`` says why. Raises ValueError if ``min_items`` is below 1.
    """
    if min_items < 1:
        raise ValueError(f"min_items must be at least 1, got {min_items}")
    humans = human_raters(document)
    if len(humans) < 2:
        return Ceiling(None, None, None, min_items=min_items,
                       reason="only one annotator labelled this dimension: there is no "
                              "human–human agreement to compare with")
    shared, too_few = [], []
    for pair in document.pairs:
        if pair.a in humans and pair.b in humans:
            entry = HumanPair(pair.a, pair.b, cell(pair, metric))
            (shared if entry.cell.n >= min_items else too_few).append(entry)
    defined = tuple(p for p in shared if p.cell.value is not None)
    if not defined:
        if shared:
            reason = f"undefined for every annotator pair: {shared[0].cell.reason or 'undefined'}"
        else:
            reason = (f"no pair of annotators shares at least {min_items} items "
                      f"({len(too_few)} pair(s) with fewer left out)")
        return Ceiling(None, None, None, (), tuple(too_few), min_items, reason)
    values = [p.cell.value for p in defined]
    return Ceiling(sum(values) / len(values), min(values), max(values),  # type: ignore[arg-type]
                   defined, tuple(too_few), min_items)


def compare_with_range(row: HeadlineRow, ceiling: Ceiling) -> RangeVerdict:
    """Whether a judge is within (or above) or below the human range, judged by its 95 % CI.

    Within: the CI's lower end reaches at least the lowest annotator pair. Below: the whole CI
    lies under the lowest pair. Otherwise (the CI straddles it, or there is no CI) the two are
    not distinguishable. NO_RANGE without a range or a defined value.
    """
    if ceiling.low is None or row.main.value is None:
        return RangeVerdict.NO_RANGE
    if row.main.ci95 is None:
        return RangeVerdict.NOT_DISTINGUISHABLE
    low, high = row.main.ci95
    if low >= ceiling.low:
        return RangeVerdict.WITHIN
    if high < ceiling.low:
        return RangeVerdict.BELOW
    return RangeVerdict.NOT_DISTINGUISHABLE


def left_out_note(ceiling: Ceiling) -> str:
    """Plain text naming the annotator pairs left out of the range for too few shared items
    (empty when there are none)."""
    if not ceiling.too_few:
        return ""
    names = ", ".join(f"{short_name(p.a)} × {short_name(p.b)} (n = {p.cell.n:,})"
                      for p in ceiling.too_few)
    return (f"Left out of the human range, too few shared items (fewer than "
            f"{ceiling.min_items:,}): {names}.")


def format_value(metric: str, value: float | None) -> str:
    """A value as shown: proportions as percentages, everything else with 3 decimals."""
    if value is None:
        return "undefined"
    return f"{100 * value:.1f} %" if metric in PROPORTIONS else f"{value:.3f}"


def format_interval(metric: str, interval: tuple[float, float] | None) -> str:
    """A CI as ``[low, high]`` in the metric's format; empty when there is none."""
    if interval is None:
        return ""
    if metric in PROPORTIONS:
        return f"[{100 * interval[0]:.1f}, {100 * interval[1]:.1f}] %"
    return f"[{interval[0]:.3f}, {interval[1]:.3f}]"


def headline_table(rows: Sequence[HeadlineRow], metric: str, second: str | None) -> pd.DataFrame:
    """The headline as a table: rater, value, 95 % CI, n, second metric and CI, why undefined;
    when a judge has unparseable verdicts, an ``unparseable`` column ("25 of 999")."""
    records = []
    for row in rows:
        record: dict[str, Any] = {
            "rater": short_name(row.rater),
            metric_title(metric): row.main.value,
            "95% CI": format_interval(metric, row.main.ci95),
            "n": row.main.n,
        }
        if second:
            value = None if row.second is None else row.second.value
            record[metric_title(second)] = (None if value is None else
                                           100 * value if second in PROPORTIONS else value)
            record[f"{metric_title(second)} 95% CI"] = format_interval(
                second, None if row.second is None else row.second.ci95)
        if any(r.unparseable for r in rows):
            record["unparseable"] = (f"{row.unparseable:,} of {row.verdicts:,}"
                                     if rater_kind(row.rater) == "judge" else "")
        reasons = [r for r in (row.main.reason, row.second.reason if row.second else None) if r]
        record["undefined because"] = "; ".join(dict.fromkeys(reasons))
        records.append(record)
    return pd.DataFrame.from_records(records)


def verdict_sentence(rows: Sequence[HeadlineRow], ceiling: Ceiling, metric: str) -> str:
    """One markdown sentence: which judge agrees best with the humans, and how that compares
    with the humans among themselves (the judge's name is escaped: it comes from a file)."""
    title = metric_title(metric)
    best = next((r for r in rows if r.main.value is not None), None)
    if best is None:
        if not rows:
            return "No judge can be compared yet: this dimension has no human labels."
        return f"No judge has a defined {title} against the human consensus (reasons in the table)."
    ci = format_interval(metric, best.main.ci95)
    text = (f"**{escape_markdown(short_name(best.rater))}** agrees best with the human consensus: {title} "
            f"**{format_value(metric, best.main.value)}** {ci} (n = {best.main.n:,}).")
    if ceiling.mean is None:
        return text + f" No human–human range: {escape_markdown(ceiling.reason)}."
    text += (f" Annotator pairs sharing at least {ceiling.min_items:,} items agree with each other "
             f"at {format_value(metric, ceiling.low)} to {format_value(metric, ceiling.high)} "
             f"(mean {format_value(metric, ceiling.mean)}, {len(ceiling.pairs)} pair(s)).")
    verdict = compare_with_range(best, ceiling)
    if verdict is RangeVerdict.WITHIN:
        text += " Its CI lies within or above the human range."
    elif verdict is RangeVerdict.BELOW:
        text += " Its whole CI lies below every annotator pair: treat its labels with care."
    elif best.main.ci95 is None:
        text += " Without a CI it cannot be told apart from the human range."
    else:
        text += (" Its CI reaches into the human range and below it: not distinguishable from "
                 "the humans yet (more labels narrow the CI).")
    note = left_out_note(ceiling)
    return text + (" " + escape_markdown(note) if note else "")


def ranking_pairs_table(document: Comparison) -> pd.DataFrame:
    """Every rater pair of a ranking dimension: ``rater a``, ``rater b``, ``n``, each of
    :data:`RANKING_METRICS` (top-1 agreement in percent) with its 95 % CI, and why a value is
    undefined."""
    records = []
    for pair in document.pairs:
        record: dict[str, Any] = {"rater a": short_name(pair.a), "rater b": short_name(pair.b),
                                  "n": pair.n}
        for metric in RANKING_METRICS:
            value = pair.value(metric)
            record[metric_title(metric)] = (None if value is None else
                                           100 * value if metric in PROPORTIONS else value)
            record[f"{metric_title(metric)} 95% CI"] = format_interval(metric, pair.ci95(metric))
        record["undefined because"] = "; ".join(dict.fromkeys(pair.reasons().values()))
        records.append(record)
    return pd.DataFrame.from_records(records)


def overview_entries(documents: Sequence[Comparison]) -> list[PairComparison]:
    """Per dimension and judge/jury, the dimension's main metric against the consensus, as
    grid entries: ``slice`` ("dimension · metric title"), ``a`` the consensus, ``b`` the
    rater, ``n`` and the metric's value (no CI) under the name :data:`OVERVIEW_METRIC`."""
    entries = []
    for document in documents:
        metric = MAIN_METRIC[document.scale]
        row = f"{document.dimension} · {metric_title(metric)}"
        for rater in scored_raters(document):
            pair = find_pair(document, CONSENSUS, rater)
            if pair is None:
                continue
            result = MetricResult(pair.value(metric), pair.n, pair.undefined(metric))
            entries.append(PairComparison({OVERVIEW_METRIC: result}, a=CONSENSUS, b=rater,
                                          n=pair.n, slice=row))
    return entries


BIAS_COLUMNS = {"positive_rate": "positive rate", "reference_positive_rate": "consensus's rate",
                "leniency": "leniency", "false_positive_rate": "false positive rate",
                "false_negative_rate": "false negative rate", "mean_difference": "mean difference"}


def bias_table(bias: BiasReport) -> pd.DataFrame:
    """Each judge's leniency against the consensus as a table (rates as proportions), with
    the reasons of undefined entries."""
    positive = bias.positive_label
    records = []
    for entry in bias.raters:
        record: dict[str, Any] = {"rater": short_name(entry.rater), "n": entry.n}
        reasons = []
        for key, title in BIAS_COLUMNS.items():
            if key in entry.measures:
                result = entry.measures[key]
                record[title] = result.value
                if result.undefined_reason:
                    reasons.append(result.undefined_reason)
        record["undefined because"] = "; ".join(dict.fromkeys(reasons))
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    if positive is not None:
        frame.attrs["positive_label"] = positive
    return frame


def consistency_table(consistency: Mapping[str, SwappedConsistency]) -> pd.DataFrame:
    """Position consistency per judge (share of items with the same verdict in both orders)."""
    records = [{"judge": short_name(judge), "swapped run": short_name(entry.swapped),
                "consistency": entry.result.value, "n": entry.result.n,
                "95% CI": format_interval("percent_agreement", entry.result.ci95)
                if entry.result.ci95 else "",
                "undefined because": entry.result.undefined_reason or ""}
               for judge, entry in consistency.items()]
    return pd.DataFrame.from_records(records)


def self_consistency_table(entries: Sequence[SelfConsistency]) -> pd.DataFrame:
    """Self-consistency per multi-sample judge: samples, items with two or more parsed
    samples, Fleiss' κ (label scales) and Krippendorff's α with their 95 % CIs, and why a
    value is undefined."""
    records = []
    for entry in entries:
        record: dict[str, Any] = {"judge": short_name(entry.rater), "samples": entry.samples,
                                  "items": entry.items}
        reasons = []
        for metric in ("fleiss_kappa", "krippendorff_alpha"):
            result = entry.results.get(metric)
            if result is None:
                continue
            title = metric_title(metric)
            record[title] = result.value
            record[f"{title} 95% CI"] = (format_interval(metric, result.ci95)
                                         if result.ci95 else "")
            if result.undefined_reason:
                reasons.append(f"{title}: {result.undefined_reason}")
        record["undefined because"] = "; ".join(reasons)
        records.append(record)
    return pd.DataFrame.from_records(records)
