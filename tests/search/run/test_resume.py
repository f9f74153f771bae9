"""Resuming (search.run.resume): recovery of trials a killed driver left RUNNING, MLflow reconciled
with Optuna, the hypervolume history filled in; with real sqlite stores."""
from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from search.records import TrialRecord, counted_in_order, interrupted_numbers
from search.run import backfill_hypervolume, reconcile, recover_interrupted
from search.tracking import Tracker

DIST = {"T": CategoricalDistribution([1, 2, 3, 4])}


@pytest.fixture
def stores(tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name="s", storage=f"sqlite:///{tmp_path / 'o.db'}",
                                directions=["maximize", "minimize"])
    tracker = Tracker(f"sqlite:///{tmp_path / 'm.db'}", "s")
    tracker.open_parent(None, params={}, tags={})
    return study, tracker


def ask(study, T, **attrs):
    trial = study.ask(DIST)
    assert trial.params["T"] in (1, 2, 3, 4)
    TrialRecord(**attrs).write(trial)
    return trial


def test_a_killed_drivers_running_trials_are_failed_and_the_trained_ones_queued_again(stores):
    study, tracker = stores
    trained = ask(study, 1, kind="trained", mlflow_run_id="run-a", checkpoint="/ckpt/a")
    repeat = ask(study, 2, kind="repeat", duplicate_of=0)
    ask(study, 3, kind="trained")  # no run recorded: found by its MLflow tag
    run_c = tracker.start_child(2, params={}, tags={})
    queued = recover_interrupted(study, run_of=tracker.child_of)
    assert queued == [trained.number, 2]
    states = {t.number: t.state for t in study.trials}
    assert states[trained.number] == TrialState.FAIL and states[repeat.number] == TrialState.FAIL
    waiting = study.get_trials(states=(TrialState.WAITING,))
    assert [TrialRecord.of(t).retry_of for t in waiting] == [trained.number, 2]
    a, c = (TrialRecord.of(t) for t in waiting)
    assert (a.mlflow_run_id, a.checkpoint, a.requeued_from) == ("run-a", "/ckpt/a", trained.number)
    assert c.mlflow_run_id == run_c
    assert interrupted_numbers(study.trials) == {trained.number, 2}
    # Asked again, a retry has the same parameters; killed again, its retry keeps the first trial's lineage.
    retry = study.ask(DIST)
    assert retry.params == trained.params and TrialRecord.of(retry).retry_of == trained.number
    assert recover_interrupted(study) == [retry.number]
    again = TrialRecord.of(study.get_trials(states=(TrialState.WAITING,))[-1])
    assert (again.retry_of, again.requeued_from, again.checkpoint) == (retry.number, trained.number, "/ckpt/a")


def test_reconcile_closes_runs_to_the_optuna_state(stores):
    study, tracker = stores
    done = ask(study, 1, kind="trained", metrics={"val_acc": 0.5, "energy_mj": 0.1, "epochs": 2})
    study.tell(done, [0.5, 0.1])
    failed = ask(study, 2, kind="trained", error="boom", canonical_key="T=2", requeued_from=0,
                 config={"energy": {"model": "lemaire"}, "train": {"epochs": 3}})
    study.tell(failed, state=TrialState.FAIL)
    interrupted = ask(study, 3, kind="trained")
    study.tell(interrupted, state=TrialState.FAIL)
    study.enqueue_trial(interrupted.params, user_attrs={"retry_of": interrupted.number})
    open_runs = {n: tracker.start_child(n, params={}, tags={}) for n in (done.number, interrupted.number)}
    reconcile(study, tracker)
    assert tracker.child_of(failed.number) is not None, "a finished trial without a run gets one"
    made = tracker.client.get_run(tracker.child_of(failed.number)).data
    # the tags and parameters its trial events would have given it, the energy model among them
    assert {k: made.tags[k] for k in ("canonical_key", "energy_model", "requeued_from")} == \
        {"canonical_key": "T=2", "energy_model": "lemaire", "requeued_from": "0"}
    assert made.params["epochs"] == "3" and made.params["T"] == str(failed.params["T"])
    runs = {n: tracker.client.get_run(tracker.child_of(n)) for n in (done.number, failed.number, interrupted.number)}
    assert runs[done.number].info.status == "FINISHED" and runs[done.number].data.metrics["val_acc"] == 0.5
    assert runs[failed.number].info.status == "FAILED" and runs[failed.number].data.tags["error"] == "boom"
    assert runs[interrupted.number].info.run_id == open_runs[interrupted.number]
    assert runs[interrupted.number].data.tags["state"] == "INTERRUPTED"


