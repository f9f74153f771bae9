"""Search efficiency: how many trials each sampler needs to a front, on one landscape of real trainings.

For every sampler and seed, the per-trial search (`benchmarks.common.per_trial_search`: the search's
samplers and budget rule) asks and tells one architecture at a time. Each architecture is trained
with the real `fwformer.train.train` on the study's data and settings, shortened to `--epochs`, and
cached by the space's canonical key across samplers and seeds (`benchmarks.common.CurveCache`):
training is seeded and deterministic on the CPU, so the same architecture gets the same measured
objectives wherever it is proposed, and every sampler is judged on the same landscape. The
hypervolume after every trained trial uses one reference point for all runs (the study's: accuracy
0, energy at firing rate 1 of the most expensive model of the space), and a second one at the worst
measured value of every objective (the "range" reference). Reported: the curves, and the trials each
sampler needs to reach 90% (95%, 99%) of the best hypervolume any run reached.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Optional

from benchmarks.common import REPO, CurveCache, median, per_trial_search
from fwformer.cli import ConfigError

SAMPLERS = ("tpe", "nsga2", "random")
THRESHOLDS = (0.9, 0.95, 0.99)


def run_sampler(study: Any, cache: CurveCache, sampler_name: str, seed: int, trials: int,
                log: Callable[[str], None]) -> dict[str, Any]:
    """One per-trial search; the objective values of every trained (non-repeat) trial, in order."""

    def train(trial: Any, key: str) -> tuple[str, Optional[list[float]]]:
        _, row = cache(trial.params)
        return ("FAIL", None) if row.get("failed") else ("COMPLETE", [row[m] for m in study.metric_names])

    outcomes, proposals = per_trial_search(study, sampler_name, seed, trials, cache.key, train)
    log(f"  {sampler_name} seed {seed}: {len(outcomes)} trials ({proposals} proposals)")
    return dict(sampler=sampler_name, seed=seed, proposals=proposals, keys=list(outcomes),
                values=[values for _, values in outcomes.values()])


def hv_curve(values: list[Optional[list[float]]], directions: list[str], reference: list[float]) -> list[float]:
    """Hypervolume of the first k trials' points, for k = 1..len(values)."""
    from search.front import hypervolume

    points: list[list[float]] = []
    curve = []
    for v in values:
        if v is not None:
            points.append(v)
        curve.append(hypervolume(points, directions, reference) if points else 0.0)
    return curve


def trials_to_reach(curve: list[float], target: float) -> Optional[int]:
    """The trials (1-based) a hypervolume curve takes to reach `target`, None if it never does."""
    for i, value in enumerate(curve):
        if value >= target - 1e-12:
            return i + 1
    return None


def summarise(runs: list[dict], samplers: list[str], directions: list[str], reference: list[float]) -> dict[str, Any]:
    """Curves, the best hypervolume any run reached, and the trials each run needs for 90% (and 95%,
    99%) of it."""
    curves = {(r["sampler"], r["seed"]): hv_curve(r["values"], directions, reference) for r in runs}
    best = max((max(c) for c in curves.values() if c), default=0.0)
    union = hv_curve([v for r in runs for v in r["values"]], directions, reference)
    out: dict[str, Any] = dict(reference=reference, best_hv=best, target_hv=0.9 * best,
                               union_hv=union[-1] if union else 0.0, samplers={})
    for name in samplers:
        mine = [(seed, c) for (s, seed), c in curves.items() if s == name]
        finals = [c[-1] if c else 0.0 for _, c in mine]
        length = max((len(c) for _, c in mine), default=0)
        # Median curve over seeds (a run that ended early keeps its last value).
        med = [median(c[min(i, len(c) - 1)] for _, c in mine if c) for i in range(length)]
        row: dict[str, Any] = dict(
            seeds=[seed for seed, _ in mine], curves=[c for _, c in mine], runs=len(mine),
            final_hv=finals, final_hv_median=median(finals),
            final_hv_vs_best=[f / best if best else None for f in finals], median_curve=med,
        )
        for q in THRESHOLDS:
            need = [trials_to_reach(c, q * best) for _, c in mine]
            tag = f"{round(100 * q)}pct"
            row[f"trials_to_{tag}"] = need
            row[f"trials_to_{tag}_median"] = _median_with_misses(need)
        out["samplers"][name] = row
    return out


def efficiency(args: Any, log: Callable[[str], None]) -> dict[str, Any]:
    """Every sampler and seed of `args` (the command's options) on the study's landscape."""
    from search.study import load_study

    study = load_study(args.study, list(args.override))
    trials = args.trials or study.search.trials
    reference = study.reference_point()
    if any(r is None for r in reference):
        raise ConfigError(f"study '{study.name}' has no fixed hypervolume reference for every objective: {reference}")
    cache_path = Path(args.cache) if args.cache else REPO / "benchmarks" / "results" / f"search_cache_{study.name}_e{args.epochs}.json"
    log(f"efficiency: study {study.name}, space of {study.space.size()} parameter combinations, {trials} trials, "
        f"{args.epochs} epochs per architecture, reference point {reference}")
    cache = CurveCache(study, cache_path, log, epochs=args.epochs, threads=args.threads)
    start = time.perf_counter()
    runs = [run_sampler(study, cache, name, seed, trials, log)
            for seed in range(args.seeds) for name in args.samplers]
    # A second reference, at the worst measured value of every objective over all runs: the study's
    # energy reference (firing rate 1 of the costliest model) lies far beyond every measured energy
    # and its accuracy reference is 0, so its hypervolume is close to (best accuracy x reference
    # energy), and any decent model reaches 90% of the best at once. The range reference measures the
    # front inside the region the sampled architectures actually occupy.
    measured = [v for r in runs for v in r["values"] if v is not None]
    worst = [(min if d == "maximize" else max)(v[i] for v in measured) if measured else reference[i]
             for i, d in enumerate(study.directions)]
    return dict(
        study=study.name, trials=trials, seeds=args.seeds, epochs=args.epochs, samplers=list(args.samplers),
        directions=study.directions, metrics=study.metric_names, space_size=study.space.size(),
        study_reference=summarise(runs, args.samplers, study.directions, reference),
        range_reference=summarise(runs, args.samplers, study.directions, worst),
        runs=runs, architectures_in_cache=len(cache.results), trained_this_run=len(cache.trained),
        train_wall_s_this_run=sum(cache.results[k]["wall_s"] for k in cache.trained), wall_s=time.perf_counter() - start,
        cache=str(cache_path.relative_to(REPO)) if cache_path.is_relative_to(REPO) else str(cache_path),
        note="objectives of an architecture come from one seeded short training, cached by canonical key "
             "across samplers and seeds (same architecture -> same measured objectives)",
    )


def _median_with_misses(values: list[Optional[int]]) -> Optional[float]:
    """Median where a run that never reached the target counts as infinitely many trials."""
    ranked = sorted(math.inf if v is None else v for v in values)
    if not ranked:
        return None
    mid = len(ranked) // 2
    value = ranked[mid] if len(ranked) % 2 else (ranked[mid - 1] + ranked[mid]) / 2
    return None if math.isinf(value) else value
