"""The supernet strategy's phases in-process (no Ray): train the supernet, score candidates into their
own Optuna study and MLflow child runs, queue the best k as trials; a later search over the same
space reuses the trained supernet."""
from __future__ import annotations

from optuna.trial import TrialState

from supernet_study import Stop, prepare, records, write_study


def _runs(tracker) -> list:
    return tracker.children()


def test_phases_train_score_and_queue_the_best_k_without_touching_the_front(tmp_path):
    import optuna

    from search.front import Front, Objectives
    from search.records import CANDIDATES_SUFFIX
    from search.supernet import scored
    from search.supernet import CANDIDATE_ATTR, ENQUEUED
    from search.supernet import trained_epochs

    r = records(tmp_path, write_study(tmp_path, candidates=6, confirm=2))
    assert r.plan.study.budget == 2, "the budget of trained trials is k"
    prepare(r, Stop())

    assert trained_epochs(r.strategy.dir) == (2, 2)
    assert r.strategy.dir.parent == tmp_path / "supernets"
    cstudy = optuna.load_study(study_name="tiny_sn" + CANDIDATES_SUFFIX, storage=r.plan.storage)
    candidates = scored(cstudy)
    assert len(candidates) == 6
    assert len({t.user_attrs["canonical_key"] for t in candidates}) == 6, "distinct sub-networks count"

    queued = r.optuna.get_trials(deepcopy=False, states=(TrialState.WAITING,))
    assert len(queued) == 2 and len(r.optuna.get_trials(deepcopy=False)) == 2
    assert r.optuna.user_attrs[ENQUEUED] == [t.user_attrs[CANDIDATE_ATTR] for t in queued]
    numbers = {t.number: t for t in candidates}
    for _ in queued:  # the trial loop's ask pops them with their candidate's architecture
        t = r.optuna.ask(r.plan.study.space.distributions())
        assert t.params == numbers[t.user_attrs[CANDIDATE_ATTR]].params
        r.optuna.tell(t, state=TrialState.FAIL)
    # Supernet scores never enter the study's front: nothing is trained yet.
    assert len(Front.of_study(r.optuna, Objectives.of(r.plan.study.objectives, r.plan.reference))) == 0

    runs = _runs(r.tracker)
    supernet = [x for x in runs if x.data.tags.get("role") == "supernet"]
    scored_runs = [x for x in runs if x.data.tags.get("evaluation") == "supernet"]
    assert len(supernet) == 1 and supernet[0].info.status == "FINISHED"
    assert supernet[0].data.tags["evaluation"] == "supernet-training"
    assert len(scored_runs) == 6 and not any("trial" in x.data.tags for x in scored_runs)
    confirmed = {int(x.data.tags["candidate"]) for x in scored_runs if x.data.tags.get("confirmed") == "true"}
    assert confirmed == {t.user_attrs[CANDIDATE_ATTR] for t in queued}
    assert any(x.data.tags["supernet_front"] == "true" for x in scored_runs)
    assert all({"val_acc", "energy_mj"} <= set(x.data.metrics) for x in scored_runs)

    # Run again (a resume): nothing is trained, scored or queued twice.
    prepare(r, Stop())
    assert len(r.optuna.get_trials(deepcopy=False)) == 2 and len(_runs(r.tracker)) == len(runs)

    # A later search over the same space, with another sampler, seed and objective, reuses the supernet.
    checkpoint = r.strategy.dir / "checkpoint.pt"
    stamp = checkpoint.stat().st_mtime_ns
    path = write_study(tmp_path, "tiny_sn_params", sampler="random", seed=1, candidates=3, confirm=1,
                       objectives="[{metric: val_acc, direction: maximize}, {metric: params, direction: minimize}]")
    later = records(tmp_path, path)
    assert later.strategy.dir == r.strategy.dir
    prepare(later, Stop())
    assert "reusing it" in later.text.getvalue() and "training 2 epochs" not in later.text.getvalue()
    assert checkpoint.stat().st_mtime_ns == stamp
    reused = [x for x in _runs(later.tracker) if x.data.tags.get("role") == "supernet"]
    assert reused[0].data.tags["reused"] == "true" and "train_loss" in reused[0].data.metrics
    params = [t.values[1] for t in scored(optuna.load_study(study_name="tiny_sn_params" + CANDIDATES_SUFFIX,
                                                            storage=later.plan.storage))]
    assert len(params) == 3 and all(p == int(p) > 1000 for p in params)


def test_a_stop_during_training_raises_and_the_next_run_continues_from_the_checkpoint(tmp_path):
    import pytest

    from search.supernet import trained_epochs

    r = records(tmp_path, write_study(tmp_path, candidates=2, confirm=1))
    stop = Stop()
    say = r.progress.say

    def stop_after_first_epoch(text: str) -> None:
        say(text)
        if "supernet epoch 1/" in text:
            stop.set = True

    r.progress.say = stop_after_first_epoch
    with pytest.raises(KeyboardInterrupt):
        prepare(r, stop)
    assert trained_epochs(r.strategy.dir) == (1, 2)
    run = [x for x in _runs(r.tracker) if x.data.tags.get("role") == "supernet"][0]
    assert run.info.status == "KILLED"

    r.progress.say = say
    prepare(r, Stop())
    assert trained_epochs(r.strategy.dir) == (2, 2)
    assert "continuing" in r.text.getvalue()
    runs = [x for x in _runs(r.tracker) if x.data.tags.get("role") == "supernet"]
    assert len(runs) == 1 and runs[0].info.status == "FINISHED", "the same MLflow run continues"
