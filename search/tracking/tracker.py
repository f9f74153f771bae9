"""MLflow wiring of the search: the one module that writes to MLflow (the layout is in the documentation,
`docs/guides/mlflow.md`). One experiment per study, one parent run reused by every `--resume`, one child run
per trained trial, found again by its `trial` tag. Status: COMPLETE -> FINISHED, FAIL -> FAILED,
PRUNED and INTERRUPTED -> KILLED. Every write happens in the driver (sqlite loses writes under many
writers); the search's events write through `search.tracking.trial_log`, which queues them while the store is away.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from search.records import flatten_params

PARETO_TAG = "pareto"
TRIAL_TAG = "trial"
STATE_TAG = "state"
STATUS = {"COMPLETE": "FINISHED", "FAIL": "FAILED", "PRUNED": "KILLED", "INTERRUPTED": "KILLED"}
# What the experiment holds, for MLflow: model training, not GenAI traces. MLflow 3's UI reads it
# only where its GenAI / Model training switch is off; 3.17 takes the view from the address
# (`?workflowType=machine_learning`, search.records.stores.experiment_url) or the switch's last position.
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


def quiet_mlflow_logs() -> None:
    for name in ("mlflow", "alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _param_value(v: Any) -> str:
    text = json.dumps(v) if isinstance(v, (list, tuple, dict)) else str(v)
    return text[:500]


class Tracker:
    """The study's MLflow experiment, parent run and child runs, through one MlflowClient."""

    def __init__(self, tracking_uri: str, study_name: str):
        from mlflow.tracking import MlflowClient

        quiet_mlflow_logs()
        self.uri = tracking_uri
        self.client = MlflowClient(tracking_uri)
        self.study_name = study_name
        exp = self.client.get_experiment_by_name(study_name)
        if exp is None:
            self.experiment_id = self.client.create_experiment(study_name, tags={"study": study_name, **EXPERIMENT_KIND})
        else:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            self.experiment_id = exp.experiment_id
            for key, value in EXPERIMENT_KIND.items():
                if exp.tags.get(key) != value:
                    self.client.set_experiment_tag(self.experiment_id, key, value)
        self.parent_id: Optional[str] = None
        self._children: dict[int, str] = {}  # trial number -> run id
        self._pareto: dict[str, str] = {}  # run id -> current tag value
        self._last_epoch: dict[str, dict] = {}  # run id -> its last per-epoch metrics
        self._last_step: dict[str, int] = {}  # run id -> the last epoch step logged (never logged twice)

    # ---- parent -----------------------------------------------------------------------------------
    def open_parent(self, run_id: Optional[str], *, params: Mapping[str, Any], tags: Mapping[str, str]) -> str:
        """Reopen the parent run `run_id` (on resume), or create one; returns its id."""
        if run_id is not None:
            try:
                run = self.client.get_run(run_id)
            except Exception:  # noqa: BLE001 - gone, or another tracking store: start a new parent
                run = None
            if run is not None and run.info.lifecycle_stage != "deleted":
                self.client.update_run(run_id, status="RUNNING")
                self.parent_id = run_id
                self._load_children()
                return run_id
        run = self.client.create_run(self.experiment_id, run_name=self.study_name,
                                     tags={"study": self.study_name, "role": "study", **tags})
        self.parent_id = run.info.run_id
        self._log_params(self.parent_id, params)
        return self.parent_id

    def _log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """`params` flattened to MLflow-safe keys (search.records.keys), in batches of MLflow's limit of 100."""
        from mlflow.entities import Param

        items = [Param(k, _param_value(v)) for k, v in sorted(flatten_params(params).items())]
        for i in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[i:i + 100])

    def _load_children(self) -> None:
        for run in self.children():
            number = run.data.tags.get(TRIAL_TAG)
            if number is None:
                continue
            # The newest run wins if a crash ever left two for one trial.
            self._children.setdefault(int(number), run.info.run_id)
            self._pareto[run.info.run_id] = run.data.tags.get(PARETO_TAG, "")

    def children(self) -> list:
        """Every child run of the parent (all statuses)."""
        from mlflow.entities import ViewType

        runs, token = [], None
        while True:
            page = self.client.search_runs(
                [self.experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{self.parent_id}'",
                run_view_type=ViewType.ACTIVE_ONLY, max_results=1000, page_token=token,
                order_by=["attributes.start_time DESC"])
            runs.extend(page)
            token = page.token
            if not token:
                return runs

    def log_hypervolume(self, value: float, step: int) -> None:
        self.client.log_metric(self.parent_id, "hypervolume", float(value), step=int(step))

    def hypervolume_steps(self) -> set[int]:
        return {m.step for m in self.client.get_metric_history(self.parent_id, "hypervolume")}

    def log_parent_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self._log_metrics(self.parent_id, metrics, step)

    def log_parent_artifacts(self, paths: Iterable[Path], artifact_path: Optional[str] = None) -> None:
        for path in paths:
            if Path(path).exists():
                self.client.log_artifact(self.parent_id, str(path), artifact_path)

    def log_parent_text(self, text: str, name: str) -> None:
        self.client.log_text(self.parent_id, text, name)

    def delete_parent(self) -> None:
        """Remove the parent run this tracker created (a setup that failed leaves nothing behind)."""
        if self.parent_id is not None:
            self.client.delete_run(self.parent_id)
            self.parent_id = None

    def close_parent(self, status: str = "FINISHED") -> None:
        if self.parent_id is not None:
            self.close_run(self.parent_id, status)

    # ---- children -----------------------------------------------------------------------------------
    def child_of(self, number: int) -> Optional[str]:
        return self._children.get(number)

    def known_trials(self) -> list[int]:
        return list(self._children)

    def start_child(self, number: int, *, params: Mapping[str, Any], tags: Mapping[str, str],
                    config: Optional[Mapping[str, Any]] = None) -> str:
        """The child run of trial `number`: found by its tag when it exists, else created."""
        existing = self._children.get(number)
        if existing is not None:
            return existing
        run = self.client.create_run(
            self.experiment_id, run_name=f"trial-{number:03d}",
            tags={"mlflow.parentRunId": self.parent_id, TRIAL_TAG: str(number), "study": self.study_name,
                  STATE_TAG: "RUNNING", PARETO_TAG: "false", **tags})
        run_id = run.info.run_id
        self._children[number] = run_id
        self._pareto[run_id] = "false"
        self._log_params(run_id, params)
        if config is not None:
            self.log_config(run_id, config)
        return run_id

    def resume_child(self, run_id: str, number: int, *, tags: Mapping[str, str]) -> Optional[str]:
        """Continue run `run_id` (of an interrupted trial) as the run of trial `number`; None if the
        run no longer exists."""
        from mlflow.entities import RunTag

        try:
            run = self.client.get_run(run_id)
        except Exception:  # noqa: BLE001
            return None
        if run.info.lifecycle_stage == "deleted":
            return None
        self.client.update_run(run_id, status="RUNNING")
        self.client.log_batch(run_id, tags=[RunTag(TRIAL_TAG, str(number)), RunTag(STATE_TAG, "RUNNING"),
                                            *(RunTag(k, v) for k, v in tags.items())])
        if "error" in run.data.tags:  # the interruption note no longer applies
            self.client.delete_tag(run_id, "error")
        for n, r in list(self._children.items()):
            if r == run_id:
                del self._children[n]
        self._children[number] = run_id
        history = self.client.get_metric_history(run_id, "train_loss")
        self._last_step[run_id] = max((m.step for m in history), default=0)
        return run_id

    def log_config(self, run_id: str, config: Mapping[str, Any]) -> None:
        import yaml

        self.client.log_text(run_id, yaml.safe_dump(dict(config), sort_keys=False), "arch.yaml")

    def log_epoch(self, run_id: str, metrics: Mapping[str, Any], step: int) -> None:
        """Metrics of epoch `step`; an epoch already logged (a trial retried from an older checkpoint)
        is not logged again, so a run's history never holds a step twice."""
        if step <= self._last_step.get(run_id, 0):
            return
        self._log_metrics(run_id, metrics, step)
        self._last_epoch[run_id] = dict(metrics)
        self._last_step[run_id] = step

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])

    def _log_metrics(self, run_id: str, metrics: Mapping[str, Any], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k[:250], float(v), now, int(step)) for k, v in metrics.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if items:
            self.client.log_batch(run_id, metrics=items)

    def end_child(self, run_id: str, state: str, *, metrics: Optional[Mapping[str, Any]] = None,
                  step: int = 0, error: Optional[str] = None, traceback: Optional[str] = None,
                  extra_tags: Optional[Mapping[str, str]] = None) -> None:
        """Final metrics, state and error tags (the traceback as `error.txt`), terminal status.
        Safe to call twice (resume)."""
        from mlflow.entities import RunTag

        if metrics:
            # A final value equal to the last epoch's would only repeat that point.
            last = self._last_epoch.pop(run_id, {})
            self._log_metrics(run_id, {k: v for k, v in metrics.items() if last.get(k) != v}, step)
        tags = [RunTag(STATE_TAG, state)]
        if state != "COMPLETE":
            tags.append(RunTag(PARETO_TAG, "false"))
            self._pareto[run_id] = "false"
        if error:
            tags.append(RunTag("error", error[:5000]))
        tags += [RunTag(k, str(v)) for k, v in (extra_tags or {}).items()]
        self.client.log_batch(run_id, tags=tags)
        if traceback:
            self.client.log_text(run_id, str(traceback), "error.txt")
        self.client.set_terminated(run_id, status=STATUS[state])

    def is_open(self, run_id: str) -> bool:
        """Whether run `run_id` is still RUNNING (or SCHEDULED): not yet given a terminal status."""
        return self.client.get_run(run_id).info.status in ("RUNNING", "SCHEDULED")

    def set_pareto(self, flags: Mapping[str, bool]) -> None:
        """Tag `pareto` of each run id; only the tags whose value changes are written."""
        for run_id, on_front in flags.items():
            value = "true" if on_front else "false"
            if self._pareto.get(run_id) != value:
                self.client.set_tag(run_id, PARETO_TAG, value)
                self._pareto[run_id] = value

    # ---- runs beside the trials (the supernet strategy, search/supernet/) ---------------------------
    def open_labelled_child(self, run_name: str, *, tags: Mapping[str, str], params: Optional[Mapping[str, Any]] = None,
                            metrics: Optional[Mapping[str, Any]] = None, run_id: Optional[str] = None,
                            status: str = "RUNNING") -> str:
        """A child run that is not a trial (no `trial` tag, so resume never takes it for one), e.g. the
        supernet's training or a supernet-scored candidate: `run_id` reopened when it still exists, else
        created with `tags`, `params` and `metrics`; `status="FINISHED"` closes it at once."""
        if run_id is not None:
            try:
                if self.client.get_run(run_id).info.lifecycle_stage != "deleted":
                    self.client.update_run(run_id, status=status)
                    return run_id
            except Exception:  # noqa: BLE001 - gone: create it again
                pass
        run = self.client.create_run(self.experiment_id, run_name=run_name,
                                     tags={"mlflow.parentRunId": self.parent_id, "study": self.study_name, **tags})
        run_id = run.info.run_id
        self._log_params(run_id, params or {})
        self._log_metrics(run_id, metrics or {}, 0)
        if status != "RUNNING":
            self.client.set_terminated(run_id, status=status)
        return run_id

    def close_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)
