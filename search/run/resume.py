"""Resuming a study after any interruption, a killed driver included: recover the trials left
RUNNING, make MLflow agree with Optuna (the source of truth), and fill the hypervolume history.

Only public Optuna calls: a trial left RUNNING is told FAIL by its number and, if it was being
trained, queued again with the same parameters (`enqueue_trial`) carrying its lineage, its MLflow
run and its last checkpoint (`search.records.retry_attrs`).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from search.records import TrialRecord, counted_in_order, interrupted_numbers, retry_attrs
from search.trials import child_params, child_tags


def recover_interrupted(optuna_study: Any, run_of: Callable[[int], Optional[str]] = lambda n: None) -> list[int]:
    """Fail the trials left RUNNING; queue again the ones that were trained. Returns their numbers.

    `run_of(number)` finds a trial's MLflow run by its tag when the trial never recorded it.
    """
    from optuna.trial import TrialState

    queued = []
    for frozen in optuna_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        record = TrialRecord.of(frozen)
        optuna_study.tell(frozen.number, state=TrialState.FAIL)
        # A retry popped from the queue may have died before it was marked trained.
        if record.trained or record.retry_of is not None:
            attrs = retry_attrs(frozen.number, record, run_id=record.mlflow_run_id or run_of(frozen.number))
            optuna_study.enqueue_trial(dict(frozen.params), user_attrs=attrs)
            queued.append(frozen.number)
    return queued


def trained_trials(optuna_study: Any) -> list:
    return [t for t in optuna_study.get_trials(deepcopy=False) if TrialRecord.of(t).trained]


def reconcile(optuna_study: Any, tracker: Any) -> None:
    """Every finished trained trial has exactly one child run, in the terminal status of its Optuna
    state; an interrupted trial's run is closed unless its retry has taken it over. A trial that
    never got a run (its driver was killed first) gets the run its trial events would have made."""
    trials = optuna_study.get_trials(deepcopy=False)
    interrupted = interrupted_numbers(trials)
    for t in trials:
        record = TrialRecord.of(t)
        if not record.trained or t.state.name in ("RUNNING", "WAITING"):
            continue
        run_id = tracker.child_of(t.number) or record.mlflow_run_id
        if t.number in interrupted:
            if run_id is not None and tracker.is_open(run_id) and tracker.child_of(t.number) == run_id:
                tracker.end_child(run_id, "INTERRUPTED", error="interrupted; queued again")
            continue
        if run_id is None:
            run_id = tracker.start_child(t.number, params=child_params(dict(t.params), record.config or {}),
                                         tags=child_tags(record.config or {}, record.canonical_key, record.requeued_from),
                                         config=record.config)
        if tracker.is_open(run_id):
            metrics = dict(record.metrics or {})
            tracker.end_child(run_id, t.state.name, metrics=metrics if t.state.name == "COMPLETE" else {},
                              step=int(metrics.get("epochs") or metrics.get("epoch") or 0), error=record.error)


def backfill_hypervolume(optuna_study: Any, tracker: Any, hypervolume_of: Callable[[list], float]) -> None:
    """Log the hypervolume for every count of finished trials the parent run lacks (a killed driver
    may have told Optuna but not MLflow). In completion order, so it never decreases."""
    logged = tracker.hypervolume_steps()
    finished = counted_in_order(optuna_study.get_trials(deepcopy=False))
    for step in range(1, len(finished) + 1):
        if step not in logged:
            tracker.log_hypervolume(hypervolume_of(finished[:step]), step)
