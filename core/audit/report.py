"""The audit of one dimension: a bias card per judge, generator win rates, ranking agreement.

:func:`audit_dimension` is what ``python cli.py audit --json`` prints (plus the project name),
what the dashboard's Bias card and Win rates tabs draw and what the report's audit section
lists. Every figure is a :class:`~core.audit.figures.Figure`. Each judge's figures use their
own random stream (seed, judge position, figure), so adding a judge does not move another
judge's intervals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.audit.answerable import AnswerableSplit, ReferenceEffect, answerable_split, reference_effect
from core.audit.bias import (
    ErrorRates,
    LengthBias,
    Leniency,
    PositionBias,
    SelfPreference,
    error_rates,
    item_scores,
    length_bias,
    leniency,
    position_bias,
    prepare,
    self_preference,
)
from core.audit.data import AuditOptions, ItemFacts
from core.audit.figures import Bootstrap
from core.audit.probes import ConsistencyProbes, consistency_probes
from core.audit.win_rates import RankingAgreement, WinRates, score_ranking, win_rates
from core.metrics.agreement import check_bootstrap
from core.metrics.ratings import CONSENSUS, JUDGE, MetricsInputError, Ratings
from core.metrics.results import NotApplicable
from core.metrics.views import SWAPPED_SUFFIX, is_preference

AUDIT = "judge audit"
RANKING_REASON = ("its figures (position, length and self-preference bias, leniency, error "
                  "rates, the could-it-answer split, the reference effect, consistency probes, "
                  "win rates and model rankings) read one label or score per response or per "
                  "A/B pair; a ranking orders several responses at once. The judges' agreement "
                  "with the humans' rankings (Kendall τ-b, Spearman ρ, top-1 agreement, "
                  "normalised Levenshtein) is on the Dashboard and in `cli.py metrics`.")


def audit_not_applicable(dimension: str, scale: str) -> NotApplicable | None:
    """Why the judge audit does not apply to ``dimension`` of ``scale`` (a ranking), or None
    when it does."""
    if scale != "ranking":
        return None
    return NotApplicable(AUDIT, dimension, scale, RANKING_REASON)


@dataclass(frozen=True)
class JudgeAudit:
    """The bias card of one judge."""

    rater: str
    position: PositionBias
    length: LengthBias
    self_preference: SelfPreference
    leniency: Leniency
    error_rates: ErrorRates
    answerable_split: AnswerableSplit
    reference_effect: ReferenceEffect
    consistency_probes: ConsistencyProbes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``rater`` and each group of figures."""
        return {"rater": self.rater, "position": self.position.to_dict(),
                "length": self.length.to_dict(), "self_preference": self.self_preference.to_dict(),
                "leniency": self.leniency.to_dict(), "error_rates": self.error_rates.to_dict(),
                "answerable_split": self.answerable_split.to_dict(),
                "reference_effect": self.reference_effect.to_dict(),
                "consistency_probes": self.consistency_probes.to_dict()}


