"""The command `python -m search.run` and the composition of one study execution: the plan checked
before anything is created, the services it needs, the process environment, signals, terminal
progress, resuming after an interruption, and the files written at the end.
"""
from __future__ import annotations

from search.run.artifacts import write_report_artifacts
from search.run.environment import MLFLOW_ENV
from search.run.plan import SETUP_COMPLETE, prepare
from search.run.progress import Progress
from search.run.resume import backfill_hypervolume, reconcile, recover_interrupted
from search.run.run import build_parser, main
from search.run.services import check_ray_address, check_storage, check_tracking, unreachable
from search.run.setup import open_records

__all__ = [
    "MLFLOW_ENV",
    "Progress",
    "SETUP_COMPLETE",
    "backfill_hypervolume",
    "build_parser",
    "check_ray_address",
    "check_storage",
    "check_tracking",
    "main",
    "open_records",
    "prepare",
    "reconcile",
    "recover_interrupted",
    "unreachable",
    "write_report_artifacts",
]
