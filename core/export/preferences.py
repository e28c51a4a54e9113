"""Preference pairs from gold rows, in the ``{"prompt", "chosen", "rejected"}`` layout of TRL's
DPO trainer, with metadata columns beside them.

Three sources, picked from the task schema:

* ``pairwise`` — a nominal dimension with labels ``A`` and ``B`` (and usually ``tie``) over
  fields ``response_a``/``response_b``: the gold preference is chosen, the other response
  rejected; ties and undecided items give no pair.
* ``reference`` — a task with gold reference answers and a nominal first dimension
  (correctness): where the gold label of that dimension is the scale's last label
  (``incorrect``), the gold reference answer is chosen and the response the humans rejected
  is rejected; without a gold reference answer the item's own ``reference`` field is used
  (``chosen_source`` says which).
* ``rating`` — an ordinal or interval dimension: responses to the same prompt (same text)
  are paired when their gold scores differ by at least ``margin``; the higher is chosen.
  This one groups by prompt, so it keeps each rated response's text in memory once.
* ``ranking`` — a ranking dimension over a list of text responses: from the gold order of
  each item, every implied pair (``pairs="all"``: n(n−1)/2 for n responses) or only the
  neighbours in the order (``pairs="adjacent"``: n−1); the better-ranked response is chosen.
  ``id`` is ``<item>:<chosen>><rejected>`` (1-based response positions, as in the label),
  ``chosen_label``/``rejected_label`` the two responses' ranks in the gold order (``"1"`` =
  best). Image responses have no text for DPO's columns: the export is refused (the gold
  export carries the images and the order).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import combinations, pairwise
from typing import Any

from core.export.writers import Column, ExportError
from core.schema import TaskSchema

SOURCES = ("pairwise", "reference", "rating", "ranking")
PAIRS = ("all", "adjacent")
PREFERENCE_COLUMNS = [Column("prompt"), Column("chosen"), Column("rejected"), Column("id"),
                      Column("source"), Column("dimension"), Column("chosen_label"),
                      Column("rejected_label"), Column("method"), Column("chosen_id"),
                      Column("rejected_id"), Column("chosen_model"), Column("rejected_model"),
                      Column("chosen_source")]


@dataclass
class PairStats:
    """What a preference export left out, by reason (for the summary line and metadata)."""

    pairs: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        """Count one item (or group) left out for ``reason``."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def preference_source(schema: TaskSchema, dimension: str | None = None) -> tuple[str, str]:
    """Return ``(source, dimension)``: which pairing rule applies to ``schema``.

    ``dimension`` picks the dimension (default: the first that fits). Raises
    :class:`ExportError` when the schema has nothing to build pairs from.
    """
    candidates = [schema.dimension(dimension)] if dimension else list(schema.dimensions)
    fields = set(schema.field_names)
    for dim in candidates:
        values = set(dim.label_values) if dim.scale != "interval" else set()
        if {"A", "B"} <= values and {"response_a", "response_b"} <= fields:
            return "pairwise", dim.name
    for dim in candidates:
        if dim.is_ranking:
            return "ranking", dim.name
    # The reference rule reads the first dimension's last label as "the response is wrong":
    # a nominal verdict (correct / incorrect). A rated first dimension (exam questions, whose
    # gold reference corrects the answer) pairs by its ratings instead.
    if schema.gold_reference and schema.dimensions and "response" in fields and \
            schema.dimensions[0].scale == "nominal" and (
            dimension is None or dimension == schema.dimensions[0].name):
        return "reference", schema.dimensions[0].name
    for dim in candidates:
        if dim.scale in ("ordinal", "interval") and "response" in fields:
            return "rating", dim.name
    raise ExportError(
        f"task {schema.name!r} has no dimension to build preference pairs from: needs A/B "
        "labels over response_a/response_b, a gold reference answer, or an ordinal or "
        "interval rating of a response")


def _prompt(row: Mapping[str, Any]) -> str:
    """The prompt of a pair: the item's ``prompt``, else its ``source`` (several source
    texts joined by blank lines)."""
    value = row.get("prompt") or row.get("source") or ""
    return "\n\n".join(value) if isinstance(value, list) else value


