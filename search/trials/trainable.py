"""The Ray Tune trainable of the search: the one module that calls `ray.tune.report`.

A trial trains one architecture with `fwformer.train.train` and reports every epoch (the driver's
early-stopping rule and MLflow logging read these), then one final result with `final: True`: the
training result (val_acc, energy_mj, params, latency, peak memory, images/s, train time, ...), or
`failed: True` with the error when training raised (NaN loss, out of memory, any exception). A
failure of the model is reported rather than raised, so that its message reaches the driver
intact and Ray never retries it; a worker that dies outright surfaces as a Ray trial error instead.
Workers write nothing to the Optuna or MLflow stores: the driver does.

`config` (built by `search.trials.ledger.StudyLedger.suggest`): number (the Optuna trial), config (the
resolved fwformer config), energy_bound_mj, checkpoint (the storage address of the checkpoint a
retried trial continues from, see `search.trials.checkpoints`), num_threads.

A seam for tests and wrappers: `FWFORMER_SEARCH_TRAINABLE=module:function` names another trainable
(same signature; it may call `train_and_report` with its own `train` function).
"""
from __future__ import annotations

import importlib
import os
import traceback
from pathlib import Path
from typing import Any, Callable, Optional

from fwformer.cli import ConfigError
from search.trials.outcome import error_line, metrics_of

TRAINABLE_ENV = "FWFORMER_SEARCH_TRAINABLE"
Train = Callable[..., dict]


def run_trial(config: dict, shared_data: Optional[dict] = None) -> None:
    """The trial. `shared_data`: the study's datasets from Ray's object store (`search.trials.shared_data`),
    handed over by `tune.with_parameters`; None: the trial loads its data itself."""
    from fwformer.train import train

    train_and_report(config, train, shared_data=shared_data)


def train_and_report(config: dict, train: Train, *, shared_data: Optional[dict] = None) -> None:
    """Train `config["config"]` with `train` (fwformer.train.train's signature), reporting to Ray Tune:
    every epoch with the epoch's checkpoint (persisted by Ray to its storage), then the final result.
    Afterwards the worker gives the memory the trial freed back to the system (it is kept for the
    next trial, `reuse_actors`)."""
    try:
        _train_and_report(config, train, shared_data)
    finally:
        release_free_memory()


def _train_and_report(config: dict, train: Train, shared_data: Optional[dict]) -> None:
    from ray import tune

    from search.trials.shared_data import datasets_of

    from fwformer.config import load_config
    from search.trials.checkpoints import open_checkpoint, restore_into

    energy_bound = float(config.get("energy_bound_mj", float("nan")))
    out_dir = Path(tune.get_context().get_trial_dir()) / "train"  # this attempt's own, node-local folder
    # Tune's own restart after an infrastructure failure, else the checkpoint a retried trial inherits.
    latest = tune.get_checkpoint() or (open_checkpoint(config["checkpoint"]) if config.get("checkpoint") else None)
    resumed = restore_into(out_dir, latest)

    def report(metrics: dict) -> bool:
        checkpoint = tune.Checkpoint.from_directory(str(out_dir)) if (out_dir / "checkpoint.pt").is_file() else None
        tune.report({**metrics_of(metrics), "energy_bound_mj": energy_bound, "final": False}, checkpoint=checkpoint)
        return False  # the driver's scheduler stops trials; training never stops itself here

    try:
        cfg = load_config(config["config"])
        if cfg.train.num_threads is None and config.get("num_threads"):
            cfg.train.num_threads = int(config["num_threads"])
        result = _train_or_restart(train, cfg, out_dir, resumed, report, datasets_of(shared_data))
    except Exception as err:  # noqa: BLE001 - every failure of the model is recorded, the search goes on
        tune.report({"final": True, "failed": True, "error": error_line(err),
                     "traceback": "".join(traceback.format_exception(err))[-4000:]})
        return
    tune.report({**metrics_of(result), "energy_bound_mj": energy_bound, "final": True, "failed": False})


def _train_or_restart(train: Train, cfg: Any, out_dir: Path, resume: bool, report: Callable[[dict], bool],
                      datasets: Optional[tuple]) -> dict:
    """Continue from the restored checkpoint; if the study was resumed with other training settings
    the checkpoint no longer matches, and the trial starts over rather than failing."""
    try:
        return train(cfg, out_dir=out_dir, report=report, resume=resume, progress=False, datasets=datasets)
    except ConfigError as err:
        if not resume or "cannot resume" not in str(err):
            raise
        (out_dir / "checkpoint.pt").unlink(missing_ok=True)
        return train(cfg, out_dir=out_dir, report=report, resume=False, progress=False, datasets=datasets)


def release_free_memory() -> None:
    """glibc keeps freed heap memory for reuse; `malloc_trim(0)` returns it to the system, so a worker
    waiting for its next trial holds what it needs, not its last trial's peak. A no-op elsewhere."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def trainable_from_env() -> Callable[[dict], None]:
    """`run_trial`, or the function `FWFORMER_SEARCH_TRAINABLE` names."""
    spec = os.environ.get(TRAINABLE_ENV)
    if not spec:
        return run_trial
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError) as err:
        raise ConfigError(f"{TRAINABLE_ENV}='{spec}' must name an importable module:function ({err})") from None
