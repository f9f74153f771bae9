"""The driver's trial events (`TrialEvents`) on a real ledger and an in-memory Optuna study, with the
MLflow log and the terminal recorded: what each event tells Optuna, writes to MLflow and prints, in
milliseconds, without Ray (end-to-end runs reach the same paths through a real search)."""
from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from search.front import Objectives
from search.records import TrialRecord
from search.study import load_study
from search.trials import StudyLedger, TrialEvents

STUDY = """\
base: tiny
train: {epochs: 3}
energy: {model: lemaire}
space: {depth: 2, mixers: [ssa, identity], T: [1, 2]}
search: {trials: 4}
"""


class Log:
    """The trial log as the events see it: every call recorded; a run is made at once, or later
    (`made_later`: the tracking store is away and the outbox holds the write)."""

    def __init__(self, made_later: bool = False):
        self.calls: list[tuple] = []
        self.runs: dict[int, str] = {}
        self.made_later = made_later

    def has_run(self, number):
        return any(c[0] == "start" and c[1] == number for c in self.calls)

    def run_of(self, number):
        return self.runs.get(number)

    def start(self, number, **kw):
        self.calls.append(("start", number, kw))
        if not self.made_later:
            self.runs[number] = f"run-{number}"

    def epoch(self, number, metrics, step):
        self.calls.append(("epoch", number, dict(metrics), step))

    def end(self, number, state, **kw):
        self.calls.append(("end", number, state, kw))

    def note(self, number, tags):
        self.calls.append(("note", number, dict(tags)))

    def pareto(self, flags):
        self.calls.append(("pareto", dict(flags)))

    def hypervolume(self, value, step):
        self.calls.append(("hypervolume", value, step))

    def of(self, kind):
        return [c for c in self.calls if c[0] == kind]


class Progress:
    def __init__(self):
        self.said, self.finished = [], []

    def say(self, text):
        self.said.append(text)

    def trial_finished(self, **kw):
        self.finished.append(kw)


class Stop:
    def __init__(self, stopping=False):
        self.stopping = stopping

    def is_set(self):
        return self.stopping


@pytest.fixture
def events(tmp_path):
    def make(*, made_later=False, stopping=False):
        path = tmp_path / "mini.yaml"
        path.write_text(STUDY)
        study = load_study(path)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        ostudy = optuna.create_study(directions=study.directions, sampler=optuna.samplers.RandomSampler(seed=0))
        ledger = StudyLedger(study, ostudy, cost=lambda cfg: (100, float(cfg.T)), checkpoint_exists=lambda a: False,
                             say=lambda text: None)
        log, progress = Log(made_later), Progress()
        ev = TrialEvents(ledger=ledger, log=log, progress=progress, optuna_study=ostudy,
                         objectives=Objectives.of(study.objectives, [0.0, 10.0]), stop=Stop(stopping))
        return ev, ledger, ostudy, log, progress
    return make


def final(acc, energy):
    return {"final": True, "failed": False, "val_acc": acc, "energy_mj": energy, "epochs": 3, "epoch": 3,
            "trial_id": "abc", "time_total_s": 4.0}


def test_a_trial_starts_its_run_with_the_tags_a_resume_would_give_it(events):
    ev, ledger, ostudy, log, _ = events()
    n = ledger.suggest()["number"]
    ev.started(n)
    ev.started(n)  # Ray may report a start twice (a restored trial): one run
    (start,) = log.of("start")
    tags = start[2]["tags"]
    assert tags["energy_model"] == "lemaire" and tags["canonical_key"] == ledger.live[n].key
    assert start[2]["params"]["epochs"] == 3 and start[2]["params"]["T"] == ostudy.trials[n].params["T"]
    assert ostudy.trials[n].user_attrs["mlflow_run_id"] == f"run-{n}", "Optuna learns the run once it exists"