def test_backfill_logs_every_missing_step_in_completion_order(stores):
    study, tracker = stores
    for T, values in ((1, [0.5, 0.5]), (2, [0.9, 0.9]), (3, [0.8, 0.2])):
        t = ask(study, T, kind="trained")
        study.tell(t, values)
    tracker.log_hypervolume(123.0, 1)  # already logged: kept
    seen = []

    def hv(trials):
        seen.append([t.number for t in trials])
        return float(len(trials))

    backfill_hypervolume(study, tracker, hv)
    assert seen == [[0, 1], [0, 1, 2]]
    history = {m.step: m.value for m in tracker.client.get_metric_history(tracker.parent_id, "hypervolume")}
    assert history == {1: 123.0, 2: 2.0, 3: 3.0}
    assert [t.number for t in counted_in_order(study.trials)] == [0, 1, 2]


def test_the_resumed_hypervolume_history_steps_through_the_trials_the_ledger_counts(tmp_path):
    """An infrastructure failure is no outcome of its architecture: the ledger does not count it, so
    the history a resume fills in has one step per counted trial, not one more."""
    from search.front import Front, Objectives
    from search.study import load_study
    from search.trials import Outcome, StudyLedger

    path = tmp_path / "mini.yaml"
    path.write_text("base: tiny\nspace: {depth: 2, mixers: [ssa, identity], T: [1, 2]}\nsearch: {trials: 3}\n")
    study = load_study(path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ostudy = optuna.create_study(study_name="mini", storage=f"sqlite:///{tmp_path / 'o.db'}",
                                 directions=study.directions, sampler=optuna.samplers.RandomSampler(seed=0))
    ledger = StudyLedger(study, ostudy, cost=lambda cfg: (100, float(cfg.T)), checkpoint_exists=lambda a: False,
                         say=lambda text: None)
    first, lost, second = (ledger.suggest()["number"] for _ in range(3))
    ledger.finish(first, Outcome("COMPLETE", {"val_acc": 0.6, "energy_mj": 0.2, "epochs": 3}))
    ledger.give_up(lost, "infrastructure: the node died (Ray's retries used up)")
    ledger.finish(second, Outcome("COMPLETE", {"val_acc": 0.8, "energy_mj": 0.3, "epochs": 3}))
    third = ledger.suggest()["number"]
    ledger.finish(third, Outcome("COMPLETE", {"val_acc": 0.7, "energy_mj": 0.1, "epochs": 3}))
    assert ledger.finished == 3 and ledger.remaining() == 0

    tracker = Tracker(f"sqlite:///{tmp_path / 'm.db'}", "mini")
    tracker.open_parent(None, params={}, tags={})
    objectives = Objectives.of(study.objectives, [0.0, 1.0])
    backfill_hypervolume(ostudy, tracker, lambda trials: Front(trials, objectives).hypervolume)
    history = {m.step: m.value for m in tracker.client.get_metric_history(tracker.parent_id, "hypervolume")}
    assert sorted(history) == list(range(1, ledger.finished + 1))
    # each step is the front of the counted trials finished by then, the lost one never among them
    # (accuracy up, energy down, reference (0, 1)): 0.6 x 0.8 after the first; after the third the
    # union of [0, acc] x [energy, 1]: 0.7 x 0.2 below energy 0.3, then 0.8 x 0.7
    assert history[1] == pytest.approx(0.48) and history[3] == pytest.approx(0.7 * 0.2 + 0.8 * 0.7)
