"""Estimates benchmark: coverage of PPI++ intervals by simulation on real data, and speed.

1. Coverage (the proof the issue asks for). Populations from ../shared/data (read in place;
   the TriviaQA file has no license and is never copied):
   * TriviaQA V1: 3,600 answers (9 exam-taker models x 400 questions), the human label
     True/False as 0/1, each of the 11 judges' verdicts as the prediction (an empty verdict
     gets the judge's mean). Populations: all 3,600 answers, and each model's 400.
   * HANNA: 1,056 stories, the mean of the three human ratings (1-5) per criterion, each of
     the 5 LLMs' prompt-1 score as the prediction (6 criteria x 5 judges).
   The truth is the population mean of the human label. For each n (30...400) and design,
   ``--reps`` labelled subsets are drawn:
   * uniform: a simple random sample of n items (the ``estimation`` queue order);
   * active: the first n items of the sequential Poisson order by u / p (the ``active``
     queue order: p = 20 % uniform + 80 % in proportion to the spread of all judges'
     predictions on the item), estimates weighted by pi = min(1, n p).
   Printed per cell: coverage of the classical (for active: Horvitz-Thompson) and the PPI++
   95 % intervals, the median (over reps) ratio of PPI++ to classical width on the same
   labels, the labels saved for the same width against the expert labels alone from a
   uniform sample (1 - (width / uniform classical width)^2, as SE ∝ 1/√n), and for active the
   median PPI++ width relative to uniform PPI++ at the same n.
   The simulation runs the formulas of core/estimate/ppi.py vectorised over repetitions;
   tests/test_estimate_real_data.py checks the batch against the core functions rep by rep.
2. Speed: the estimate report (core.estimate.report.build_report: PPI++ and classical
   overall and per model, and every judge's bootstrap kappa budget with 1,000 resamples) for
   100,000 items x 5 judges with 2,000 expert labels, against computing the same intervals
   with ppi_py and the kappa CIs with a naive bootstrap loop over sklearn on 100 resamples
   (scaled to 1,000). Goal: <= 200 ms.

    python bench/estimate_sim.py [--reps 1000] [--seed 0] [--skip-speed] [--skip-coverage]
                                 [--shared-data PATH]

Runs on one core (numpy threads pinned to 1 before numpy loads).
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import csv  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from scipy.stats import t as t_dist  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.estimate.design import MIN_UNIFORM_SHARE, draw_shares  # noqa: E402

TRIVIAQA = Path("llm_eval") / "results" / "TriviaQA_Judges_w_HumanJudgement_V1.csv"
TRIVIAQA_JUDGES = ("Mistral-7B", "Llama-7B", "Llama-13B", "Llama3-8B", "Gemma-2B", "Llama-70B",
                   "Llama3-70B", "GPT-4", "JudgeLM", "EM", "Contains")
HANNA = Path("hanna-benchmark-asg") / "hanna_metric_scores_llm.csv"
HANNA_CRITERIA = ("RE", "CH", "EM", "SU", "EG", "CX")
HANNA_LLMS = ("Beluga-13B", "OrcaPlatypus", "Mistral-7B", "Llama-13B", "ChatGPT")
SIZES = (30, 60, 100, 200, 400)


@dataclass(frozen=True)
class Population:
    """Items with a human value ``y``, judges' predictions (judges x items) and the active
    design's per-item uncertainty."""

    name: str
    y: np.ndarray
    predictions: dict[str, np.ndarray]
    uncertainty: np.ndarray


def _filled(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), np.nanmean(values), values)


def load_triviaqa(shared: Path) -> tuple[Population, list[Population]]:
    """The whole TriviaQA V1 file and one population per exam-taker model."""
    with (shared / TRIVIAQA).open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))
    y = np.array([float(r["HumanJudgement"] == "True") for r in rows])
    raw = {j: np.array([np.nan if r[j] == "" else float(r[j] == "True") for r in rows])
           for j in TRIVIAQA_JUDGES}
    stacked = np.column_stack(list(raw.values()))
    ones, present = np.nansum(stacked, axis=1), (~np.isnan(stacked)).sum(axis=1)
    pairs = present * (present - 1) / 2
    differing = ones * (present - ones)
    uncertainty = np.sqrt(np.divide(differing, pairs, out=np.zeros_like(pairs), where=pairs > 0))
    predictions = {j: _filled(v) for j, v in raw.items()}
    models = np.array([r["model"] for r in rows])
    whole = Population("TriviaQA all", y, predictions, uncertainty)
    per_model = [Population(f"TriviaQA {m}", y[models == m],
                            {j: v[models == m] for j, v in predictions.items()},
                            uncertainty[models == m]) for m in sorted(set(models))]
    return whole, per_model


