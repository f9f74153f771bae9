"""The Ray Tune trainable of the search: the one module that calls `ray.tune.report`.

A trial trains one architecture with `fwformer.train.train` and reports every epoch (the driver's
early-stopping rule and MLflow logging read these), then one final result with `final: True`: the
training result (val_acc, energy_mj, params, latency, peak memory, images/s, train time, ...), or
`failed: True` with the error when training raised (NaN loss, out of memory, any exception). A
failure is reported rather than raised so that its message reaches the driver intact; a worker
that dies outright (killed for memory) surfaces as a Ray trial error instead, and the driver
records both as FAIL. Workers write nothing to the Optuna or MLflow databases: the driver does.

`config` (built by `search.searcher.StudyLedger.suggest`): number (the Optuna trial), config (the
resolved fwformer config), energy_bound_mj, out_dir (absolute), resume, num_threads, fault.

`fault` is a test hook, set from the driver's FWFORMER_SEARCH_FAULTS environment variable
(`<trial>:<kind>,...`): `raise` raises before training, `nan` trains with an infinite learning
rate (so the loss turns NaN), `acc0` reports a validation accuracy of 0 at every epoch (so the
early-stopping rule has a clear loser).
"""
from __future__ import annotations

import math
import traceback
from typing import Any

FAULTS = ("raise", "nan", "acc0")


def run_trial(config: dict) -> None:
    from ray import tune

    from fwformer.config import load_config

    fault = config.get("fault")
    energy_bound = float(config.get("energy_bound_mj", float("nan")))

    def report(metrics: dict) -> bool:
        metrics = scalars(metrics)
        if fault == "acc0":
            metrics["val_acc"] = 0.0
        tune.report({**metrics, "energy_bound_mj": energy_bound, "final": False})
        return False  # the driver's scheduler stops trials; training never stops itself here

    try:
        cfg = load_config(config["config"])
        if cfg.train.num_threads is None and config.get("num_threads"):
            cfg.train.num_threads = int(config["num_threads"])
        if fault == "raise":
            raise RuntimeError("injected fault (FWFORMER_SEARCH_FAULTS)")
        if fault == "nan":
            cfg.train.lr = float("inf")  # passes the config checks, then the loss turns NaN
        result = _train(cfg, config, report)
    except Exception as err:  # noqa: BLE001 - every failure is recorded, the search goes on
        tune.report({"final": True, "failed": True, "error": error_line(err),
                     "traceback": "".join(traceback.format_exception(err))[-4000:]})
        return
    result = scalars(result)
    if fault == "acc0":
        result["val_acc"] = 0.0
    tune.report({**result, "energy_bound_mj": energy_bound, "final": True, "failed": False})


def _train(cfg: Any, config: dict, report: Any) -> dict:
    """Train; an interrupted trial continues from its last epoch checkpoint when there is one."""
    from pathlib import Path

    from fwformer.errors import ConfigError
    from fwformer.train import train

    out_dir, resume = config.get("out_dir"), bool(config.get("resume"))
    try:
        return train(cfg, out_dir=out_dir, report=report, resume=resume, progress=False)
    except ConfigError as err:
        # The study was resumed with other training settings: the checkpoint no longer matches,
        # so the trial starts over rather than failing.
        if not resume or "cannot resume" not in str(err):
            raise
        (Path(out_dir) / "checkpoint.pt").unlink(missing_ok=True)
        return train(cfg, out_dir=out_dir, report=report, resume=False, progress=False)


def error_line(err: BaseException) -> str:
    """`Type: first line of the message`, short enough for a tag."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    line = f"{type(err).__name__}: {text}" if text else type(err).__name__
    return line[:500]


def scalars(metrics: dict) -> dict[str, Any]:
    """The plain numbers (and short strings) of a metrics dict; NaN stays NaN."""
    out: dict[str, Any] = {}
    for k, v in metrics.items():
        if isinstance(v, bool):
            out[k] = v
        elif isinstance(v, (int, float)):
            out[k] = v
        elif hasattr(v, "item") and getattr(v, "ndim", 1) == 0:  # numpy / torch scalars
            out[k] = v.item()
        elif isinstance(v, str) and len(v) < 500:
            out[k] = v
    return out


def is_finite_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
