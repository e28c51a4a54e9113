"""What the judge audit reads beside the labels: each item's response lengths and pairwise
models, and each judge's model family (read-only)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from core.audit import ItemFacts
from core.audit.strata import METADATA_PREFIX
from core.metrics.ratings import JUDGE, MetricsInputError, Ratings, rater_kind
from core.schema import Dimension
from storage.labels import Samples, load_ratings_and_samples
from storage.models import Item, Judge, JudgeDefinition, Verdict

LENGTH_FIELDS = ("response", "response_a", "response_b")
PAIR_MODEL_KEYS = ("model_a", "model_b")


@dataclass(frozen=True, eq=False)
class AuditInputs:
    """One dimension's labels, the items' facts (same item order), each judge's family
    (``judge:<name>`` -> family, None when the judge has no definition or no family) and
    each multi-sample judge's samples (``judge:<name>`` -> items x K, for self-consistency)."""

    ratings: Ratings
    facts: ItemFacts
    families: dict[str, str | None]
    samples: Samples


def _text_length(value: object) -> float | None:
    if isinstance(value, str):
        return float(len(value))
    if isinstance(value, list):
        return float(sum(len(part) for part in value if isinstance(part, str)))
    return None


def load_item_facts(*, session: Session, project_id: int, item_ids: Sequence[str]) -> ItemFacts:
    """The facts of the project's items in the order of ``item_ids`` (external ids, as
    :func:`storage.labels.load_ratings` returns them): lengths in characters of the
    ``response``/``response_a``/``response_b`` fields and ``model_a``/``model_b`` from the
    item metadata. Raises KeyError for an id the project does not have."""
    rows = session.execute(select(Item.external_id, Item.fields_json, Item.metadata_json)
                           .where(Item.project_id == project_id)).all()
    by_id = {external_id: (fields, metadata) for external_id, fields, metadata in rows}
    lengths: dict[str, list[float | None]] = {name: [] for name in LENGTH_FIELDS}
    models: dict[str, list[str | None]] = {key: [] for key in PAIR_MODEL_KEYS}
    for external_id in item_ids:
        fields_json, metadata_json = by_id[external_id]
        fields = json.loads(fields_json)
        for name in LENGTH_FIELDS:
            lengths[name].append(_text_length(fields.get(name)))
        metadata = json.loads(metadata_json) if metadata_json else {}
        for key in PAIR_MODEL_KEYS:
            value = metadata.get(key) if isinstance(metadata, dict) else None
            models[key].append(str(value) if value not in (None, "") else None)
    return ItemFacts.of(len(item_ids), length=lengths["response"],
                        length_a=lengths["response_a"], length_b=lengths["response_b"],
                        model_a=models["model_a"], model_b=models["model_b"])


def judge_families(*, session: Session, raters: Sequence[str]) -> dict[str, str | None]:
    """``judge:<name>`` -> the model family of its definition (``NAME@v2``/``@swapped`` runs
    belong to ``NAME``); None for an imported judge without a definition or family."""
    judges = [r for r in raters if rater_kind(r) == JUDGE]
    bases = {r: r.split(":", 1)[1].split("@", 1)[0] for r in judges}
    found = dict(session.execute(select(JudgeDefinition.name, JudgeDefinition.family)
                                 .where(JudgeDefinition.name.in_(set(bases.values())))).all())
    return {rater: (found.get(base) or None) for rater, base in bases.items()}


def load_audit_inputs(*, session: Session, project_id: int, dimension: Dimension
                      ) -> AuditInputs:
    """Labels, item facts and judge families of one dimension of a project.

    Raises :class:`~core.metrics.MetricsInputError` when a stored label is off the scale.
    """
    ratings, samples = load_ratings_and_samples(session=session, project_id=project_id,
                                                dimension=dimension)
    facts = load_item_facts(session=session, project_id=project_id,
                            item_ids=[str(i) for i in ratings.item_ids])
    return AuditInputs(ratings, facts, judge_families(session=session, raters=ratings.raters),
                       samples)


def item_key_values(*, session: Session, project_id: int, item_ids: Sequence[str], key: str
                    ) -> list[str | None]:
    """Each item's value of ``key`` (``group``, ``model`` or ``meta.KEY``: a key of the item
    metadata), as text (numbers and booleans as JSON writes them), None where absent, in the
    order of ``item_ids``. Raises :class:`~core.metrics.MetricsInputError` for another key."""
    if key not in ("group", "model") and not (key.startswith(METADATA_PREFIX)
                                              and len(key) > len(METADATA_PREFIX)):
        raise MetricsInputError(f"--by must be group, model or meta.KEY (a metadata key), "
                                f"got {key!r}")
    rows = session.execute(select(Item.external_id, Item.group_name, Item.model,
                                  Item.metadata_json).where(Item.project_id == project_id)).all()
    by_id = {row[0]: row[1:] for row in rows}
    values: list[str | None] = []
    name = key.removeprefix(METADATA_PREFIX)
    for external_id in item_ids:
        group, model, metadata_json = by_id[external_id]
        if key == "group":
            values.append(group)
        elif key == "model":
            values.append(model)
        else:
            metadata = json.loads(metadata_json) if metadata_json else {}
            value = metadata.get(name) if isinstance(metadata, dict) else None
            values.append(None if value is None or value == "" else
                          value if isinstance(value, str) else json.dumps(value))
    return values


def load_answered(*, session: Session, project_id: int, item_ids: Sequence[str],
                  raters: Sequence[str]) -> dict[str, list[bool | None]]:
    """Per judge rater (``judge:<name>``) that has any: whether its model answered each
    item's question correctly itself (imported ``answered_correctly``; None: unknown), in the
    order of ``item_ids``. Read from the verdicts of sample 0, any dimension."""
    judges = {r.split(":", 1)[1]: r for r in raters if rater_kind(r) == JUDGE}
    rows = session.execute(
        select(Judge.name, Item.external_id, Verdict.answered_correctly)
        .join(Verdict, Verdict.judge_id == Judge.id).join(Item, Item.id == Verdict.item_id)
        .where(Judge.project_id == project_id, Verdict.sample_index == 0,
               Verdict.answered_correctly.is_not(None))).all()
    found: dict[str, dict[str, bool]] = {}
    for name, external_id, answered in rows:
        if name in judges:
            found.setdefault(judges[name], {})[external_id] = bool(answered)
    return {rater: [values.get(i) for i in item_ids] for rater, values in found.items()}
