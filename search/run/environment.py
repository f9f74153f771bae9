"""The process environment of a search driver: Ray's settings and quiet logs, set before Ray loads."""
from __future__ import annotations

import logging
import os
import warnings
from typing import Optional

#: Ray's switch for multi-host clusters; off, every Ray process uses (and binds) 127.0.0.1.
LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"

#: Read by Ray at import or init; `search.trials.ray_adapter` hands the worker-relevant ones to every node.
RAY_ENV = {
    "RAY_AIR_NEW_OUTPUT": "0",
    "RAY_CHDIR_TO_TRIAL_DIR": "0",  # trials keep the working directory; every path is absolute anyway
    "TUNE_DISABLE_SIGINT_HANDLER": "1",  # Ctrl-C is handled by the driver (search.run.signals)
    "RAY_USAGE_STATS_ENABLED": "0",  # offline
    "RAY_DEDUP_LOGS": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "1000",
    "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",
    "TUNE_RESULT_BUFFER_LENGTH": "1",  # one epoch per result: early stopping acts on time
}
#: MLflow's own HTTP retries last minutes (7 retries, backoff 2) and block the driver meanwhile; a
#: write that fails fast is kept by `search.tracking.outbox` and retried there, without stopping the search.
MLFLOW_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
              "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}


def prepare_environment(address: Optional[str]) -> None:
    """Ray's settings (unless the user set them) and logs down to errors: the driver's own progress
    lines are what a user reads.

    A Ray this driver starts, or a cluster on this machine's loopback address, is kept on 127.0.0.1:
    Ray otherwise advertises (and binds) the machine's interface address, reachable from outside.
    """
    for key, value in {**RAY_ENV, **MLFLOW_ENV}.items():
        os.environ.setdefault(key, value)
    if address is None or is_loopback(address):
        os.environ.setdefault(LOOPBACK_ENV, "0")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for name in ("ray", "ray.tune", "ray.train", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=".*ray.tune.*")


def is_loopback(address: str) -> bool:
    host = address.split("://")[-1].rsplit(":", 1)[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")
