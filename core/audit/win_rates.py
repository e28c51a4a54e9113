"""Generator win rates and Bradley–Terry strengths on pairwise items, per rater.

A pairwise item compares the responses of ``model_a`` and ``model_b``. A rater's label makes
one comparison: A is a win for ``model_a``, B for ``model_b``, a tie half a win for each. An
item counts for a rater only when that rater labelled it (for ``human:consensus``: when the
humans had a majority) and the two models are known and differ.

* *win_rate* of a model = its wins / its comparisons.
* *bt_strength*: the Bradley–Terry log-strength θ (P(i beats j) = 1 / (1 + e^(θj − θi))),
  the maximum-likelihood fit by Hunter's (2004) MM algorithm with a tie counted as half a
  win each way, centred to mean 0 over the models. It exists only when every model beat,
  directly or through others, every other model (the "won" graph is strongly connected);
  otherwise some strength is infinite and the figure is undefined.
* *kendall_tau_b* between the human consensus's strengths and a judge's over the models:
  would the judge rank the generators as the humans do?

Bootstrap: items are resampled (all raters together, so the τ interval is paired); a
resample where a fit does not exist is left out of that figure's interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.sparse.csgraph import connected_components

from core.audit.data import ItemFacts
from core.audit.figures import Bootstrap, Figure
from core.metrics.bootstrap import percentile_intervals, resample_weights
from core.metrics.ratings import CONSENSUS, Ratings

MM_ITERATIONS = 10_000
MM_TOLERANCE = 1e-10


@dataclass(frozen=True)
class ModelWinRate:
    """One generator model under one rater: win rate, BT strength, and its comparisons."""

    model: str
    win_rate: Figure
    bt_strength: Figure
    comparisons: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``model``, ``win_rate``, ``bt_strength``, ``comparisons``."""
        return {"model": self.model, "win_rate": self.win_rate.to_dict(),
                "bt_strength": self.bt_strength.to_dict(), "comparisons": self.comparisons}


@dataclass(frozen=True)
class RankingAgreement:
    """Kendall's τ-b between the humans' and one rater's ranking of the models."""

    rater: str
    kendall_tau_b: Figure

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``rater``, ``kendall_tau_b``."""
        return {"rater": self.rater, "kendall_tau_b": self.kendall_tau_b.to_dict()}


@dataclass(frozen=True)
class WinRates:
    """Win rates per rater (in rater order) and each rater's ranking agreement with the
    human consensus."""

    models: tuple[str, ...]
    by_rater: dict[str, tuple[ModelWinRate, ...]]
    ranking: tuple[RankingAgreement, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``win_rates`` (rater -> list of models) and ``ranking_agreement``."""
        return {"win_rates": {rater: [m.to_dict() for m in rows]
                              for rater, rows in self.by_rater.items()},
                "ranking_agreement": [r.to_dict() for r in self.ranking]}


def win_matrix(first: np.ndarray, second: np.ndarray, outcome: np.ndarray, weights: np.ndarray,
               n_models: int) -> np.ndarray:
    """B x m x m wins: [b, i, j] = how often i beat j (a tie adds 1/2 both ways), from
    comparisons (first model, second model, outcome 0 = first won, 1 = second, 2 = tie) with
    weights B x U."""
    wins = np.zeros((len(weights), n_models * n_models))
    share_first = np.select([outcome == 0, outcome == 1], [1.0, 0.0], 0.5)
    forward, backward = first * n_models + second, second * n_models + first
    for cells, share in ((forward, share_first), (backward, 1.0 - share_first)):
        np.add.at(wins.T, cells, (weights * share).T)
    return wins.reshape(len(weights), n_models, n_models)


