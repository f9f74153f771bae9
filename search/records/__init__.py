"""What a search keeps and where: the attributes it stores on an Optuna trial (`TrialRecord`,
the kinds of trial and which of them count), names turned into keys every store accepts, and the
stores' addresses (the Optuna storage and the MLflow tracking store, by URL).

The bottom layer of `search`: it imports no other `search` package.
"""
from __future__ import annotations

from search.records.attributes import (
    CANDIDATES_SUFFIX, FINISHED, INFEASIBLE, LiveTrial, REPEAT, Result, STUDY_BASE, STUDY_RESOURCES, STUDY_SEARCH,
    SUPERNET, TRAINED, TrialRecord, counted, counted_in_order, interrupted_numbers, model_cost, retry_attrs,
)
from search.records.provenance import code_version
from search.records.keys import flatten_params, name_of_key, safe_key, safe_path
from search.records.stores import (
    artifact_url, default_sqlite, default_tracking_uri, redact, sqlite_path, ui_command, ui_server,
)

__all__ = [
    "CANDIDATES_SUFFIX",
    "SUPERNET",
    "code_version",
    "FINISHED",
    "INFEASIBLE",
    "LiveTrial",
    "REPEAT",
    "Result",
    "STUDY_BASE",
    "STUDY_RESOURCES",
    "STUDY_SEARCH",
    "TRAINED",
    "TrialRecord",
    "artifact_url",
    "counted",
    "counted_in_order",
    "default_sqlite",
    "default_tracking_uri",
    "flatten_params",
    "interrupted_numbers",
    "model_cost",
    "name_of_key",
    "redact",
    "retry_attrs",
    "safe_key",
    "safe_path",
    "sqlite_path",
    "ui_command",
    "ui_server",
]