def test_a_run_made_late_reaches_the_ledger_at_the_next_event(events):
    ev, ledger, ostudy, log, _ = events(made_later=True)
    n = ledger.suggest()["number"]
    ev.started(n)
    assert "mlflow_run_id" not in ostudy.trials[n].user_attrs
    log.runs[n] = "run-late"  # the outbox wrote it when the store came back
    ev.epoch(n, {"epoch": 1, "val_acc": 0.4, "trial_id": "abc", "config": {"x": 1}})
    assert ostudy.trials[n].user_attrs["mlflow_run_id"] == "run-late"
    assert log.of("epoch") == [("epoch", n, {"val_acc": 0.4}, 1)], "Ray's bookkeeping and the epoch are not metrics"


def test_a_completed_trial_is_told_to_optuna_then_logged_then_the_front_moves(events):
    ev, ledger, ostudy, log, progress = events()
    a, b = (ledger.suggest()["number"] for _ in range(2))
    ev.ended(a, final(0.6, 2.0))
    ev.ended(b, final(0.8, 1.0))  # dominates a
    assert [t.state for t in ostudy.trials[:2]] == [TrialState.COMPLETE] * 2 and ostudy.trials[b].values == [0.8, 1.0]
    ends = log.of("end")
    assert [(c[1], c[2]) for c in ends] == [(a, "COMPLETE"), (b, "COMPLETE")]
    assert ends[1][3]["metrics"] == {"val_acc": 0.8, "energy_mj": 1.0, "epochs": 3, "epoch": 3}
    assert log.of("pareto")[-1] == ("pareto", {a: False, b: True})
    # reference (0 accuracy, 10 mJ): after a, 0.6 x 8; after b, which dominates it, 0.8 x 9
    assert [c[1:] for c in log.of("hypervolume")] == [(pytest.approx(4.8), 1), (pytest.approx(7.2), 2)]
    assert [f["front_size"] for f in progress.finished] == [1, 1] and ledger.finished == 2


def test_a_result_without_an_objective_fails_the_trial_as_an_outcome(events):
    ev, ledger, ostudy, log, _ = events()
    n = ledger.suggest()["number"]
    ev.ended(n, {"final": True, "failed": False, "val_acc": float("nan"), "energy_mj": 1.0})
    assert ostudy.trials[n].state == TrialState.FAIL and ledger.finished == 1
    assert "val_acc" in log.of("end")[0][3]["error"]


def test_an_infrastructure_failure_is_no_outcome_and_costs_no_budget(events):
    ev, ledger, ostudy, log, progress = events()
    n = ledger.suggest()["number"]
    ev.recovered(n, "NodeDiedError: node lost")
    assert log.of("note") == [("note", n, {"infra_failures": "1", "last_infra_failure": "NodeDiedError: node lost"})]
    ev.ended(n, None, "NodeDiedError: node lost again", infrastructure=True)
    frozen = ostudy.trials[n]
    assert frozen.state == TrialState.FAIL and frozen.user_attrs["infrastructure"] is True
    assert ledger.finished == 0 and ledger.remaining() == 4
    assert log.of("end")[0][2] == "FAIL" and "Ray's retries used up" in log.of("end")[0][3]["error"]
    assert not progress.finished, "no trial finished as far as the budget and the front go"


def test_a_trial_ended_by_stopping_the_search_is_queued_again(events):
    ev, ledger, ostudy, log, _ = events(stopping=True)
    n = ledger.suggest()["number"]
    ev.ended(n, {"epoch": 1, "val_acc": 0.3})
    assert ostudy.trials[n].state == TrialState.FAIL and ledger.finished == 0
    (retry,) = ostudy.get_trials(states=(TrialState.WAITING,))
    assert TrialRecord.of(retry).retry_of == n and TrialRecord.of(retry).mlflow_run_id == f"run-{n}"
    assert [(c[1], c[2]) for c in log.of("end")] == [(n, "INTERRUPTED")]


def test_a_failing_step_is_reported_and_the_search_goes_on(events, capsys):
    ev, *_ = events()

    def boom(number):
        raise KeyError("no such trial")

    ev.guard(boom, 7)
    ev.guard(boom, None)  # a Ray trial without our number: nothing to do
    err = capsys.readouterr().err
    assert "warning: trial 7: KeyError: 'no such trial'" in err and err.count("warning") == 1