def bradley_terry(wins: np.ndarray) -> np.ndarray:
    """Centred BT log-strengths (B x m) from win matrices (B x m x m); a row is NaN where the
    maximum-likelihood fit does not exist (the won graph is not strongly connected)."""
    wins = np.asarray(wins, dtype=float)
    batch, m = wins.shape[0], wins.shape[1]
    exists = np.array([connected_components(w > 0, directed=True, connection="strong")[0] == 1
                       for w in wins])
    games = wins + wins.transpose(0, 2, 1)
    total = wins.sum(axis=2)
    p = np.ones((batch, m))
    for _ in range(MM_ITERATIONS):
        denominator = (games / (p[:, :, None] + p[:, None, :])).sum(axis=2)
        new = np.where(denominator > 0, total / np.where(denominator > 0, denominator, 1), 0)
        new = np.where(exists[:, None], new, 1.0)
        new /= np.exp(np.log(np.maximum(new, 1e-300)).mean(axis=1))[:, None]
        if np.max(np.abs(np.log(np.maximum(new, 1e-300)) - np.log(p))) < MM_TOLERANCE:
            p = new
            break
        p = new
    theta = np.log(np.maximum(p, 1e-300))
    theta -= theta.mean(axis=1, keepdims=True)
    return np.where(exists[:, None], theta, np.nan)


def tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's τ-b of each row pair of x and y (B x m); NaN where a row is constant or
    has a NaN."""
    i, j = np.triu_indices(x.shape[1], k=1)
    sx, sy = np.sign(x[:, i] - x[:, j]), np.sign(y[:, i] - y[:, j])
    denominator = np.sqrt((sx != 0).sum(axis=1) * (sy != 0).sum(axis=1).astype(float))
    with np.errstate(invalid="ignore"):
        value = np.where(denominator > 0, (sx * sy).sum(axis=1) / np.where(
            denominator > 0, denominator, 1), np.nan)
    return np.where(np.isnan(x).any(axis=1) | np.isnan(y).any(axis=1), np.nan, value)


def _outcomes(ratings: Ratings, rater: str) -> np.ndarray:
    """Per item 0 (A won), 1 (B), 2 (tie), 3 (no label)."""
    column = ratings.column(rater)
    dimension = ratings.dimension
    a, b = dimension.rank("A"), dimension.rank("B")
    return np.select([column == a, column == b, np.isnan(column)], [0, 1, 3], 2)


def win_rates(ratings: Ratings, raters: Sequence[str], facts: ItemFacts, boot: Bootstrap
              ) -> WinRates | None:
    """Win rates and BT strengths of the generator models for each of ``raters`` (prepared
    ratings of a pairwise dimension), and each non-consensus rater's τ-b with the consensus;
    None when no item has two different known models."""
    names = sorted(set(facts.model_a.names) | set(facts.model_b.names))
    index = {name: i for i, name in enumerate(names)}
    remap_a = np.array([index[n] for n in facts.model_a.names] + [-1], dtype=np.int64)
    remap_b = np.array([index[n] for n in facts.model_b.names] + [-1], dtype=np.int64)
    first, second = remap_a[facts.model_a.codes], remap_b[facts.model_b.codes]
    usable = (first >= 0) & (second >= 0) & (first != second)
    if not usable.any():
        return None
    m = len(names)
    outcome_columns = np.column_stack([_outcomes(ratings, r) for r in raters])[usable]
    rows = np.column_stack([first[usable], second[usable], outcome_columns])
    distinct, counts = np.unique(rows, axis=0, return_counts=True)
    weights = counts[None, :].astype(float)
    if boot.n_resamples:
        weights = np.vstack([weights, resample_weights(counts, boot.n_resamples, boot.rng)])
    strengths: dict[str, np.ndarray] = {}
    by_rater: dict[str, tuple[ModelWinRate, ...]] = {}
    for k, rater in enumerate(raters):
        outcome = distinct[:, 2 + k]
        labelled = outcome < 3
        wins = win_matrix(distinct[labelled, 0], distinct[labelled, 1], outcome[labelled],
                          weights[:, labelled], m)
        games = (wins + wins.transpose(0, 2, 1)).sum(axis=2)
        won = wins.sum(axis=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(games > 0, won / games, np.nan)
        theta = bradley_terry(wins)
        strengths[rater] = theta
        by_rater[rater] = tuple(
            ModelWinRate(name, _figure(rate[:, i], int(games[0, i]), boot,
                                       f"{rater} labelled no comparison of {name!r}"),
                         _figure(theta[:, i], int(games[0, i]), boot, _bt_reason(wins[0], rater)),
                         int(games[0, i]))
            for i, name in enumerate(names))
    ranking = []
    if CONSENSUS in raters:
        reference = strengths[CONSENSUS]
        for rater in raters:
            if rater == CONSENSUS:
                continue
            reason = ("Bradley–Terry strengths undefined for the humans or for this rater"
                      if np.isnan(reference[0]).any() or np.isnan(strengths[rater][0]).any()
                      else "fewer than 2 models, or every model got the same strength")
            ranking.append(RankingAgreement(rater, _figure(
                tau_b(reference, strengths[rater]), m, boot, reason)))
    return WinRates(tuple(names), by_rater, tuple(ranking))


def _bt_reason(wins: np.ndarray, rater: str) -> str:
    never = [i for i in range(len(wins)) if wins[i].sum() == 0]
    if never:
        return (f"under {rater} some model never won (not even a tie): its Bradley–Terry "
                "strength is minus infinity")
    return (f"under {rater} the models split into groups that never beat each other: "
            "Bradley–Terry strengths are not finite")


def _figure(values: np.ndarray, n: int, boot: Bootstrap, reason: str) -> Figure:
    """Row 0 is the estimate, the other rows the resamples."""
    if not np.isfinite(values[0]):
        return Figure.missing(reason, n)
    interval = percentile_intervals({"x": values[1:]}, boot.confidence)["x"] if len(values) > 1 \
        else None
    return Figure(float(values[0]), n, interval)


def score_ranking(ratings: Ratings, raters: Sequence[str], scores: dict[str, np.ndarray],
                  boot: Bootstrap) -> tuple[RankingAgreement, ...]:
    """Kendall's τ-b between the consensus's and each rater's ranking of the items' ``model``
    by mean score (``scores``: per rater, the per-item score, NaN = none), with a paired
    bootstrap over items; empty without a consensus or with fewer than two models."""
    models = ratings.models
    if CONSENSUS not in scores or len(models.names) < 2:
        return ()
    used = models.codes >= 0
    codes = models.codes[used]
    m = len(models.names)
    onehot = np.zeros((len(codes), m))
    onehot[np.arange(len(codes)), codes] = 1.0

    def model_means(weights: np.ndarray, score: np.ndarray) -> np.ndarray:
        present = ~np.isnan(score)
        totals = weights @ (onehot * np.where(present, score, 0.0)[:, None])
        counts = weights @ (onehot * present[:, None])
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, totals / counts, np.nan)

    def taus(weights: np.ndarray) -> dict[str, np.ndarray]:
        reference = model_means(weights, scores[CONSENSUS][used])
        return {rater: tau_b(reference, model_means(weights, scores[rater][used]))
                for rater in raters if rater != CONSENSUS}

    found = {rater: [value] for rater, value in taus(np.ones((1, len(codes)))).items()}
    if boot.n_resamples and len(codes):
        block = max(1, 4_000_000 // len(codes))
        done = 0
        while done < boot.n_resamples:
            size = min(block, boot.n_resamples - done)
            weights = resample_weights(np.ones(len(codes)), size, boot.rng)
            for rater, values in taus(weights).items():
                found[rater].append(values)
            done += size
    return tuple(RankingAgreement(rater, _figure(
        np.concatenate(values), m, boot, "a model has no score from one of the raters, or "
        "every model got the same mean score")) for rater, values in found.items())