def pair_models(metadata: Any) -> tuple[str | None, str | None]:
    """``(model_a, model_b)`` of a pairwise item from its metadata (a dict or its JSON
    text, as the gold rows carry it); None where absent."""
    if isinstance(metadata, str | bytes):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None, None
    if not isinstance(metadata, dict):
        return None, None
    found = (metadata.get("model_a"), metadata.get("model_b"))
    return tuple(None if value in (None, "") else str(value) for value in found)  # type: ignore[return-value]


def pairwise_pairs(rows: Iterable[Mapping[str, Any]], dimension: str, stats: PairStats
                   ) -> Iterator[dict[str, Any]]:
    """Pairs from a pairwise task's gold rows: chosen = the preferred response; the item's
    ``model_a``/``model_b`` become ``chosen_model``/``rejected_model``."""
    for row in rows:
        label = row.get(f"gold_{dimension}")
        if label not in ("A", "B"):
            stats.skip("ties" if label is not None else f"without gold {dimension}")
            continue
        chosen, rejected = ("response_a", "response_b") if label == "A" else ("response_b",
                                                                              "response_a")
        models = pair_models(row.get("metadata"))
        chosen_model, rejected_model = models if label == "A" else models[::-1]
        stats.pairs += 1
        yield {"prompt": _prompt(row), "chosen": row.get(chosen) or "",
               "rejected": row.get(rejected) or "", "id": row["id"], "source": "pairwise",
               "dimension": dimension, "chosen_label": label, "rejected_label": None,
               "method": row.get(f"gold_{dimension}_method"), "chosen_id": row["id"],
               "rejected_id": row["id"], "chosen_model": chosen_model,
               "rejected_model": rejected_model, "chosen_source": chosen}


def reference_pairs(rows: Iterable[Mapping[str, Any]], schema: TaskSchema, stats: PairStats
                    ) -> Iterator[dict[str, Any]]:
    """Pairs from a gold-reference task: chosen = the gold (or item) reference answer,
    rejected = the response the gold label calls wrong (the scale's last label)."""
    dimension = schema.dimensions[0]
    wrong = dimension.label_values[-1]
    for row in rows:
        label = row.get(f"gold_{dimension.name}")
        if label != wrong:
            stats.skip(f"without gold {dimension.name}" if label is None
                       else "responses not rejected")
            continue
        reference, source = row.get("gold_reference_answer"), "gold_reference_answer"
        if not reference:
            reference, source = row.get("reference"), "reference"
        response = row.get("response")
        if not reference or not response:
            stats.skip("without a reference answer" if not reference else "without a response")
            continue
        if reference.strip() == response.strip():
            stats.skip("reference equal to the response")
            continue
        stats.pairs += 1
        yield {"prompt": _prompt(row), "chosen": reference, "rejected": response,
               "id": row["id"], "source": "reference", "dimension": dimension.name,
               "chosen_label": None, "rejected_label": label,
               "method": row.get(f"gold_{dimension.name}_method"), "chosen_id": row["id"],
               "rejected_id": row["id"], "chosen_model": None, "rejected_model": row.get("model"),
               "chosen_source": source}


def rating_pairs(rows: Iterable[Mapping[str, Any]], schema: TaskSchema, dimension: str,
                 stats: PairStats, *, margin: float = 1.0) -> Iterator[dict[str, Any]]:
    """Pairs of responses to the same prompt whose gold scores differ by ``margin`` or more;
    the higher-rated response is chosen. Items are paired in their export order."""
    dim = schema.dimension(dimension)
    if margin <= 0:
        raise ExportError(f"the rating margin must be positive, got {margin}")
    by_prompt: dict[str, list[tuple[float, Mapping[str, Any]]]] = defaultdict(list)
    for row in rows:
        label = row.get(f"gold_{dimension}")
        if label is None or not row.get("response"):
            stats.skip(f"without gold {dimension}" if label is None else "without a response")
            continue
        score = float(label) if dim.scale == "interval" else float(dim.rank(label))
        by_prompt[_prompt(row)].append((score, {key: row.get(key) for key in (
            "id", "response", "model", f"gold_{dimension}", f"gold_{dimension}_method")}))
    for prompt, rated in by_prompt.items():
        if len(rated) < 2:
            stats.skip("prompts with one rated response")
            continue
        for i, (score_i, first) in enumerate(rated):
            for score_j, second in rated[i + 1:]:
                if abs(score_i - score_j) < margin:
                    continue
                high, low = (first, second) if score_i > score_j else (second, first)
                stats.pairs += 1
                yield {"prompt": prompt, "chosen": high["response"], "rejected": low["response"],
                       "id": f"{high['id']}>{low['id']}", "source": "rating",
                       "dimension": dimension, "chosen_label": high[f"gold_{dimension}"],
                       "rejected_label": low[f"gold_{dimension}"],
                       "method": _joint_method(high, low, dimension), "chosen_id": high["id"],
                       "rejected_id": low["id"], "chosen_model": high.get("model"),
                       "rejected_model": low.get("model"), "chosen_source": "response"}


