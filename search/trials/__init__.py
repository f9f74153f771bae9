"""One trial's path: the ledger that asks and tells Optuna, how a trial ended (`Outcome`), the
early-stopping rule, the driver's trial events, the Ray Tune adapter, the trainable that runs in a
Ray worker, its checkpoints, and the datasets shared with every worker of a node.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from search.trials.early_stop import EarlyStopRule, Fidelity, dominated_at_fidelity
from search.trials.events import TrialEvents, child_params, child_tags
from search.trials.ledger import MAX_REPEATS, StudyLedger
from search.trials.outcome import Outcome, classify, error_line, metrics_of
from search.trials.shared_data import datasets_of, shareable
from search.trials.trainable import train_and_report, trainable_from_env

if TYPE_CHECKING:
    from search.trials.ray_adapter import init_ray, is_infrastructure, run_tune, trial_error

# Ray reads its settings from the environment when it loads, and the driver sets them first
# (`search.run.environment`): the Ray adapter loads on first use, not with this package.
_LAZY = {name: "search.trials.ray_adapter" for name in ("init_ray", "is_infrastructure", "run_tune", "trial_error")}

__all__ = [
    "EarlyStopRule",
    "Fidelity",
    "MAX_REPEATS",
    "Outcome",
    "StudyLedger",
    "TrialEvents",
    "child_params",
    "child_tags",
    "classify",
    "datasets_of",
    "dominated_at_fidelity",
    "init_ray",
    "is_infrastructure",
    "error_line",
    "metrics_of",
    "run_tune",
    "shareable",
    "train_and_report",
    "trainable_from_env",
    "trial_error",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'search.trials' has no attribute {name!r}")
