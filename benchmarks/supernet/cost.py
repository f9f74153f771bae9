"""Cost to a front: the per-trial search against the supernet strategy, each charged its CPU-seconds,
and what weight sharing costs the architectures the supernet strategy confirms."""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from benchmarks.common import CurveCache, median, per_trial_search
from benchmarks.supernet.training import scorer_of


def per_trial_runs(study: Any, cache: CurveCache, sampler_name: str, seeds: list[int],
                   log: Callable[[str], None]) -> list[dict]:
    """The per-trial search with `sampler_name` over `study.search.trials` distinct architectures, per
    seed: the cumulative CPU-seconds and the objective values of every trained trial."""
    runs = []
    for seed in seeds:
        cpu: list[float] = []
        values: list[Optional[list[float]]] = []

        def train(trial: Any, key: str) -> tuple[str, Optional[list[float]]]:
            _, row = cache(trial.params)
            cpu.append((cpu[-1] if cpu else 0.0) + row["cpu_s"])
            values.append(None if row.get("failed") else [row[m] for m in study.metric_names])
            return ("FAIL", None) if values[-1] is None else ("COMPLETE", values[-1])

        outcomes, _ = per_trial_search(study, sampler_name, seed, study.search.trials, cache.key, train)
        runs.append(dict(seed=seed, keys=sorted(outcomes), cpu_s=cpu, values=values))
        log(f"  per-trial {sampler_name} seed {seed}: {len(outcomes)} trials, {cpu[-1]:.0f} CPU-s")
    return runs


def supernet_runs(study: Any, cache: CurveCache, folder: Path, supernet_cpu: float, seeds: list[int],
                  budgets: list[int], ks: list[int], log: Callable[[str], None]) -> list[dict]:
    """The supernet strategy per seed: candidates proposed by the study's sampler and scored on the
    supernet in `folder`, then for every (candidates, k) the k chosen trained stand-alone."""
    import optuna

    from search.front import Objectives
    from search.study import make_sampler
    from search.supernet import choose, search_candidates

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    objectives = Objectives.of(study.objectives, study.reference_point())
    score = scorer_of(study, folder, study.search.supernet)
    runs = []
    for seed in seeds:
        cstudy = optuna.create_study(directions=study.directions, sampler=make_sampler(
            study.search.sampler, seed=seed, budget=max(budgets)))
        scored: list[tuple[Any, dict, float]] = []
        start = time.process_time()
        search_candidates(cstudy, study, score, budget=max(budgets), stop=threading.Event(),
                          on_scored=lambda t, r, k: scored.append((t, r, time.process_time() - start)))
        log(f"  supernet seed {seed}: {len(scored)} candidates, {scored[-1][2]:.0f} CPU-s")
        for budget in budgets:
            pool = scored[:budget]
            for k in ks:
                picked = choose([[r[m] for m in objectives.metrics] for _, r, _ in pool], objectives.directions,
                                objectives.reference, k)
                confirmed = []
                for i in picked:
                    key, row = cache(dict(pool[i][0].params))
                    confirmed.append(dict(key=key, candidate=pool[i][0].number,
                                          inherited=[pool[i][1][m] for m in objectives.metrics],
                                          standalone=[row[m] for m in objectives.metrics], cpu_s=row["cpu_s"]))
                runs.append(dict(seed=seed, candidates=budget, k=k, confirmed=confirmed,
                                 cpu_s=dict(supernet=supernet_cpu, candidates=pool[-1][2],
                                            confirm=sum(c["cpu_s"] for c in confirmed))))
    return runs


def summarise(study: Any, per_trial: list[dict], supernet: list[dict], cache: CurveCache) -> dict:
    """Under the study's and the range reference point: the per-trial runs' hypervolume curves and the
    CPU-seconds to 95% of the best, and each supernet run's front against that best."""
    from search.front import hypervolume

    directions = list(study.directions)
    used = [r for r in cache.results.values() if not r.get("failed")]
    references = {"study": study.reference_point(),
                  "range": [min(r["val_acc"] for r in used), max(r["energy_mj"] for r in used)]}
    out: dict[str, Any] = {"references": references}
    for name, ref in references.items():
        curves = [_hypervolumes(r["values"], directions, ref) for r in per_trial]
        best = max(c[-1] for c in curves)
        target = 0.95 * best
        to_target = []
        for r, c in zip(per_trial, curves):
            hit = next((i for i, v in enumerate(c) if v >= target), None)
            to_target.append(None if hit is None else dict(trials=hit + 1, cpu_s=r["cpu_s"][hit]))
        rows = []
        for s in supernet:
            hv = hypervolume([c["standalone"] for c in s["confirmed"]], directions, ref)
            cost = sum(s["cpu_s"].values())
            rows.append(dict(seed=s["seed"], candidates=s["candidates"], k=s["k"], hv_vs_best=hv / best,
                             reached=hv >= target, cpu_s=cost, parts=s["cpu_s"]))
        reached = [t["cpu_s"] for t in to_target if t]
        out[name] = dict(best_per_trial_hv=best, per_trial_final_vs_best=[c[-1] / best for c in curves],
                         per_trial_to_95pct=to_target,
                         per_trial_cpu_to_95pct_median=median(reached) if len(reached) == len(to_target) else None,
                         per_trial_total_cpu=[r["cpu_s"][-1] for r in per_trial], supernet=rows)
    return out


def _hypervolumes(values: list[Optional[list[float]]], directions: list[str], reference: list[float]) -> list[float]:
    """The hypervolume of the first i trials' front, for every i (a failed trial adds no point)."""
    from search.front import hypervolume

    out = []
    for i in range(len(values)):
        points = [v for v in values[:i + 1] if v is not None]
        out.append(hypervolume(points, directions, reference) if points else 0.0)
    return out


def sharing_cost(per_trial: list[dict], supernet: list[dict]) -> list[dict]:
    """Per confirmed architecture: inherited vs stand-alone accuracy, and the per-trial runs' best
    stand-alone accuracy at the same or lower energy."""
    rows = []
    for s in supernet:
        for c in s["confirmed"]:
            acc, energy = c["standalone"]
            rivals = []
            for r in per_trial:
                ok = [v[0] for v in r["values"] if v is not None and v[1] <= energy]
                rivals.append(max(ok) if ok else None)
            rows.append(dict(seed=s["seed"], candidates=s["candidates"], k=s["k"], candidate=c["candidate"],
                             inherited_acc=c["inherited"][0], standalone_acc=acc, energy_mj=energy,
                             per_trial_best_acc_at_energy=rivals))
    return rows
