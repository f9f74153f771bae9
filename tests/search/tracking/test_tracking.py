"""The MLflow wiring (search.tracking.Tracker) on a real sqlite tracking store."""
from __future__ import annotations

import pytest

from search.tracking import Tracker


@pytest.fixture
def tracker(tmp_path):
    t = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "study")
    t.open_parent(None, params={"space": {"dropped": {"dwt-db3@2": "no level works"}, "blocks": [["ssa"]]}},
                  tags={"optuna_study": "study"})
    return t


def test_the_experiment_opens_in_the_model_training_view(tracker):
    exp = tracker.client.get_experiment(tracker.experiment_id)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"


def test_parent_params_take_awkward_names_as_safe_keys(tracker):
    params = tracker.client.get_run(tracker.parent_id).data.params
    assert params["space.dropped.dwt-db3__at__2"] == "no level works"
    assert params["space.blocks"] == '[["ssa"]]'


def test_child_runs_states_and_metrics(tracker):
    run = tracker.start_child(3, params={"mixer_0": "fft2d+dwt-haar", "T": 2}, tags={"canonical_key": "k"},
                              config={"T": 2, "mixers": ["ssa"]})
    assert tracker.child_of(3) == run and tracker.is_open(run)
    assert tracker.start_child(3, params={}, tags={}) == run, "a trial's run is never created twice"
    tracker.log_epoch(run, {"val_acc": 0.5, "train_loss": 1.0}, step=1)
    tracker.end_child(run, "COMPLETE", metrics={"val_acc": 0.6, "energy_mj": 0.1}, step=1)
    data = tracker.client.get_run(run)
    assert data.info.status == "FINISHED" and not tracker.is_open(run)
    assert data.data.tags["state"] == "COMPLETE" and data.data.tags["trial"] == "3"
    assert data.data.params == {"mixer_0": "fft2d+dwt-haar", "T": "2"}
    history = tracker.client.get_metric_history(run, "val_acc")
    assert [(m.step, m.value) for m in history] == [(1, 0.5), (1, 0.6)]
    assert "arch.yaml" in {a.path for a in tracker.client.list_artifacts(run)}


@pytest.mark.parametrize("state, status", [("FAIL", "FAILED"), ("PRUNED", "KILLED"), ("INTERRUPTED", "KILLED")])
def test_unfinished_states_are_off_the_front(tracker, state, status):
    run = tracker.start_child(1, params={}, tags={})
    tracker.set_pareto({run: True})
    tracker.end_child(run, state, error="why", traceback="Traceback ...")
    data = tracker.client.get_run(run)
    assert data.info.status == status and data.data.tags["pareto"] == "false" and data.data.tags["error"] == "why"
    assert ("error.txt" in {a.path for a in tracker.client.list_artifacts(run)}) == True  # noqa: E712


def test_a_resumed_tracker_finds_its_parent_and_children(tracker, tmp_path):
    run = tracker.start_child(0, params={}, tags={})
    tracker.close_parent("KILLED")
    again = Tracker(tracker.uri, "study")
    assert again.open_parent(tracker.parent_id, params={}, tags={}) == tracker.parent_id
    assert again.client.get_run(tracker.parent_id).info.status == "RUNNING"
    assert again.child_of(0) == run
    # An interrupted trial's run continues as the run of its retry.
    assert again.resume_child(run, 5, tags={"requeued_from": "0"}) == run
    assert again.child_of(5) == run and again.child_of(0) is None
    assert again.client.get_run(run).data.tags["trial"] == "5"


def test_pareto_tags_are_written_only_when_they_change(tracker, monkeypatch):
    runs = [tracker.start_child(n, params={}, tags={}) for n in range(3)]
    writes = []
    monkeypatch.setattr(tracker.client, "set_tag", lambda run, k, v: writes.append((run, v)))
    tracker.set_pareto({runs[0]: True, runs[1]: False, runs[2]: True})
    tracker.set_pareto({runs[0]: True, runs[1]: False, runs[2]: False})
    assert writes == [(runs[0], "true"), (runs[2], "true"), (runs[2], "false")]


def test_a_failed_setup_can_delete_its_parent(tracker):
    parent = tracker.parent_id
    tracker.delete_parent()
    assert tracker.client.get_run(parent).info.lifecycle_stage == "deleted"
