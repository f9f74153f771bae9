"""Search efficiency of the samplers, and the overhead of the search machinery.

    python -m benchmarks.search [--study quickstart] [--seeds 3] [--trials N] [--epochs E]
                                [--samplers tpe nsga2 random] [--json FILE] [--overhead-trials N]
                                [--no-efficiency] [--no-overhead]

Efficiency: for every sampler and seed, an Optuna study over the study's space asks and tells
one architecture at a time, as `search.ledger` does (same samplers from
`search.samplers.make_sampler`, same budget rule: a repeat of an architecture already trained in
this run is told its earlier outcome and does not count). Each architecture is trained with the
real `fwformer.train.train` on the study's data and settings, shortened to `--epochs`, and its
(val_acc, energy_mj) is cached by the space's canonical key across samplers and seeds: training is
seeded and deterministic on the CPU, so the same architecture gets the same measured objectives
wherever it is proposed, and every sampler is judged on the same landscape. The hypervolume after
every trained trial uses one reference point for all runs (the study's: accuracy 0, energy at
firing rate 1 of the most expensive model of the space). Reported: the curves, and the trials each
sampler needs to reach 90% of the best hypervolume any run reached.

Overhead: `python -m search.run --study NAME search.trials=N search.max_concurrent=1|2 ...` in a
temporary directory (its own Optuna and MLflow sqlite files). Per trial, from the Optuna storage:
wall time (the trial's start to its completion as the driver recorded them), training time
(`train_time_s`: the epochs' training loops) and an estimate of evaluation time (validation passes
and the final energy/latency measurements: epochs x validation batches x the measured inference
latency per batch). The rest (Ray scheduling and worker start-up, model building, data loading,
checkpoints, MLflow logging, the driver's bookkeeping) is the overhead. Trials per hour are
counted over the whole command (start-up included) and over the steady state (first to last
trial completion).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

from benchmarks.common import REPO, check_outputs, fmt, machine_info, median, write_json
from fwformer.errors import ConfigError, closest, exit_on_user_error

SAMPLERS = ("tpe", "nsga2", "random")
from search.trials import MAX_REPEATS  # noqa: E402 - the search's own rule for an exhausted space


# ------------------------------------------------------------------------------------ efficiency


class Evaluator:
    """Trains architectures of a study with short training; results cached by canonical key."""

    def __init__(self, study, *, epochs: int, threads: Optional[int], cache_path: Optional[Path],
                 log: Callable[[str], None]):
        from fwformer.data import build_datasets, with_data_geometry

        self.study = study
        self.epochs = epochs
        self.threads = threads
        self.log = log
        self.cache_path = cache_path
        self.cache: dict[str, dict[str, Any]] = {}
        self.fingerprint = self._fingerprint()
        if cache_path is not None and cache_path.is_file():
            stored = json.loads(cache_path.read_text())
            differ = _differences(stored.get("fingerprint", {}), self.fingerprint)
            if not differ:
                self.cache = stored["results"]
                log(f"  cache: {len(self.cache)} architectures from {cache_path}")
            else:
                raise ConfigError(f"cache {cache_path} was made with other settings ({', '.join(differ)}); "
                                  f"pass another --cache file or delete it")
        self.datasets = build_datasets(with_data_geometry(study.base))
        self.trained = 0
        self.train_wall_s = 0.0

    def _fingerprint(self) -> dict[str, Any]:
        from fwformer.config import config_to_dict

        base = config_to_dict(self.study.base)
        return dict(study=self.study.name, epochs=self.epochs, data=base["data"],
                    train={k: v for k, v in base["train"].items() if k not in ("epochs", "num_threads", "device")})

    def config(self, params: dict):
        cfg = self.study.trial_config(params)
        cfg.train.epochs = self.epochs
        cfg.train.device = "cpu"
        if self.threads is not None:
            cfg.train.num_threads = self.threads
        return cfg

    def __call__(self, params: dict) -> tuple[str, dict[str, Any]]:
        from fwformer.train import NonFiniteLossError, train

        cfg = self.config(params)
        key = self.study.space.canonical_key(cfg)
        if key not in self.cache:
            start = time.perf_counter()
            try:
                result = train(cfg, progress=False, datasets=self.datasets)
                row = {m: float(result[m]) for m in self.study.metric_names}
                row.update(train_time_s=result["train_time_s"], params=result["params"], failed=False)
            except NonFiniteLossError as err:
                row = dict(failed=True, error=str(err))
            row.update(mixers=list(cfg.block_mixers), T=cfg.T, wall_s=time.perf_counter() - start)
            self.cache[key] = row
            self.trained += 1
            self.train_wall_s += row["wall_s"]
            self.save()
            values = " ".join(f"{m}={row[m]:.4g}" for m in self.study.metric_names if m in row)
            self.log(f"    trained #{len(self.cache)} T={cfg.T} {'|'.join(cfg.block_mixers)}: {values} "
                     f"({row['wall_s']:.1f}s)")
        return key, self.cache[key]

    def save(self) -> None:
        if self.cache_path is not None:
            write_json(self.cache_path, dict(fingerprint=self.fingerprint, results=self.cache))


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Keys whose values differ between two fingerprints. A key present on one side only is a field
    added to (or removed from) the config schema since, and does not count: its value is the default."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) & set(b)):
            out += _differences(a[key], b[key], f"{prefix}{key}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


def run_sampler(study, evaluator: Evaluator, sampler_name: str, seed: int, trials: int,
                log: Callable[[str], None]) -> dict[str, Any]:
    """One ask/tell search; the objective values of every trained (non-repeat) trial, in order."""
    import optuna

    from search.study import make_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = make_sampler(sampler_name, seed=seed, budget=trials)
    ostudy = optuna.create_study(directions=study.directions, sampler=sampler)
    distributions = study.space.distributions()
    seen: dict[str, Optional[list[float]]] = {}
    repeats_in_a_row = proposals = 0
    while len(seen) < trials and repeats_in_a_row < MAX_REPEATS:
        trial = ostudy.ask(distributions)
        proposals += 1
        key, row = evaluator(trial.params)
        if row.get("failed"):
            ostudy.tell(trial, state=optuna.trial.TrialState.FAIL)
            values = None
        else:
            values = [row[m] for m in study.metric_names]
            ostudy.tell(trial, values)
        if key in seen:
            repeats_in_a_row += 1
            continue
        repeats_in_a_row = 0
        seen[key] = values
    log(f"  {sampler_name} seed {seed}: {len(seen)} trials ({proposals} proposals)")
    return dict(sampler=sampler_name, seed=seed, proposals=proposals, keys=list(seen), values=list(seen.values()))


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
    for i, value in enumerate(curve):
        if value >= target - 1e-12:
            return i + 1
    return None


THRESHOLDS = (0.9, 0.95, 0.99)


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


def efficiency(args, log: Callable[[str], None]) -> dict[str, Any]:
    from search.study import load_study

    study = load_study(args.study, list(args.override))
    trials = args.trials or study.search.trials
    reference = study.reference_point()
    if any(r is None for r in reference):
        raise ConfigError(f"study '{study.name}' has no fixed hypervolume reference for every objective: {reference}")
    cache_path = Path(args.cache) if args.cache else REPO / "benchmarks" / "results" / f"search_cache_{study.name}_e{args.epochs}.json"
    log(f"efficiency: study {study.name}, space of {study.space.size()} parameter combinations, {trials} trials, "
        f"{args.epochs} epochs per architecture, reference point {reference}")
    evaluator = Evaluator(study, epochs=args.epochs, threads=args.threads, cache_path=cache_path, log=log)
    start = time.perf_counter()
    runs = [run_sampler(study, evaluator, name, seed, trials, log)
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
        runs=runs, architectures_in_cache=len(evaluator.cache), trained_this_run=evaluator.trained,
        train_wall_s_this_run=evaluator.train_wall_s, wall_s=time.perf_counter() - start,
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


# ------------------------------------------------------------------------------------ overhead


def overhead_run(study: str, trials: int, concurrent: int, epochs: int, extra: list[str], timeout: float,
                 log: Callable[[str], None]) -> dict[str, Any]:
    """`search.run` in a temporary directory; per-trial timings from its Optuna storage."""
    import optuna

    with tempfile.TemporaryDirectory(prefix="fwformer-search-bench-") as tmp:
        cmd = [sys.executable, "-m", "search.run", "--study", study, f"search.trials={trials}",
               f"search.max_concurrent={concurrent}", f"train.epochs={epochs}", *extra,
               "--storage", f"sqlite:///{tmp}/optuna.db", "--tracking-uri", f"sqlite:///{tmp}/mlflow.db"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                   RAY_USAGE_STATS_ENABLED="0")
        log(f"  overhead: {' '.join(cmd[1:])} (in {tmp})")
        start = time.time()
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=timeout)
            rc, out_tail = proc.returncode, (proc.stdout + proc.stderr)[-3000:]
        except subprocess.TimeoutExpired as err:
            rc = None
            out_tail = ((err.stdout or b"").decode(errors="replace") + (err.stderr or b"").decode(errors="replace"))[-3000:]
        wall = time.time() - start
        result: dict[str, Any] = dict(command="python " + " ".join(cmd[1:]).replace(tmp, "<tmp>"), concurrent=concurrent,
                                      trials_requested=trials, epochs=epochs, returncode=rc, command_wall_s=wall)
        db = Path(tmp) / "optuna.db"
        if not db.is_file():
            result["error"] = "no Optuna storage was written"
            result["output_tail"] = out_tail
            return result
        storage = f"sqlite:///{db}"
        names = optuna.study.get_all_study_names(storage)
        if not names:
            result["error"] = "the Optuna storage holds no study"
            result["output_tail"] = out_tail
            return result
        ostudy = optuna.load_study(study_name=names[0], storage=storage)
        rows = []
        for t in ostudy.trials:
            if t.user_attrs.get("duplicate_of") is not None or t.datetime_start is None or t.datetime_complete is None:
                continue
            metrics = t.user_attrs.get("metrics") or {}
            trial_wall = (t.datetime_complete - t.datetime_start).total_seconds()
            train_s = metrics.get("train_time_s")
            eval_s = estimate_eval_s(metrics)
            rows.append(dict(number=t.number, state=t.state.name, wall_s=trial_wall, train_time_s=train_s,
                             eval_est_s=eval_s, T=(t.user_attrs.get("config") or {}).get("T"),
                             start=t.datetime_start.timestamp(), complete=t.datetime_complete.timestamp()))
        done = [r for r in rows if r["state"] == "COMPLETE" and r["train_time_s"] is not None]
        result["trials"] = rows
        result["completed"] = len(done)
        if rc != 0:
            result["output_tail"] = out_tail
        if not done:
            result["error"] = "no COMPLETE trial with metrics"
            return result
        walls = sum(r["wall_s"] for r in done)
        trains = sum(r["train_time_s"] for r in done)
        evals = sum(r["eval_est_s"] or 0.0 for r in done)
        result.update(
            share_outside_training=1 - trains / walls,
            share_outside_training_and_eval=1 - (trains + evals) / walls,
            median_trial_wall_s=median(r["wall_s"] for r in done),
            median_train_time_s=median(r["train_time_s"] for r in done),
            median_eval_est_s=median(r["eval_est_s"] for r in done),
            trials_per_hour_end_to_end=3600 * len(done) / wall,
        )
        # Over the whole command: core-seconds (wall x concurrent trials) not spent training or
        # evaluating, start-up (Ray, study checks) and wrap-up (front, plots, export) included.
        result["share_of_command_outside_training_and_eval"] = 1 - (trains + evals) / (wall * concurrent)
        result["startup_s"] = min(r["start"] for r in rows) - start
        result["wrapup_s"] = start + wall - max(r["complete"] for r in rows)
        completes = sorted(r["complete"] for r in done)
        if len(completes) >= 2 and completes[-1] > completes[0]:
            result["trials_per_hour_steady"] = 3600 * (len(completes) - 1) / (completes[-1] - completes[0])
        return result


def estimate_eval_s(metrics: dict[str, Any]) -> Optional[float]:
    """Validation passes and final measurements, from a trial's own inference latency."""
    latency, batch, n_val, epochs = (metrics.get(k) for k in ("latency_ms", "latency_batch_size", "num_val", "epochs"))
    if None in (latency, batch, n_val, epochs) or not batch:
        return None
    batches = math.ceil(n_val / batch)
    # Every epoch: one validation pass plus one batch for its firing rate; at the end: the energy
    # meter on `energy_batches` (2 by default) batches and the latency measurement (~a few batches).
    return latency / 1000 * (epochs * (batches + 1) + 2 + 5)