def ranking_pairs(rows: Iterable[Mapping[str, Any]], schema: TaskSchema, dimension: str,
                  stats: PairStats, *, pairs: str = "all") -> Iterator[dict[str, Any]]:
    """Pairs of one item's responses from its gold order on ranking ``dimension``: every pair
    (``pairs="all"``) or each response with the next one down (``"adjacent"``); the better
    ranked is chosen. Raises :class:`ExportError` when the ranked field holds images."""
    dim = schema.dimension(dimension)
    over = dim.over or ""
    if any(spec.name == over and spec.is_image for spec in schema.fields):
        raise ExportError(
            f"preference pairs are text (TRL's prompt/chosen/rejected), but {over!r} holds "
            f"images: export gold instead (the order of {dimension!r} and the images)")
    if pairs not in PAIRS:
        raise ExportError(f"unknown pairs {pairs!r} (pairs: {', '.join(PAIRS)})")
    return _ranked_pairs(rows, dimension, over, stats, pairs)


def _ranked_pairs(rows: Iterable[Mapping[str, Any]], dimension: str, over: str,
                  stats: PairStats, pairs: str) -> Iterator[dict[str, Any]]:
    for row in rows:
        order = row.get(f"gold_{dimension}")
        responses = row.get(over)
        if order is None:
            stats.skip(f"without gold {dimension}")
            continue
        if not isinstance(responses, list) or len(responses) != len(order):
            stats.skip(f"{over} not matching the gold order")
            continue
        ranked = list(enumerate(order, start=1))
        chosen_rejected = combinations(ranked, 2) if pairs == "all" else pairwise(ranked)
        method = row.get(f"gold_{dimension}_method")
        prompt = _prompt(row)
        for (chosen_rank, chosen), (rejected_rank, rejected) in chosen_rejected:
            stats.pairs += 1
            yield {"prompt": prompt, "chosen": responses[chosen - 1],
                   "rejected": responses[rejected - 1], "id": f"{row['id']}:{chosen}>{rejected}",
                   "source": "ranking", "dimension": dimension, "chosen_label": str(chosen_rank),
                   "rejected_label": str(rejected_rank), "method": method,
                   "chosen_id": row["id"], "rejected_id": row["id"],
                   "chosen_model": None, "rejected_model": None,
                   "chosen_source": f"{over}[{chosen}]"}


def _joint_method(high: Mapping[str, Any], low: Mapping[str, Any], dimension: str) -> str:
    methods = {high.get(f"gold_{dimension}_method"), low.get(f"gold_{dimension}_method")}
    return "/".join(sorted(m for m in methods if m))


def preference_pairs(rows: Iterable[Mapping[str, Any]], schema: TaskSchema, stats: PairStats, *,
                     dimension: str | None = None, margin: float = 1.0, pairs: str = "all"
                     ) -> Iterator[dict[str, Any]]:
    """Preference pairs from gold rows (as :func:`core.export.gold.gold_row` makes them),
    by the rule :func:`preference_source` picks; ``stats`` counts pairs and skipped items.
    ``pairs`` (:data:`PAIRS`) applies to rankings only.

    Raises :class:`ExportError` when the schema has nothing to pair, for ``pairs`` other than
    ``all`` on a task that is not ranked, and for ranked image responses.
    """
    source, name = preference_source(schema, dimension)
    if source == "ranking":
        return ranking_pairs(rows, schema, name, stats, pairs=pairs)
    if pairs != "all":
        raise ExportError(f"pairs={pairs!r} applies to ranking dimensions; task "
                          f"{schema.name!r} pairs by {source}")
    if source == "pairwise":
        return pairwise_pairs(rows, name, stats)
    if source == "reference":
        return reference_pairs(rows, schema, stats)
    return rating_pairs(rows, schema, name, stats, margin=margin)
