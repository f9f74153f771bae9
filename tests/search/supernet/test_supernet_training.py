"""Supernet training (resume gives the uninterrupted run's weights), reuse checks, the candidate
loop (budget of distinct sub-networks, stop and resume) and the choice of the k to confirm."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fwformer.cli import ConfigError
from supernet_study import Stop, write_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    from search.study import load_study

    return load_study(write_study(tmp_path_factory.mktemp("study")))


@pytest.fixture(scope="module")
def trained(study, tmp_path_factory):
    """Supernets of the study: `straight` trained without a stop, `stopped` stopped after epoch 1."""
    from fwformer.data import build_datasets
    from search.supernet import train_supernet, training_config

    root = tmp_path_factory.mktemp("supernets")
    cfg = training_config(study)
    datasets = build_datasets(cfg)
    train_supernet(cfg, root / "straight", report=lambda m: False, datasets=datasets)
    train_supernet(cfg, root / "stopped", report=lambda m: m["epoch"] == 1, datasets=datasets)
    return root, cfg, datasets


def test_resumed_supernet_training_ends_with_the_uninterrupted_runs_weights_and_paths(trained, study, tmp_path):
    import shutil

    from fwformer.train import load_checkpoint
    from search.supernet import train_supernet, training_config

    root, cfg, datasets = trained
    shutil.copytree(root / "stopped", tmp_path / "resumed")
    assert load_checkpoint(tmp_path / "resumed")["epoch"] == 1
    train_supernet(cfg, tmp_path / "resumed", report=lambda m: False, datasets=datasets)
    a, b = load_checkpoint(root / "straight"), load_checkpoint(tmp_path / "resumed")
    assert a["epoch"] == b["epoch"] == 2
    assert a["model"]["_extra_state"] == b["model"]["_extra_state"] == {"steps": 2 * 3}
    for key, value in a["model"].items():
        if torch.is_tensor(value):
            assert torch.equal(value, b["model"][key]), key
    # A supernet over another space cannot continue this checkpoint.
    other = training_config(study)
    other.provenance = {"supernet": {**other.provenance["supernet"], "T": [1]}}
    with pytest.raises(ConfigError, match=r"cannot resume .*provenance\.supernet\.T"):
        train_supernet(other, tmp_path / "resumed", report=lambda m: False, datasets=datasets)


def test_a_distilled_supernet_resumes_to_the_uninterrupted_runs_weights_and_teacher(tmp_path):
    """With distill: inplace the teacher and the loss averages are part of the checkpoint: a training
    stopped after epoch 1 and resumed ends where the straight one does; the key names the distillation."""
    from fwformer.data import build_datasets
    from fwformer.train import load_checkpoint
    from search.study import load_study
    from search.supernet import supernet_key, train_supernet, training_config

    path = write_study(tmp_path)
    plain = training_config(load_study(path))
    cfg = training_config(load_study(path, ["search.supernet.distill=inplace"]))
    assert "distill" not in plain.provenance["supernet"] and cfg.provenance["supernet"]["distill"] == "inplace"
    assert supernet_key(plain) != supernet_key(cfg)
    datasets = build_datasets(cfg)
    train_supernet(cfg, tmp_path / "straight", report=lambda m: False, datasets=datasets)
    train_supernet(cfg, tmp_path / "resumed", report=lambda m: m["epoch"] == 1, datasets=datasets)
    assert load_checkpoint(tmp_path / "resumed")["epoch"] == 1
    train_supernet(cfg, tmp_path / "resumed", report=lambda m: False, datasets=datasets)
    a, b = load_checkpoint(tmp_path / "straight"), load_checkpoint(tmp_path / "resumed")
    assert a["model"]["_extra_state"] == b["model"]["_extra_state"]
    assert a["model"]["_extra_state"]["distill"]["teacher"] is not None
    for key, value in a["model"].items():
        if torch.is_tensor(value):
            assert torch.equal(value, b["model"][key]), key


def test_reuse_needs_a_finished_supernet_of_the_same_space_model_and_data(trained, study, tmp_path):
    from search.study import load_study
    from search.supernet import check_reusable

    root, _, _ = trained
    with pytest.raises(ConfigError, match="no supernet checkpoint at"):
        check_reusable(tmp_path / "none", study)
    with pytest.raises(ConfigError, match="has trained 1 of 2 epochs"):
        check_reusable(root / "stopped", study)
    check_reusable(root / "straight", study)  # finished, same space: fine
    path = write_study(tmp_path, "other")
    folder = root / "straight"
    with pytest.raises(ConfigError, match=r"trained over T \[1, 2\], but the study's space has \[1\]"):
        check_reusable(folder, load_study(path, ["space.T=[1]"]))
    with pytest.raises(ConfigError, match="another embed_dim"):
        check_reusable(folder, load_study(path, ["arch.embed_dim=16"]))
    reused = load_study(path, ["search.sampler=random", "search.seed=3", f"search.supernet.checkpoint={folder}",
                               "search.supernet.sampling=balanced", "train.lr=0.01"])
    check_reusable(folder, reused)  # its own sampling, seed and learning rate: still the same supernet
    assert reused.search.supernet.checkpoint == str(folder)


@pytest.mark.parametrize("override, match", [
    ("space.embed_dim=[16,32]", "shares weights over mixers and T only, but space.embed_dim"),
    ("objectives=[{metric: val_acc, direction: maximize}, {metric: train_time_s, direction: minimize}]",
     "objective 'train_time_s' cannot be scored"),
    ("search.supernet.confirm=0", "search.supernet.confirm must be >= 1"),
    ("search.supernet.candidates=1", r"candidates must be >= search.supernet.confirm=2"),
    ("search.supernet.sampling=fair", "sampling must be one of: uniform, balanced"),
    ("search.supernet.candidate_lr=0", r"search.supernet.candidate_lr must be a number > 0 .*but got 0"),
    ("search.supernet.candidate_lr=-2", r"search.supernet.candidate_lr must be a number > 0 .*but got -2"),
    ("search.supernet.candidate_lr=.nan", r"search.supernet.candidate_lr must be a number > 0 .*but got nan"),
    ("search.supernet.distill=kd", "search.supernet.distill must be one of: none, inplace, but got 'kd'"),
    ("search.supernet.batchnorm=perT", "search.supernet.batchnorm must be one of: shared, per-T, but got 'perT'"),
    ("search.strategy=one-shot", "search.strategy must be one of: trials, supernet"),
])
def test_a_study_the_supernet_cannot_run_is_one_clear_error(tmp_path, override, match):
    from search.study import load_study

    with pytest.raises(ConfigError, match=match):
        load_study(write_study(tmp_path), [override])


def test_candidate_lr_multiplies_the_step_of_the_candidate_mixers_only(tmp_path):
    """One optimizer step from the same weights, at candidate_lr 1 and 4: the shared weights move
    alike, the active path's candidates 4 times as far (AdamW's first step, weight decay included),
    the candidates off the path not at all; the multiplier is part of the supernet's identity."""
    import dataclasses

    from fwformer.data import build_datasets, with_data_geometry
    from fwformer.supernet import MIXER_KEY
    from fwformer.train import load_checkpoint, seed_everything
    from search.study import load_study
    from search.supernet import build_supernet, supernet_key, train_supernet, training_config

    path = write_study(tmp_path)
    mixers = "space.mixers=[ssa, sepconv]"  # both with weights: every path has candidates that train
    plain, scaled = (training_config(load_study(path, [mixers, f"search.supernet.candidate_lr={lr}"])) for lr in (1, 4))
    assert "candidate_lr" not in plain.provenance["supernet"]  # the supernets trained before keep their key
    assert scaled.provenance["supernet"]["candidate_lr"] == 4.0
    assert supernet_key(plain) != supernet_key(scaled)
    one_step = lambda cfg: dataclasses.replace(cfg, train=dataclasses.replace(  # noqa: E731
        cfg.train, epochs=1, max_steps_per_epoch=1, weight_decay=0.05))
    plain, scaled = one_step(plain), one_step(scaled)
    datasets = build_datasets(plain)
    seed_everything(plain.train.seed)  # what fwformer.train does before it builds the model
    net = build_supernet(with_data_geometry(plain))
    start = {k: v.clone() for k, v in net.state_dict().items() if torch.is_tensor(v)}
    path_of_step0 = net.sampler(0)
    weights, groups = {}, {}
    for name, cfg in (("plain", plain), ("scaled", scaled)):
        train_supernet(cfg, tmp_path / name, report=lambda m: False, datasets=datasets)
        state = load_checkpoint(tmp_path / name)
        weights[name], groups[name] = state["model"], state["optimizer"]["param_groups"]
    # At 1 the optimizer's groups are a stand-alone model's: decayed, then not (a checkpoint loads into them).
    assert [(g["weight_decay"], "lr_scale" in g) for g in groups["plain"]] == [(0.05, False), (0.0, False)]
    assert [(g["weight_decay"], g.get("lr_scale")) for g in groups["scaled"]] == [
        (0.05, None), (0.0, None), (0.05, 4.0), (0.0, 4.0)]
    params = {n for n, _ in net.named_parameters()}
    moved = {"shared": 0, "on path": 0, "off path": 0}
    for key in params:
        a, b = weights["plain"][key] - start[key], weights["scaled"][key] - start[key]
        m = MIXER_KEY.match(key)
        if m is None:
            assert torch.equal(a, b), key
            moved["shared"] += 1
        elif net.blocks[int(m.group(1))].names[int(m.group(2))] == path_of_step0.mixers[int(m.group(1))]:
            assert a.abs().max() > 0 and torch.allclose(b, 4 * a, rtol=1e-4, atol=1e-6), key  # float32 differences
            moved["on path"] += 1
        else:
            assert not a.any() and not b.any(), key
            moved["off path"] += 1
    assert all(moved.values()), moved