def overhead(args, log: Callable[[str], None]) -> dict[str, Any]:
    runs = []
    for concurrent in args.concurrency:
        runs.append(overhead_run(args.study, args.overhead_trials, concurrent, args.overhead_epochs,
                                 list(args.override), args.timeout, log))
        r = runs[-1]
        if "error" in r:
            log(f"    concurrency {concurrent}: {r['error']} (exit {r['returncode']})")
        else:
            log(f"    concurrency {concurrent}: {r['completed']} trials in {r['command_wall_s']:.0f}s, "
                f"{r['share_outside_training_and_eval']:.0%} of trial wall outside training+eval, "
                f"{r['trials_per_hour_end_to_end']:.0f} trials/h end to end")
    return dict(runs=runs)


# ------------------------------------------------------------------------------------ output


def report(payload: dict[str, Any]) -> str:
    lines = []
    eff = payload.get("efficiency")
    if eff:
        lines.append(f"== search efficiency: study {eff['study']}, {eff['trials']} trials x {eff['seeds']} seeds, "
                     f"{eff['epochs']} epochs per architecture ==")
        for label, key in (("study reference", "study_reference"), ("range reference", "range_reference")):
            s = eff[key]
            lines.append(f"{label} {[float(f'{r:.4g}') for r in s['reference']]}: best hypervolume seen "
                         f"{s['best_hv']:.5g} (front of all runs together {s['union_hv']:.5g})")
            lines.append(f"  {'sampler':<8} {'trials to 90%':<14} {'median':>6}  {'to 95%':<14} {'median':>6}  "
                         f"{'to 99%':<14} {'median':>6}  final HV / best (per seed)")
            for name, r in s["samplers"].items():
                cells = []
                for q in THRESHOLDS:
                    tag = f"{round(100 * q)}pct"
                    need = ",".join("-" if n is None else str(n) for n in r[f"trials_to_{tag}"])
                    cells.append(f"{need:<14} {fmt(r[f'trials_to_{tag}_median'], '.1f'):>6}")
                finals = ", ".join(fmt(f, ".3f") for f in r["final_hv_vs_best"])
                lines.append(f"  {name:<8} {'  '.join(cells)}  {finals}")
        lines.append(f"('-': did not reach 90% of the best hypervolume within the budget; "
                     f"{eff['architectures_in_cache']} distinct architectures in the cache)")
    ov = payload.get("overhead")
    if ov:
        lines.append("== search overhead (python -m search.run) ==")
        lines.append(f"{'concurrent':>10} {'trials':>6} {'trial wall s':>12} {'train s':>8} {'eval s':>7} "
                     f"{'outside train':>13} {'outside train+eval':>18} {'whole cmd':>9} {'trials/h':>8} {'steady/h':>8}")
        for r in ov["runs"]:
            if "error" in r:
                lines.append(f"{r['concurrent']:>10} error: {r['error']} (exit {r['returncode']})")
                continue
            lines.append(
                f"{r['concurrent']:>10} {r['completed']:>6} {fmt(r['median_trial_wall_s'], '.1f'):>12} "
                f"{fmt(r['median_train_time_s'], '.1f'):>8} {fmt(r['median_eval_est_s'], '.1f'):>7} "
                f"{fmt(100 * r['share_outside_training'], '.0f') + '%':>13} "
                f"{fmt(100 * r['share_outside_training_and_eval'], '.0f') + '%':>18} "
                f"{fmt(100 * r['share_of_command_outside_training_and_eval'], '.0f') + '%':>9} "
                f"{fmt(r['trials_per_hour_end_to_end'], '.0f'):>8} {fmt(r.get('trials_per_hour_steady'), '.0f'):>8}")
    return "\n".join(lines)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__.split("\n\n")[0])
    p.add_argument("--study", default="quickstart")
    p.add_argument("override", nargs="*", help="study dotlist overrides (e.g. space.T=[1,2])")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--trials", type=int, default=None, help="trained trials per search (default: the study's)")
    p.add_argument("--epochs", type=int, default=3, help="training epochs per architecture (efficiency part)")
    p.add_argument("--samplers", nargs="+", default=list(SAMPLERS))
    p.add_argument("--threads", type=int, default=None, help="torch threads per training (default: the study's)")
    p.add_argument("--cache", default=None, help="architecture result cache (JSON)")
    p.add_argument("--concurrency", nargs="+", type=int, default=[1, 2])
    p.add_argument("--overhead-trials", type=int, default=24, help="trials per search.run (default: quickstart's 24)")
    p.add_argument("--overhead-epochs", type=int, default=6, help="epochs per trial (default: quickstart's 6)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed per search.run command")
    p.add_argument("--no-efficiency", action="store_true")
    p.add_argument("--no-overhead", action="store_true")
    p.add_argument("--json", default=None, metavar="FILE")
    return p.parse_args(argv)


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> dict[str, Any]:
    args = parse_args(argv)
    check_outputs({"--json": args.json, "--cache": args.cache})
    for flag, value in (("--seeds", args.seeds), ("--trials", args.trials), ("--epochs", args.epochs),
                        ("--overhead-trials", args.overhead_trials)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be >= 1, but got {value}")
    from search.study import SAMPLERS as KNOWN

    for name in args.samplers:
        if name not in KNOWN:
            raise ConfigError(f"unknown sampler '{name}'{closest(name, KNOWN)}; expected one of: {', '.join(KNOWN)}")

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    payload: dict[str, Any] = dict(
        benchmark="search", command="python -m benchmarks.search " + " ".join(sys.argv[1:] if argv is None else argv),
        machine=machine_info("cpu"),
    )
    if not args.no_efficiency:
        payload["efficiency"] = efficiency(args, log)
        if args.json:
            write_json(args.json, payload)
    if not args.no_overhead:
        payload["overhead"] = overhead(args, log)
    payload["machine"]["load_average_end"] = list(os.getloadavg())
    print(report(payload), flush=True)
    if args.json:
        log(f"wrote {write_json(args.json, payload)}")
    return payload


if __name__ == "__main__":
    main()
