"""Each search strategy replayed on the cached curves, one trial at a time, charged CPU-seconds.

A run is a list of events in the order they happened: `cpu_s` the run's CPU-seconds so far, and
`values` (val_acc, energy_mj) when the event adds a finished architecture to the run's front.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, Optional

from benchmarks.common import CurveCache, NotCached, per_trial_search, random_architectures

RULES = ("energy", "median")  # search.trials' energy-aware rule; a plain accuracy median over every trial


def per_trial(study: Any, cache: CurveCache, seed: int, rule: Optional[str], log: Callable[[str], None], *,
              name: Optional[str] = None, grace_epochs: Optional[int] = None) -> dict:
    """The per-trial search with one trial at a time (`benchmarks.common.per_trial_search`: a repeat of
    an architecture is told its earlier outcome and does not count); with a rule, every epoch from the
    grace epoch (the study's, or `grace_epochs`) on is checked by `search.trials.Fidelity` against the
    trials before it. With a cache that may not train, the run ends at the first trial it does not
    hold, marked `partial` (the same seed proposes the same trials given the same outcomes, so this is
    the run so far)."""
    import dataclasses

    from search.trials import EarlyStopRule, Fidelity

    stop_rule = EarlyStopRule.from_study(study) if rule else EarlyStopRule()
    if grace_epochs is not None:
        stop_rule = dataclasses.replace(stop_rule, grace_epochs=grace_epochs)
    fidelity = Fidelity(stop_rule, "val_acc", int(study.base.train.epochs))
    events: list[dict] = []

    def train(trial: Any, key: str) -> tuple[str, Optional[list]]:
        # The energy rule compares with trials that cost no more; the median rule with every trial.
        fidelity.add(trial.number, row_bound(cache, trial.params) if rule == "energy" else 0.0)
        row, stopped = _run_trial(cache, trial, fidelity, rule is not None)
        if row["failed"]:
            state, values, charged = "FAIL", None, row["cpu_s"]
        elif stopped is not None:
            state, values, charged = "PRUNED", None, stopped["cpu_s"]
        else:
            state, values, charged = "COMPLETE", [row["val_acc"], row["energy_mj"]], row["cpu_s"]
        spent = (events[-1]["cpu_s"] if events else 0.0) + charged
        events.append(dict(key=key, state=state, cpu_s=spent, values=values,
                           stopped_at=None if stopped is None else stopped["epoch"]))
        return state, values

    partial = False
    try:
        per_trial_search(study, study.search.sampler, seed, study.search.trials, cache.key, train)
    except NotCached:
        partial = True
    name = name or ("tpe" if rule is None else f"tpe+early-stop-{rule}")
    pruned = sum(e["state"] == "PRUNED" for e in events)
    spent = events[-1]["cpu_s"] if events else 0.0
    log(f"  {name} seed {seed}: {len(events)} trials ({pruned} stopped early), {spent:.0f} CPU-s"
        + (" so far (the cache holds no more)" if partial else ""))
    return dict(strategy=name, seed=seed, events=events, **({"partial": True} if partial else {}))


_BOUNDS: dict[str, float] = {}  # canonical key -> energy at firing rate 1 (computing it builds the model)


def row_bound(cache: CurveCache, params: dict) -> float:
    """Energy at firing rate 1 (known before training, as the search knows it)."""
    from search.records import model_cost

    key = cache.key(params)
    if key not in _BOUNDS:
        row = cache.results.get(key)
        _BOUNDS[key] = row["energy_bound_mj"] if row else model_cost(cache.study.trial_config(params))[1]
    return _BOUNDS[key]


def _run_trial(cache: CurveCache, trial: Any, fidelity: Any, rule: bool) -> tuple[dict, Optional[dict]]:
    """The trial's row and the epoch its rule stopped it at (None: it ran to the end). A cached
    curve is replayed through the rule first; training happens only where the cache falls short."""
    row = cache.get(trial.params)
    if row is not None:
        stopped = next((e for e in row["epochs"] if rule and fidelity.record(trial.number, e)), None)
        if stopped is not None or row.get("complete", True):
            return row, stopped
    _, row = cache(trial.params, stop=(lambda m: fidelity.record(trial.number, m)) if rule else None)
    return row, (row["epochs"][-1] if not row["complete"] else None)


_SCORED: dict[tuple, tuple[list, float]] = {}  # (scorer, seed, candidates) -> scored candidates, their CPU-s


def scored_candidates(study: Any, score: Callable, seed: int, candidates: int) -> tuple[list, float]:
    """`candidates` sub-networks proposed by the study's sampler and scored with inherited weights, as
    `search.supernet.candidates` does, and the CPU-seconds that took; remembered, since scoring is
    deterministic: a second configuration over the same scored pool is charged the same cost."""
    import optuna

    from search.study import make_sampler
    from search.supernet import search_candidates

    memo = (id(score), seed, candidates)
    if memo not in _SCORED:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        cstudy = optuna.create_study(directions=study.directions,
                                     sampler=make_sampler(study.search.sampler, seed=seed, budget=candidates))
        scored: list[tuple[Any, dict]] = []
        start = time.process_time()
        search_candidates(cstudy, study, score, budget=candidates, stop=threading.Event(),
                          on_scored=lambda t, r, k: scored.append((t, r)))
        _SCORED[memo] = ([(dict(t.params), [r["val_acc"], r["energy_mj"]]) for t, r in scored],
                         time.process_time() - start)
    return _SCORED[memo]


def _confirm(cache: CurveCache, params: dict, inherited: list, cpu: float) -> dict:
    key, row = cache(params)
    cpu += row["cpu_s"]
    values = None if row["failed"] else [row["val_acc"], row["energy_mj"]]
    return dict(key=key, state="FAIL" if row["failed"] else "COMPLETE", cpu_s=cpu, values=values, inherited=inherited)


def supernet(study: Any, cache: CurveCache, score: Callable, seed: int, supernet_cpu: float, *, name: str,
             candidates: int, confirm: int, log: Callable[[str], None]) -> dict:
    """`search.strategy: supernet`: the scored candidates, then the best `confirm` of their front
    (search.supernet.confirm.choose) trained stand-alone one after another."""
    from search.front import Objectives
    from search.supernet import choose

    objectives = Objectives.of(study.objectives, study.reference_point())
    pool, scoring_cpu = scored_candidates(study, score, seed, candidates)
    cpu = supernet_cpu + scoring_cpu
    events = [dict(key=None, state="SCORED", cpu_s=cpu, values=None)]
    for i in choose([v for _, v in pool], objectives.directions, objectives.reference, confirm):
        events.append(_confirm(cache, pool[i][0], pool[i][1], events[-1]["cpu_s"]))
    log(f"  {name} seed {seed}: {len(pool)} scored, {confirm} confirmed, {events[-1]['cpu_s']:.0f} CPU-s "
        f"({supernet_cpu:.0f} of them training the supernet)")
    return dict(strategy=name, seed=seed, events=events)


def corrected(pool: list, confirmed: dict[int, list]) -> list[list[float]]:
    """Every candidate's inherited (val_acc, energy) corrected by what confirmation measured so far:
    accuracy by a least-squares fit of stand-alone on inherited accuracy and log2 T (a shift by the
    mean gap until three are confirmed), energy by the median stand-alone / inherited ratio; the
    confirmed candidates take their measured values."""
    import numpy as np

    done = [i for i, v in confirmed.items() if v is not None]
    if not done:
        return [list(v) for _, v in pool]
    inherited = np.array([pool[i][1] for i in done])
    measured = np.array([confirmed[i] for i in done])
    ratio = float(np.median(measured[:, 1] / inherited[:, 1]))
    features = lambda idx: np.column_stack([np.ones(len(idx)), [pool[i][1][0] for i in idx],  # noqa: E731
                                            [np.log2(pool[i][0]["T"]) for i in idx]])
    if len(done) >= 3:
        weights = np.linalg.lstsq(features(done), measured[:, 0], rcond=None)[0]
        acc = features(range(len(pool))) @ weights
    else:
        acc = np.array([v[0] for _, v in pool]) + float(np.mean(measured[:, 0] - inherited[:, 0]))
    out = [[float(a), float(v[1] * ratio)] for a, (_, v) in zip(acc, pool)]
    for i in done:
        out[i] = list(confirmed[i])
    return out


def supernet_rounds(study: Any, cache: CurveCache, score: Callable, seed: int, supernet_cpu: float, *, name: str,
                    candidates: int, rounds: int, per_round: int, log: Callable[[str], None]) -> dict:
    """Confirmation in rounds: confirm `per_round`, correct every candidate's score with what they
    measured (`corrected`), choose the next `per_round` from the corrected front of the candidates
    not yet confirmed and not dominated by a confirmed one, and so on for `rounds` rounds."""
    from search.front import Objectives
    from search.front import pareto_mask
    from search.supernet import choose

    objectives = Objectives.of(study.objectives, study.reference_point())
    pool, scoring_cpu = scored_candidates(study, score, seed, candidates)
    events = [dict(key=None, state="SCORED", cpu_s=supernet_cpu + scoring_cpu, values=None)]
    confirmed: dict[int, Optional[list]] = {}
    for _ in range(rounds):
        points = corrected(pool, confirmed)
        actual = [v for v in confirmed.values() if v is not None]
        open_ = [i for i in range(len(pool)) if i not in confirmed
                 and (not actual or pareto_mask([*actual, points[i]], objectives.directions)[-1])]
        if not open_:
            break
        for j in choose([points[i] for i in open_], objectives.directions, objectives.reference, per_round):
            i = open_[j]
            events.append(_confirm(cache, pool[i][0], pool[i][1], events[-1]["cpu_s"]))
            confirmed[i] = events[-1]["values"]
    log(f"  {name} seed {seed}: {len(pool)} scored, {len(confirmed)} confirmed in rounds of {per_round}, "
        f"{events[-1]['cpu_s']:.0f} CPU-s")
    return dict(strategy=name, seed=seed, events=events)


def random_fidelity(study: Any, cache: CurveCache, score: Callable, n: int, seed: int) -> list[dict]:
    """Inherited and stand-alone (val_acc, energy_mj) of `n` architectures drawn uniformly
    (`benchmarks.common.random_architectures`; one whose training failed is replaced by the next
    draw), and the inherited val_loss (a finer score than accuracy where few validation images separate
    paths)."""
    from search.supernet import choice_of

    out = []
    for params in random_architectures(study, seed, key=cache.key):
        if len(out) == n:
            break
        key, row = cache(params)
        if row["failed"] or not math.isfinite(row["val_acc"]):
            continue
        inherited = score(choice_of(study.trial_config(params)))
        out.append(dict(key=key, standalone=[row["val_acc"], row["energy_mj"]],
                        inherited=[inherited["val_acc"], inherited["energy_mj"]], inherited_loss=inherited["val_loss"]))
    return out
