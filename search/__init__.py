"""The multi-objective mixer search: studies, Pareto fronts, export, reports, and the
Ray / Optuna / MLflow runner.

Packages, from the bottom layer up; each imports only packages before it (a test keeps it so):

    records   what a search stores on an Optuna trial, keys, the stores' addresses
    study     the study file: schema, objectives, samplers, loading
    front     Pareto geometry, the front of a study, a study read back read-only
    tracking  MLflow: the tracker, the trial log, the outbox
    trials    one trial's path: ledger, outcome, early stopping, events, Ray adapter, trainable
    supernet  one-shot search: the supernet strategy's phases
    report    what a study says: placement, importance, convergence, comparison, figures
    export    one architecture as an fwformer YAML with its provenance (`python -m search.export`)
    run       the command `python -m search.run` and the composition of one study execution

`import search` stays cheap: the names below load their package on first use.
"""
from __future__ import annotations

import importlib
from typing import Any

#: The order of the layers, bottom first (read by the import-direction test).
LAYERS = ("records", "study", "front", "tracking", "trials", "supernet", "report", "export", "run")

_LAZY = {
    "load_study": "search.study",
    "Study": "search.study",
    "export_architecture": "search.export",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'search' has no attribute {name!r}")
