"""Opening a study's records as one step: the Optuna study and the MLflow experiment with its parent run.

If anything fails before the study is set up, what this run created is removed again (the Optuna
study, the parent run, sqlite files that did not exist before), so the next plain run starts
cleanly. Only a study whose records all exist carries the `setup_complete` mark; one without it
(its driver was killed during setup) holds no trials, and `search.run.plan` lets the next run, plain or
`--resume`, delete and create it again. Never a study that neither a plain run nor `--resume` can use.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from search.run.plan import SETUP_COMPLETE, Plan
from search.records import STUDY_BASE, STUDY_RESOURCES, STUDY_SEARCH
from search.records import redact, sqlite_path


@dataclass
class Records:
    optuna: Any  # optuna.Study
    tracker: Any  # search.tracking.Tracker


def parent_params(plan: Plan) -> dict[str, Any]:
    study, search = plan.study, plan.study.search
    return {"search": {"trials": study.budget, "sampler": search.sampler, "seed": search.seed,
                       "max_concurrent": search.max_concurrent, "early_stop": vars(search.early_stop)},
            "resources": vars(study.resources), "space": study.space.to_dict(),
            "objectives": dict(study.objectives), "reference_point": plan.reference,
            "train": study.raw.get("train", {}), "data": study.raw.get("data", {}), "energy": study.raw.get("energy", {}),
            "base": study.raw.get("base")}


def open_records(plan: Plan) -> Records:
    """The study's Optuna study and MLflow tracker, created or reopened."""
    undo: list[Callable[[], None]] = []
    for path in (sqlite_path(plan.storage), sqlite_path(plan.tracking_uri)):
        if path is not None and not path.exists():
            undo.append(lambda p=path: Path(p).unlink(missing_ok=True))
    artifacts = plan.workdir / "mlruns"  # where MLflow puts a local store's artifacts
    if sqlite_path(plan.tracking_uri) is not None and not artifacts.exists():
        undo.append(lambda: shutil.rmtree(artifacts, ignore_errors=True))
    try:
        ostudy = _open_optuna(plan, undo)
        tracker = _open_tracking(plan, ostudy, undo)
        ostudy.set_user_attr(SETUP_COMPLETE, True)
        return Records(ostudy, tracker)
    except BaseException:
        for step in reversed(undo):
            try:
                step()
            except Exception:  # noqa: BLE001 - undo what can be undone; the original error matters
                pass
        raise


def _open_optuna(plan: Plan, undo: list) -> Any:
    import optuna

    from search.study import study_sampler

    study = plan.study
    storage = optuna.storages.RDBStorage(plan.storage, heartbeat_interval=None)
    if plan.half_made:
        optuna.delete_study(study_name=study.name, storage=storage)
    if plan.resume:
        stored = optuna.load_study(study_name=study.name, storage=storage)
        n = len(stored.get_trials(deepcopy=False))
        return optuna.load_study(study_name=study.name, storage=storage, sampler=study_sampler(study, trials_in_storage=n))
    ostudy = optuna.create_study(study_name=study.name, storage=storage, sampler=study_sampler(study),
                                 directions=study.directions)
    undo.append(lambda: optuna.delete_study(study_name=study.name, storage=storage))
    ostudy.set_metric_names(study.metric_names)
    search = study.search
    for key, value in {"objectives": [list(o) for o in study.objectives], "reference_point": plan.reference,
                       "study_file": str(study.path), "overrides": list(plan.overrides), STUDY_BASE: study.base_source,
                       "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                       STUDY_RESOURCES: {"cpu": float(study.resources.cpu), "gpu": float(study.resources.gpu)},
                       STUDY_SEARCH: {"sampler": search.sampler, "seed": search.seed, "strategy": search.strategy}
                       }.items():
        ostudy.set_user_attr(key, value)
    return ostudy


def _open_tracking(plan: Plan, ostudy: Any, undo: list) -> Any:
    import yaml

    from search.tracking import Tracker

    tracker = Tracker(plan.tracking_uri, plan.study.name)
    previous = ostudy.user_attrs.get("mlflow_parent_run_id") if plan.resume else None
    parent = tracker.open_parent(previous, params=parent_params(plan),
                                 tags={"optuna_storage": redact(plan.storage), "optuna_study": plan.study.name,
                                       "energy_model": plan.study.base.energy.model})
    if parent != previous:
        undo.append(lambda: tracker.delete_parent())
        ostudy.set_user_attr("mlflow_parent_run_id", parent)
        ostudy.set_user_attr("mlflow_experiment_id", tracker.experiment_id)
    tracker.log_parent_text(yaml.safe_dump(plan.study.raw, sort_keys=False), "study.yaml")
    return tracker
