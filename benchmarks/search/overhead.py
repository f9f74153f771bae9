"""Search overhead: what `python -m search.run` costs beyond training and evaluating its trials.

`python -m search.run --study NAME search.trials=N search.max_concurrent=1|2 ...` runs in a
temporary directory (its own Optuna and MLflow sqlite files). Per trial, from the Optuna storage:
wall time (the trial's start to its completion as the driver recorded them), training time
(`train_time_s`: the epochs' training loops) and an estimate of evaluation time (validation passes
and the final energy/latency measurements: epochs x validation batches x the measured inference
latency per batch). The rest (Ray scheduling and worker start-up, model building, data loading,
checkpoints, MLflow logging, the driver's bookkeeping) is the overhead. Trials per hour are counted
over the whole command (start-up included) and over the steady state (first to last trial completion).
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

from benchmarks.common import REPO, median

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

