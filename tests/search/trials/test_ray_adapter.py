"""How the Ray adapter classifies a trial Ray marked as errored: a failure of the model (it is an
outcome of the architecture and counts) or of the infrastructure (Ray retries it from its
checkpoint, and when retries run out it is no outcome and does not count). End-to-end runs reach
these only through a killed node; here each kind of error is handed over as Tune leaves it."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import ray.exceptions as rx
from ray import cloudpickle

from search.trials import is_infrastructure, trial_error


@pytest.mark.parametrize("err, infrastructure", [
    (rx.NodeDiedError("node 10.0.0.2 died"), True),
    (rx.WorkerCrashedError(), True),
    (rx.RayActorError(error_msg="The actor died unexpectedly before finishing this task."), True),
    (rx.ActorUnavailableError("the actor is temporarily unavailable", None), True),
    (rx.OutOfMemoryError("Task was killed due to the node running low on memory."), False),
    (rx.RayActorError(error_msg="The actor was killed by the memory monitor (out of memory)."), False),
    (rx.RayTaskError("train", "Traceback ...", ValueError("nan loss")), False),
    (ValueError("not Ray's at all"), False),
])
def test_infrastructure_is_what_failed_around_the_model(err, infrastructure):
    assert is_infrastructure(err) is infrastructure


def trial(tmp_path, *, pickled=None, text=None):
    """A trial as Tune leaves it: the error pickled beside it, or only as text, or neither."""
    pickled_file = error_file = None
    if pickled is not None:
        pickled_file = tmp_path / "error.pkl"
        pickled_file.write_bytes(cloudpickle.dumps(pickled))
    if text is not None:
        error_file = tmp_path / "error.txt"
        error_file.write_text(text)
    return SimpleNamespace(pickled_error_file=str(pickled_file) if pickled_file else str(tmp_path / "none.pkl"),
                           error_file=str(error_file) if error_file else str(tmp_path / "none.txt"),
                           get_pickled_error=lambda: None, get_error=lambda: None)


def test_a_pickled_error_is_read_first_and_a_task_error_names_its_cause(tmp_path):
    wrapped = rx.RayTaskError("train", "Traceback ...", ValueError("loss is nan at step 3\nmore"))
    line, infrastructure = trial_error(trial(tmp_path, pickled=wrapped, text="NodeDiedError: elsewhere"))
    assert (line, infrastructure) == ("ValueError: loss is nan at step 3", False)
    line, infrastructure = trial_error(trial(tmp_path, pickled=rx.NodeDiedError("node lost")))
    assert line.startswith("NodeDiedError: node lost") and infrastructure


@pytest.mark.parametrize("text, line, infrastructure", [
    ("Traceback (most recent call last):\n  ...\nray.exceptions.OutOfMemoryError: Task was killed\n",
     "ray.exceptions.OutOfMemoryError: Task was killed", False),
    ("Traceback:\nray.exceptions.RayTaskError(ZeroDivisionError): boom\n  more context\n",
     "ray.exceptions.RayTaskError(ZeroDivisionError): boom", False),
    ("Failure # 1\nray.exceptions.NodeDiedError: the node died\n\n", "ray.exceptions.NodeDiedError: the node died", True),
    ("the worker went away\n", "the worker went away", True),
])
def test_an_error_known_only_as_text_is_classified_by_its_last_error_line(tmp_path, text, line, infrastructure):
    assert trial_error(trial(tmp_path, text=text)) == (line, infrastructure)


def test_a_trial_that_left_no_error_at_all_is_the_infrastructures(tmp_path):
    assert trial_error(trial(tmp_path)) == ("the trial's worker failed (see the Ray logs)", True)
