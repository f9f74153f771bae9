"""The study ledger (search.trials.ledger) on an in-memory Optuna study: asking, telling, repeats,
constraints, interruption and reloading, in milliseconds."""
from __future__ import annotations

import optuna
from optuna.trial import TrialState

from search.trials import StudyLedger
from search.trials import Outcome
from search.records import TrialRecord, interrupted_numbers
from search.study import load_study

STUDY = """\
base: tiny
train: {{epochs: 3}}
space: {{depth: 2, mixers: [ssa, identity], T: [1, 2]{constraints}}}
search: {{trials: {trials}, dedupe: true, early_stop: {{enabled: true, grace_epochs: 1, min_trials: 1}}}}
"""


def make(tmp_path, *, trials=4, constraints="", storage=None):
    path = tmp_path / "mini.yaml"
    path.write_text(STUDY.format(trials=trials, constraints=constraints))
    study = load_study(path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ostudy = optuna.create_study(directions=study.directions, sampler=optuna.samplers.RandomSampler(seed=0),
                                 storage=storage, study_name="mini", load_if_exists=True)
    return study, ostudy


def ledger_for(study, ostudy, *, stored=("/store/trial_b/ckpt",), said=None):
    # Energy bound = T: architectures with T 1 are "cheaper" than with T 2. Checkpoints in `stored` exist.
    return StudyLedger(study, ostudy, cost=lambda cfg: (100, float(cfg.T)), checkpoint_exists=lambda a: a in stored,
                       say=(said.append if said is not None else lambda text: None))


def complete(acc=0.5, energy=0.1, epochs=3):
    return Outcome("COMPLETE", {"val_acc": acc, "energy_mj": energy, "epochs": epochs})


def test_a_trained_trial_is_asked_recorded_and_told(tmp_path):
    study, ostudy = make(tmp_path)
    ledger = ledger_for(study, ostudy)
    config = ledger.suggest()
    n = config["number"]
    assert config["checkpoint"] is None
    assert config["energy_bound_mj"] == float(config["config"]["T"])
    assert ledger.remaining() == 3 and set(ledger.live) == {n}
    ledger.record_epoch(n, {"epoch": 1, "val_acc": 0.3})
    ledger.finish(n, complete(0.7, 0.2))
    frozen = ostudy.trials[n]
    record = TrialRecord.of(frozen)
    assert frozen.state == TrialState.COMPLETE and frozen.values == [0.7, 0.2]
    assert record.trained and record.config == config["config"] and record.curve == {"1": 0.3}
    assert record.metrics["val_acc"] == 0.7 and ledger.counts["COMPLETE"] == 1 and ledger.finished == 1


def test_a_repeat_is_told_the_earlier_outcome_and_costs_no_budget(tmp_path):
    study, ostudy = make(tmp_path)
    said = []
    ledger = ledger_for(study, ostudy, said=said)
    first = ledger.suggest()
    ledger.finish(first["number"], complete(0.6, 0.3))
    ostudy.enqueue_trial(dict(ostudy.trials[first["number"]].params))  # the sampler proposes it again
    second = ledger.suggest()
    repeat = ostudy.trials[first["number"] + 1]
    assert TrialRecord.of(repeat).kind == "repeat" and TrialRecord.of(repeat).duplicate_of == first["number"]
    assert repeat.state == TrialState.COMPLETE and repeat.values == [0.6, 0.3]
    assert second["number"] == repeat.number + 1 and ledger.finished == 1 and ledger.remaining() == 2
    assert said == [f"trial {repeat.number}: the architecture of trial {first['number']}, not trained again"]


def test_a_repeat_of_a_live_trial_waits_for_its_outcome(tmp_path):
    study, ostudy = make(tmp_path)
    said = []
    ledger = ledger_for(study, ostudy, said=said)
    live = ledger.suggest()
    ostudy.enqueue_trial(dict(ostudy.trials[live["number"]].params))
    other = ledger.suggest()  # the repeat waits; a new architecture is trained meanwhile
    waiting = ostudy.trials[live["number"] + 1]
    assert waiting.state == TrialState.RUNNING and other["number"] == waiting.number + 1
    assert said == [f"trial {waiting.number}: the architecture of trial {live['number']}, in training; not "
                    f"trained again, it gets that trial's outcome"]
    ledger.finish(live["number"], Outcome("FAIL", {}, error="boom"))
    assert ostudy.trials[waiting.number].state == TrialState.FAIL
    assert TrialRecord.of(ostudy.trials[waiting.number]).error == "boom"


def test_proposals_outside_the_constraints_are_pruned_without_training(tmp_path):
    from space.cost import model_cost

    study, ostudy = make(tmp_path)
    small = model_cost(study.trial_config({"mixer_0": "identity", "mixer_1": "identity", "T": 1})).params
    study, ostudy = make(tmp_path, constraints=f", constraints: {{max_params: {small}}}")
    said = []
    ledger = ledger_for(study, ostudy, said=said)
    config = ledger.suggest()
    assert config["config"]["mixers"] == ["identity", "identity"]
    infeasible = [t for t in ostudy.trials if TrialRecord.of(t).kind == "infeasible"]
    assert all(t.state == TrialState.PRUNED and TrialRecord.of(t).infeasible for t in infeasible)
    assert infeasible and [line.split(":")[0] for line in said] == [f"trial {t.number}" for t in infeasible]
    assert all(line.endswith(", not trained") and "max_params" in line for line in said), said


def test_the_early_stopping_rule_compares_with_cheaper_peers_at_the_same_epoch(tmp_path):
    study, ostudy = make(tmp_path)
    ledger = ledger_for(study, ostudy)
    for T in (1, 2):
        ostudy.enqueue_trial({"mixer_0": "ssa", "mixer_1": "ssa", "T": T})
    cheap, dear = ledger.suggest(), ledger.suggest()
    assert (cheap["energy_bound_mj"], dear["energy_bound_mj"]) == (1.0, 2.0)
    assert not ledger.record_epoch(cheap["number"], {"epoch": 1, "val_acc": 0.2})  # no cheaper peer
    assert ledger.record_epoch(dear["number"], {"epoch": 1, "val_acc": 0.1})  # below its cheaper peer
    ledger.finish(dear["number"], Outcome("PRUNED", {"epoch": 1, "val_acc": 0.1}))
    frozen = ostudy.trials[dear["number"]]
    assert frozen.state == TrialState.PRUNED and TrialRecord.of(frozen).stopped_at_epoch == 1


def test_an_interrupted_trial_is_retried_with_its_lineage_and_reloaded_correctly(tmp_path):
    storage = f"sqlite:///{tmp_path / 'o.db'}"
    study, ostudy = make(tmp_path, storage=storage)
    ledger = ledger_for(study, ostudy)
    a = ledger.suggest()
    b = ledger.suggest()
    ledger.finish(a["number"], complete())
    ledger.note_run(b["number"], "run-b")
    ledger.note_checkpoint(b["number"], "/store/trial_b/ckpt")
    ledger.interrupt(b["number"], "interrupted: test")
    assert ostudy.trials[b["number"]].state == TrialState.FAIL
    assert interrupted_numbers(ostudy.trials) == {b["number"]}
    # A new driver (resume) reloads the ledger: the interruption neither counts nor is forgotten.
    again = ledger_for(*make(tmp_path, storage=storage))
    assert again.finished == 1 and again.remaining() == 3
    retry = again.suggest()
    assert retry["checkpoint"] == "/store/trial_b/ckpt" and retry["config"] == b["config"]
    record = again.live[retry["number"]].record
    assert (record.retry_of, record.requeued_from, record.mlflow_run_id) == (b["number"], b["number"], "run-b")


def test_a_retry_whose_checkpoint_is_gone_says_so_and_starts_a_new_run(tmp_path):
    study, ostudy = make(tmp_path)
    said = []
    ledger = ledger_for(study, ostudy, stored=(), said=said)
    b = ledger.suggest()
    ledger.note_run(b["number"], "run-b")
    ledger.note_checkpoint(b["number"], "/store/lost")
    ledger.interrupt(b["number"], "interrupted: test")
    retry = ledger.suggest()
    record = ledger.live[retry["number"]].record
    assert retry["checkpoint"] is None and record.mlflow_run_id is None, "epoch 1 again, in a new MLflow run"
    assert "its checkpoint /store/lost is gone" in said[0]


def test_infrastructure_failures_are_noted_and_never_the_architectures_outcome(tmp_path):
    study, ostudy = make(tmp_path)
    ledger = ledger_for(study, ostudy)
    a = ledger.suggest()
    assert ledger.note_infra_failure(a["number"], "NodeDiedError: node lost") == 1
    assert TrialRecord.of(ostudy.trials[a["number"]]).infra_failures == ["NodeDiedError: node lost"]
    ledger.give_up(a["number"], "infrastructure: NodeDiedError (retries used up)")
    frozen = ostudy.trials[a["number"]]
    assert frozen.state == TrialState.FAIL and frozen.user_attrs["infrastructure"]
    assert ledger.finished == 0 and ledger.remaining() == 4 and not ledger.results
    ostudy.enqueue_trial(dict(frozen.params))  # proposed again: trained, not told a cached failure
    again = ledger.suggest()
    assert again["config"] == a["config"] and again["number"] in ledger.live


def test_the_budget_ends_the_asking(tmp_path):
    study, ostudy = make(tmp_path, trials=2)
    ledger = ledger_for(study, ostudy)
    numbers = [ledger.suggest()["number"] for _ in range(2)]
    assert ledger.suggest() is None
    for n in numbers:
        ledger.finish(n, complete())
    assert ledger.finished == 2 and ledger.remaining() == 0 and ledger.suggest() is None
