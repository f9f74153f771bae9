"""How a trial's last report maps to its outcome (search.trials.outcome.classify)."""
from __future__ import annotations

import math

import pytest

from search.trials import classify, metrics_of

OBJECTIVES = ("val_acc", "energy_mj")
FINAL = {"final": True, "failed": False, "val_acc": 0.8, "energy_mj": 0.2, "epochs": 3, "training_iteration": 4,
         "trial_id": "abc", "energy_bound_mj": 1.0, "history": [1, 2]}


def run(last, *, stopped_early=False, stopping=False, error=None):
    return classify(last, objectives=OBJECTIVES, stopped_early=stopped_early, stopping=stopping, error=error)


def test_a_final_result_with_every_objective_is_complete():
    out = run(FINAL)
    assert out.state == "COMPLETE" and out.values(OBJECTIVES) == [0.8, 0.2] and out.epochs == 3
    assert "training_iteration" not in out.metrics and "trial_id" not in out.metrics and "history" not in out.metrics
    # Stopping or an early stop do not change a trial that had finished.
    assert run(FINAL, stopping=True, stopped_early=True).state == "COMPLETE"


@pytest.mark.parametrize("broken", [{"energy_mj": float("nan")}, {"val_acc": None}, {"val_acc": "high"},
                                    {"energy_mj": math.inf}])
def test_a_final_result_missing_an_objective_fails(broken):
    out = run({**FINAL, **broken})
    assert out.state == "FAIL" and "missing or not finite" in out.error and out.values(OBJECTIVES) is None


def test_a_reported_failure_keeps_its_error_and_traceback():
    out = run({"final": True, "failed": True, "error": "NonFiniteLossError: nan", "traceback": "tb"})
    assert (out.state, out.error, out.traceback) == ("FAIL", "NonFiniteLossError: nan", "tb")


def test_without_a_final_result():
    epoch = {"final": False, "epoch": 2, "val_acc": 0.4}
    assert run(epoch, stopped_early=True).state == "PRUNED"
    assert run(epoch, stopped_early=True).metrics["val_acc"] == 0.4
    assert run(epoch, stopping=True).state == "INTERRUPTED"
    died = run(epoch, error="RayActorError: the actor died")
    assert died.state == "FAIL" and died.error == "RayActorError: the actor died"
    assert run(None).error == "the trial ended without a final result"


def test_metrics_of_keeps_plain_values_only():
    assert metrics_of({"a": 1, "b": 2.5, "c": "x", "d": None, "e": True, "f": {"g": 1}, "done": True}) == \
        {"a": 1, "b": 2.5, "c": "x", "d": None, "e": True}
