"""benchmarks.supernet.trained_once: a supernet's training is charged every part it was trained in."""
from __future__ import annotations

import json
import types

import pytest


class Killed(Exception):
    """The process training the supernet ends (a session's end, a kill) after some epoch."""


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A training of 6 epochs whose checkpoint is `state['done']`, each epoch 10 CPU-seconds on a fake clock."""
    import benchmarks.supernet.training as bench  # the module whose clock the ledger reads
    import search.supernet as supernet

    state = dict(done=0, clock=0.0)
    monkeypatch.setattr(supernet, "trained_epochs", lambda folder: (state["done"], 6 if state["done"] else 0))
    monkeypatch.setattr(bench, "time", types.SimpleNamespace(process_time=lambda: state["clock"]))

    def train(stop_after=None, cost_report=True):
        def run(on_epoch):
            for epoch in range(state["done"] + 1, 7):
                state["clock"] += 10.0
                state["done"] = epoch  # the checkpoint, then the report
                if cost_report:
                    on_epoch({"epoch": epoch})
                if epoch == stop_after:
                    raise Killed
        return run

    return state, train, tmp_path


def test_a_training_continued_in_a_second_process_is_charged_both_parts(fake):
    from benchmarks.supernet import trained_once

    state, train, folder = fake
    with pytest.raises(Killed):
        trained_once(folder, train(stop_after=2))
    assert json.loads((folder / "cpu_s.json").read_text()) == {"cpu_s": 20.0, "epochs": 2}
    state["clock"] = 1000.0  # another process: its clock starts elsewhere
    assert trained_once(folder, train()) == pytest.approx(60.0)
    assert trained_once(folder, train(stop_after=0)) == pytest.approx(60.0), "finished: not trained again"
    assert state["clock"] == 1040.0


def test_an_epoch_checkpointed_but_not_costed_is_charged_the_mean_epoch(fake):
    from benchmarks.supernet import trained_once

    state, train, folder = fake
    with pytest.raises(Killed):
        trained_once(folder, train(stop_after=2))
    state["clock"] += 10.0  # epoch 3 trained and checkpointed, and the process died before its cost was written
    state["done"] = 3
    assert trained_once(folder, train()) == pytest.approx(60.0)


def test_a_cost_file_from_before_the_ledger_counts_as_finished(fake):
    from benchmarks.supernet import trained_once

    state, train, folder = fake
    state["done"] = 6
    (folder / "cpu_s.json").write_text(json.dumps({"cpu_s": 123.0}))
    assert trained_once(folder, train(stop_after=0)) == 123.0 and state["clock"] == 0.0