def test_candidates_count_distinct_subnetworks_and_resume_after_a_stop(study, tmp_path):
    import optuna

    from search.supernet import fail_running, open_candidates, scored, search_candidates

    storage = f"sqlite:///{tmp_path}/optuna.db"
    cstudy = open_candidates(storage, study)
    stop, calls = Stop(), []

    def score(choice) -> dict:  # a pure function of the architecture, so repeats are recognisable
        calls.append(choice)
        if len(calls) == 3:
            stop.set = True
        return {"val_acc": 0.1 * len(set(choice.mixers)) + 0.01 * choice.T, "energy_mj": 1.0 + choice.T}

    logged = []
    assert not search_candidates(cstudy, study, score, budget=8, on_scored=lambda t, r, k: logged.append(k), stop=stop)
    assert len(scored(cstudy)) == len(logged) == 3
    cstudy.ask()  # a candidate a killed driver left running
    assert fail_running(cstudy) == 1
    cstudy = open_candidates(storage, study)
    assert search_candidates(cstudy, study, score, budget=8, on_scored=lambda t, r, k: logged.append(k), stop=Stop())
    keys = [t.user_attrs["canonical_key"] for t in scored(cstudy)]
    assert len(keys) == len(set(keys)) == 8 == len(calls) == len(logged), "every sub-network scored once"
    repeats = [t for t in cstudy.get_trials(deepcopy=False) if t.user_attrs.get("kind") == "repeat"]
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in repeats)