@dataclass(frozen=True)
class AuditReport:
    """The audit of one dimension: bias cards and, on pairwise items with both models known,
    win rates and ranking agreement (None otherwise). ``not_applicable`` says why a dimension
    has no audit at all (a ranking: no judges, no win rates)."""

    dimension: str
    scale: str
    items: int
    judges: tuple[JudgeAudit, ...]
    win_rates: WinRates | None
    score_ranking: tuple[RankingAgreement, ...] = ()
    not_applicable: NotApplicable | None = None

    @property
    def ranking(self) -> tuple[RankingAgreement, ...]:
        """τ-b of each judge's model ranking with the humans': by Bradley–Terry strength on
        pairwise items, by mean score on the items' ``model`` otherwise."""
        return self.win_rates.ranking if self.win_rates else self.score_ranking

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``dimension``, ``scale``, ``items``, ``judges``, ``win_rates``
        (rater -> models; empty without pairwise models), ``ranking_agreement`` and
        ``ranking_by`` (``bt_strength``, ``mean_score`` or None); on a dimension the audit
        does not apply to, also ``not_applicable`` (analysis, dimension, scale, reason)."""
        by = "bt_strength" if self.win_rates else "mean_score" if self.score_ranking else None
        data = {"dimension": self.dimension, "scale": self.scale, "items": self.items,
                "judges": [j.to_dict() for j in self.judges],
                "win_rates": ({rater: [m.to_dict() for m in rows]
                               for rater, rows in self.win_rates.by_rater.items()}
                              if self.win_rates else {}),
                "ranking_agreement": [r.to_dict() for r in self.ranking], "ranking_by": by}
        if self.not_applicable is not None:
            data["not_applicable"] = self.not_applicable.to_dict()
        return data


def _judge_name(name: str) -> str:
    return name if name.startswith(f"{JUDGE}:") else f"{JUDGE}:{name}"


def audited_judges(ratings: Ratings) -> tuple[str, ...]:
    """The judges that get a bias card: every judge except a ``@swapped`` run whose judge is
    present (that run feeds its judge's position figures)."""
    judges = ratings.of_kind(JUDGE)
    return tuple(j for j in judges
                 if not (j.endswith(SWAPPED_SUFFIX) and j.removesuffix(SWAPPED_SUFFIX) in judges))


def audit_dimension(ratings: Ratings, facts: ItemFacts, options: AuditOptions | None = None, *,
                    judge: str | None = None) -> AuditReport:
    """Audit every judge of ``ratings`` (or only ``judge``, ``judge:<name>`` or a bare name).

    On a dimension the audit does not apply to (a ranking, :func:`audit_not_applicable`)
    the report has no judges and says why in ``not_applicable``. Raises
    :class:`MetricsInputError` for an unknown judge, a negative resample count, or facts whose
    length is not the number of items.
    """
    options = options or AuditOptions()
    check_bootstrap(options.n_resamples, 0.95)
    not_applicable = audit_not_applicable(ratings.dimension.name, ratings.dimension.scale)
    if not_applicable is not None:
        return AuditReport(ratings.dimension.name, ratings.dimension.scale,
                           len(ratings.item_ids), (), None, not_applicable=not_applicable)
    if len(facts.length) != len(ratings.item_ids):
        raise MetricsInputError(f"item facts cover {len(facts.length)} items, the ratings "
                                f"{len(ratings.item_ids)}")
    prepared = prepare(ratings)
    judges = audited_judges(prepared)
    if judge is not None:
        name = _judge_name(judge)
        if name not in judges:
            known = ", ".join(j.split(":", 1)[1] for j in judges) or "none"
            raise MetricsInputError(f"unknown judge {judge!r} on dimension "
                                    f"{ratings.dimension.name!r} (judges: {known})")
        judges = (name,)
    cards = []
    all_judges = prepared.of_kind(JUDGE)
    pair_with = {_judge_name(k): _judge_name(v) for k, v in options.pair_with.items()}
    for judge_name, partner in pair_with.items():
        for named in (judge_name, partner):
            if named not in all_judges:
                known = ", ".join(j.split(":", 1)[1] for j in all_judges) or "none"
                raise MetricsInputError(f"--pair-with: unknown judge {named.split(':', 1)[1]!r} "
                                        f"on dimension {ratings.dimension.name!r} "
                                        f"(judges: {known})")
    answered = {rater: np.array([np.nan if v is None else float(v) for v in values])
                for rater, values in options.answered.items()}
    for rater, values in answered.items():
        if len(values) != len(ratings.item_ids):
            raise MetricsInputError(f"answered of {rater} covers {len(values)} items, the "
                                    f"ratings {len(ratings.item_ids)}")
    for name in judges:
        stream = all_judges.index(name)

        def boot(figure: int, stream: int = stream) -> Bootstrap:
            return Bootstrap.seeded(options.n_resamples, options.seed, stream, figure)

        cards.append(JudgeAudit(
            name, position_bias(prepared, name, boot(0)),
            length_bias(prepared, name, facts, boot(1)),
            self_preference(prepared, name, options.families.get(name), facts, boot(2)),
            leniency(prepared, name, boot(3)), error_rates(prepared, name, boot(4)),
            answerable_split(prepared, name, answered.get(name), boot(5)),
            reference_effect(prepared, name, pair_with.get(name), answered.get(name), boot(6),
                             options.seed),
            consistency_probes(options.probes.get(name, ()), boot(7))))
    wins, ranking = None, ()
    if not is_preference(prepared.dimension):
        scored = {r: item_scores(prepared, r) for r in (CONSENSUS, *judges)
                  if r in prepared.raters}
        if all(value is not None for value in scored.values()):
            ranking = score_ranking(prepared, list(scored), scored,  # type: ignore[arg-type]
                                    Bootstrap.seeded(options.n_resamples, options.seed, 2_000_000))
    else:
        raters = [*([CONSENSUS] if CONSENSUS in prepared.raters else []), *all_judges]
        if judge is not None:
            raters = [r for r in raters if r in (CONSENSUS, *judges)]
        wins = win_rates(prepared, raters, facts,
                         Bootstrap.seeded(options.n_resamples, options.seed, 1_000_000))
    return AuditReport(ratings.dimension.name, ratings.dimension.scale, len(ratings.item_ids),
                       tuple(cards), wins, ranking)