def load_hanna(shared: Path) -> list[Population]:
    """One population per criterion: 1,056 stories, mean human rating, 5 LLM predictions."""
    with (shared / HANNA).open(encoding="utf-8", newline="") as source:
        rows = list(csv.DictReader(source))

    def column(name: str) -> np.ndarray:
        return np.concatenate([json.loads(row[name]) for row in rows]).astype(float)

    populations = []
    for code in HANNA_CRITERIA:
        y = np.mean([column(f"Human {h} {code}") for h in (1, 2, 3)], axis=0)
        predictions = {llm: column(f"{llm} {code} 1") for llm in HANNA_LLMS}
        spread = np.std(np.column_stack(list(predictions.values())), axis=1)
        populations.append(Population(f"HANNA {code}", y, predictions, spread))
    return populations


# --- the estimators of core/estimate/ppi.py, vectorised over repetitions (rows) ---------------

def _binary(y: np.ndarray) -> bool:
    return bool(np.isin(y, (0.0, 1.0)).all())


def _corners(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low, high = min(0.0, float(f.min())), max(1.0, float(f.max()))
    return np.array([0.0, 0.0, 1.0, 1.0]), np.array([low, high, low, high])


def _labelled_variance(ys: np.ndarray, fs: np.ndarray, lam: np.ndarray, binary: bool,
                       corners: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Per row, the small-sample variance of y - lam f (ppi._labelled_variance)."""
    residual = ys - lam[:, None] * fs
    variance = residual.var(axis=1, ddof=1)
    if binary:
        pseudo = corners[0][None, :] - lam[:, None] * corners[1][None, :]
        variance = np.maximum(variance, np.concatenate([residual, pseudo], axis=1).var(axis=1))
    return variance


def uniform_batch(y: np.ndarray, f: np.ndarray, samples: np.ndarray,
                  lam: float | None = None) -> dict[str, np.ndarray]:
    """PPI++ (ppi_mean) and classical (classical_mean) estimates and small-sample standard
    errors for each row of ``samples`` (R x n item indices, a simple random sample per row);
    a fixed ``lam`` (1 = plain PPI) instead of the tuned one. Intervals: ± quantile(n) x se."""
    big = len(y)
    n = samples.shape[1]
    rest = big - n
    ys, fs = y[samples], f[samples]
    binary = _binary(y)
    sum_f, sum_f2 = f.sum(), (f * f).sum()
    rest_mean = (sum_f - fs.sum(axis=1)) / rest
    rest_var = (sum_f2 - (fs * fs).sum(axis=1)) / rest - rest_mean ** 2
    covariance = (ys * fs).mean(axis=1) - ys.mean(axis=1) * fs.mean(axis=1)
    variance_all = f.var(ddof=1)
    tuned = lam is None
    if lam is not None:
        lam = np.full(len(samples), float(lam))
    elif variance_all > 0:
        lam = np.clip(covariance / ((1 + n / rest) * variance_all), 0, 1)
    else:
        lam = np.zeros(len(samples))
    estimate = lam * rest_mean + (ys - lam[:, None] * fs).mean(axis=1)
    # The corners use each row's sampled f range; ppi uses the labelled f too.
    low = np.minimum(0.0, fs.min(axis=1))
    high = np.maximum(1.0, fs.max(axis=1))
    if binary and (low.min() < 0 or high.max() > 1):
        raise ValueError("the batch assumes predictions in [0, 1] for yes/no labels")
    corners = _corners(np.array([0.0, 1.0]))
    labelled = _labelled_variance(ys, fs, lam, binary, corners)
    se = np.sqrt(lam ** 2 * np.maximum(rest_var, 0) / rest + labelled / n)
    zero = np.zeros(len(samples))
    classical_se = np.sqrt(_labelled_variance(ys, np.zeros_like(fs), zero, binary, corners) / n)
    if tuned:  # never wider than the labels alone (ppi_mean falls back to λ = 0)
        wider = (lam > 0) & (classical_se < se)
        estimate = np.where(wider, ys.mean(axis=1), estimate)
        se, lam = np.where(wider, classical_se, se), np.where(wider, 0.0, lam)
    return {"ppi": estimate, "ppi_se": se, "lam": lam, "classical": ys.mean(axis=1),
            "classical_se": classical_se, "quantile": quantile(n)}


def active_batch(y: np.ndarray, f: np.ndarray, mask: np.ndarray, pi: np.ndarray
                 ) -> dict[str, np.ndarray]:
    """The weighted PPI++ (ppi_mean_weighted) and Horvitz-Thompson classical estimates with
    small-sample standard errors for each row of ``mask`` (R x N, the labelled items, n per
    row), inclusion probabilities ``pi``."""
    big = len(y)
    n = int(mask[0].sum())
    weight = mask / pi
    a = y * weight
    b = f * (1 - weight)
    a_centred = a - a.mean(axis=1, keepdims=True)
    b_centred = b - b.mean(axis=1, keepdims=True)
    variance_b = (b_centred ** 2).mean(axis=1)
    covariance = (a_centred * b_centred).mean(axis=1)
    lam = np.where(variance_b > 0, np.clip(-covariance / np.where(variance_b > 0, variance_b, 1),
                                           0, 1), 0.0)
    mean_weight = weight.sum(axis=1) / n
    binary = _binary(y)

    def se_of(z: np.ndarray, lam_row: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        estimate = z.mean(axis=1)
        se = z.std(axis=1) / np.sqrt(big)
        if binary:
            pseudo_y, pseudo_f = _corners(predicted)
            pseudo = (lam_row[:, None] * pseudo_f[None, :]
                      + (pseudo_y[None, :] - lam_row[:, None] * pseudo_f[None, :])
                      * mean_weight[:, None])
            squares = (((z - estimate[:, None]) ** 2).sum(axis=1)
                       + ((pseudo - estimate[:, None]) ** 2).sum(axis=1))
            se = np.maximum(se, np.sqrt(squares / (big + 4) / big))
        return se

    z = a + lam[:, None] * b
    se = se_of(z, lam, f)
    classical_se = se_of(a, np.zeros(len(a)), np.zeros(big))
    wider = (lam > 0) & (classical_se < se)  # never wider than the labels alone
    return {"ppi": np.where(wider, a.mean(axis=1), z.mean(axis=1)),
            "ppi_se": np.where(wider, classical_se, se), "lam": np.where(wider, 0.0, lam),
            "classical": a.mean(axis=1), "classical_se": classical_se, "quantile": quantile(n)}


def quantile(n: int) -> float:
    """The small-sample intervals' t quantile (95 %, n - 1 degrees of freedom)."""
    return float(t_dist.ppf(0.975, n - 1))


def uniform_samples(big: int, n: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    """R x n simple random samples without replacement."""
    return np.argpartition(rng.random((reps, big)), n - 1, axis=1)[:, :n]


def active_masks(shares: np.ndarray, n: int, reps: int, rng: np.random.Generator) -> np.ndarray:
    """R x N masks of the first n items in the order u / p (sequential Poisson sampling)."""
    keys = rng.random((reps, len(shares))) / shares
    first = np.argpartition(keys, n - 1, axis=1)[:, :n]
    mask = np.zeros(keys.shape, dtype=bool)
    np.put_along_axis(mask, first, True, axis=1)
    return mask


@dataclass(frozen=True)
class Cell:
    """One population x judge x design x n: coverage and widths over the repetitions."""

    population: str
    judge: str
    design: str
    n: int
    coverage_classical: float
    coverage_ppi: float
    width_ratio: float  # median over reps of PPI++ width / classical width
    median_width: float  # median PPI++ width
    median_lambda: float
    uniform_classical_width: float  # median classical width of a uniform sample of this n

    @property
    def labels_saved(self) -> float:
        """Share of labels saved against the expert labels alone from a uniform sample, for
        the same width: 1 - (PPI++ width / uniform classical width)^2 (SE ∝ 1/√n)."""
        return 1 - (self.median_width / self.uniform_classical_width) ** 2


def simulate(population: Population, *, reps: int, seed: int, sizes=SIZES) -> list[Cell]:
    """Every judge x design x n cell of one population (the same draws for every judge)."""
    cells = []
    big = len(population.y)
    truth = float(population.y.mean())
    shares = draw_shares(population.uncertainty, uniform_share=MIN_UNIFORM_SHARE)
    for n in sizes:
        if n > big // 2:
            continue
        rng = np.random.default_rng([seed, n])
        samples = uniform_samples(big, n, reps, rng)
        masks = active_masks(shares, n, reps, rng)
        pi = np.minimum(1.0, n * shares)
        plain = None  # the uniform classical width: the same for every judge
        for judge, f in population.predictions.items():
            for design, result in (("uniform", uniform_batch(population.y, f, samples)),
                                   ("active", active_batch(population.y, f, masks, pi))):
                q = result["quantile"]
                if plain is None:
                    plain = np.median(2 * q * result["classical_se"])
                cover = {k: float(np.mean(np.abs(result[k] - truth) <= q * result[f"{k}_se"]))
                         for k in ("classical", "ppi")}
                with np.errstate(divide="ignore", invalid="ignore"):
                    ratio = np.where(result["classical_se"] > 0,
                                     result["ppi_se"] / result["classical_se"], 1.0)
                cells.append(Cell(population.name, judge, design, n, cover["classical"],
                                  cover["ppi"], float(np.median(ratio)),
                                  float(np.median(2 * q * result["ppi_se"])),
                                  float(np.median(result["lam"])), float(plain)))
    return cells


def _coverage_tables(shared: Path, reps: int, seed: int) -> None:
    whole, per_model = load_triviaqa(shared)
    hanna = load_hanna(shared)
    started = time.perf_counter()
    groups = {"TriviaQA V1, all 3,600 answers (11 judges)": simulate(whole, reps=reps, seed=seed),
              "TriviaQA V1, per exam-taker model (400 answers each; 9 models x 11 judges)":
                  [c for p in per_model for c in simulate(p, reps=reps, seed=seed)],
              "HANNA, 1,056 stories, mean human rating (6 criteria x 5 LLM judges)":
                  [c for p in hanna for c in simulate(p, reps=reps, seed=seed)]}
    print(f"coverage: {reps} repetitions per cell, {time.perf_counter() - started:.1f} s")
    for title, cells in groups.items():
        print(f"\n### {title}\n")
        print("| design | n | cells | coverage classical (min / mean) | coverage PPI++ "
              "(min / mean) | width ratio PPI++/classical, same labels (median; max over "
              "cells) | labels saved vs uniform labels alone (median) | PPI++ width "
              "active/uniform (median) |")
        print("|---|---|---|---|---|---|---|---|")
        for design in ("uniform", "active"):
            for n in SIZES:
                chosen = [c for c in cells if c.design == design and c.n == n]
                if not chosen:
                    continue
                uniform = {(c.population, c.judge): c.median_width for c in cells
                           if c.design == "uniform" and c.n == n}
                ratios = [c.width_ratio for c in chosen]
                against = [c.median_width / uniform[(c.population, c.judge)] for c in chosen]
                relative = "—" if design == "uniform" else f"{np.median(against):.3f}"
                print(f"| {design} | {n} | {len(chosen)} | "
                      f"{min(c.coverage_classical for c in chosen):.3f} / "
                      f"{np.mean([c.coverage_classical for c in chosen]):.3f} | "
                      f"{min(c.coverage_ppi for c in chosen):.3f} / "
                      f"{np.mean([c.coverage_ppi for c in chosen]):.3f} | "
                      f"{np.median(ratios):.3f}; {max(ratios):.3f} | "
                      f"{np.median([c.labels_saved for c in chosen]) * 100:.0f} % | {relative} |")
    print("\n### TriviaQA V1 per model, n = 60 uniform, judge GPT-4 (the issue's example)\n")
    print("| model | coverage PPI++ | width ratio | λ (median) | labels saved |")
    print("|---|---|---|---|---|")
    for cell in groups["TriviaQA V1, per exam-taker model (400 answers each; 9 models x 11 judges)"]:
        if cell.judge == "GPT-4" and cell.n == 60 and cell.design == "uniform":
            print(f"| {cell.population.removeprefix('TriviaQA ')} | {cell.coverage_ppi:.3f} | "
                  f"{cell.width_ratio:.3f} | {cell.median_lambda:.2f} | "
                  f"{cell.labels_saved * 100:.0f} % |")


def _speed() -> None:
    import ppi_py
    from sklearn.metrics import cohen_kappa_score

    from core.estimate.design import UNIFORM
    from core.estimate.report import build_report
    from core.metrics.ratings import Ratings
    from core.schema import Dimension, Label

    rng = np.random.default_rng(0)
    items, judges, labelled = 100_000, 5, 2_000
    dimension = Dimension("correct", "nominal", "Correct",
                          labels=(Label("correct", "Correct"), Label("incorrect", "Incorrect")))
    truth = (rng.random(items) < 0.65).astype(float)
    values = np.full((items, 1 + judges), np.nan)
    chosen = rng.choice(items, labelled, replace=False)
    values[chosen, 0] = 1 - truth[chosen]  # code 0 = correct
    for j in range(judges):
        right = rng.random(items) < 0.7 + 0.05 * j
        values[:, 1 + j] = np.where(right, 1 - truth, truth)
    ratings = Ratings(dimension, ("human:expert", *(f"judge:j{j}" for j in range(judges))),
                      values, np.array([f"i{i}" for i in range(items)], dtype=object),
                      [f"m{i % 9}" for i in range(items)])
    sampled = {f"i{i}" for i in chosen}

    def ours() -> object:
        return build_report(ratings, project="bench", judge="j0", queue={},
                            imported_uniform=sampled, by="model", n_resamples=1000)

    ours()
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        report = ours()
        timings.append(time.perf_counter() - started)
    best = min(timings)
    assert report.design_kind == UNIFORM  # type: ignore[attr-defined]

    started = time.perf_counter()
    mask = np.zeros(items, dtype=bool)
    mask[chosen] = True
    y, f = truth, 1 - values[:, 1]
    models = np.arange(items) % 9
    for slice_mask in [np.ones(items, dtype=bool), *[models == m for m in range(9)]]:
        ppi_py.ppi_mean_ci(y[mask & slice_mask], f[mask & slice_mask], f[~mask & slice_mask],
                           alpha=0.05)
    naive_resamples = 100
    human = values[chosen, 0]
    for j in range(judges):
        judge = values[chosen, 1 + j]
        for _ in range(naive_resamples):
            pick = rng.integers(0, labelled, labelled)
            cohen_kappa_score(human[pick], judge[pick])
    naive = (time.perf_counter() - started)
    naive_scaled = naive * 1000 / naive_resamples
    print(f"speed: build_report, {items:,} items x {judges} judges, {labelled:,} labels, "
          f"overall + 9 models, kappa budgets with 1,000 bootstrap resamples: "
          f"best {best * 1000:.0f} ms of 5 (median {np.median(timings) * 1000:.0f} ms)")
    print(f"baseline: ppi_py intervals + naive sklearn bootstrap (100 resamples, scaled to "
          f"1,000): {naive_scaled:.2f} s -> {naive_scaled / best:.0f}x")
    print(f"goal: <= 200 ms -> {'met' if best <= 0.2 else 'NOT met'}")


def main(argv: list[str] | None = None) -> int:
    """Run the coverage simulation and the speed measurement; print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shared-data", type=Path,
                        default=Path(os.environ.get("DOCKET_SHARED_DATA",
                                                    Path(__file__).resolve().parents[1].parent
                                                    / "shared" / "data")),
                        help="the shared data folder (default $DOCKET_SHARED_DATA, else "
                             "../shared/data beside the repository)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-coverage", action="store_true")
    args = parser.parse_args(argv)
    if not args.skip_coverage:
        if not (args.shared_data / TRIVIAQA).is_file():
            parser.error(f"no TriviaQA file under {args.shared_data}: pass --shared-data or set "
                         "DOCKET_SHARED_DATA")
        _coverage_tables(args.shared_data, args.reps, args.seed)
    if not args.skip_speed:
        print()
        _speed()
    return 0


if __name__ == "__main__":
    sys.exit(main())