def test_the_k_chosen_maximise_the_hypervolume_then_fill_from_the_next_layer():
    from search.front import layers
    from search.supernet import choose

    directions, reference = ["maximize", "minimize"], [0.0, 2.0]
    front = [[0.9, 1.0], [0.8, 0.5], [0.7, 0.2]]
    dominated = [[0.85, 1.1], [0.6, 0.6]]
    points = front + dominated
    assert [sorted(map(int, layer)) for layer in layers(np.array(points), directions)] == [[0, 1, 2], [3, 4]]
    # Alone, (0.7, 0.2) dominates the most (0.7 x 1.8); then (0.9, 1.0) adds more than (0.8, 0.5).
    assert choose(points, directions, reference, 2) == [2, 0]
    assert choose(points, directions, reference, 3) == [2, 0, 1]
    # Then the front of the rest: (0.6, 0.6) alone dominates 0.84, (0.85, 1.1) 0.765.
    assert choose(points, directions, reference, 4) == [2, 0, 1, 4]
    assert sorted(choose(points, directions, reference, 9)) == [0, 1, 2, 3, 4]


def test_the_few_shot_split_by_T_fine_tunes_one_sub_supernet_per_T_from_the_trained_weights(trained, tmp_path):
    """benchmarks.search_scale.fewshot: sub-supernet t starts from the parent's weights exactly, trains
    at T = t only, is scored for the sub-networks of its T, and is not trained again when finished."""
    from fwformer.supernet import Choice
    from fwformer.train import load_checkpoint
    from benchmarks.search_scale.fewshot import ByT, from_parent, split_config, train_split
    from search.supernet import load_supernet

    root, cfg, _ = trained
    parent = load_checkpoint(root / "straight")["model"]
    start = from_parent(root / "straight")(split_config(cfg, 2, 1)).state_dict()
    assert all(torch.equal(v, parent[k]) for k, v in start.items() if torch.is_tensor(v))
    lines: list[str] = []
    split = train_split(root / "straight", cfg, 1, tmp_path, lines.append)
    assert sorted(split) == [1, 2]
    for T, (folder, cpu) in split.items():
        sub, sub_cfg, state = load_supernet(folder)
        assert sub.T_choices == [T] and sub_cfg.provenance["supernet"]["blocks"] == cfg.provenance["supernet"]["blocks"]
        assert state["epoch"] == 1 and cpu > 0
        moved = [k for k, v in state["model"].items() if torch.is_tensor(v) and not torch.equal(v, parent[k])]
        assert any(k.startswith("sps.") for k in moved), "the shared weights were fine-tuned"
    trainings = sum("epoch" in line for line in lines)
    assert train_split(root / "straight", cfg, 1, tmp_path, lines.append) == split
    assert sum("epoch" in line for line in lines) == trainings, "a finished sub-supernet is not trained again"
    other = split_config(cfg, 1, 1)  # a sub-supernet over other candidates cannot take these weights
    other.provenance["supernet"]["blocks"] = [["ssa"], ["ssa"]]
    with pytest.raises(ValueError, match="not its parent's: missing .*unexpected .*blocks.0.mixers.1"):
        from_parent(root / "straight")(other)
    seen = []
    score = ByT({1: lambda c: seen.append((1, c.T)) or {}, 2: lambda c: seen.append((2, c.T)) or {}})
    score(Choice(("ssa", "fft2d"), 2)), score(Choice(("ssa", "fft2d"), 1))
    assert seen == [(2, 2), (1, 1)]
