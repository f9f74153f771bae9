"""The training loop: learning, determinism, resume, early stop, errors and the CLI."""
from __future__ import annotations

import json
import math

import pytest
import torch

from fwformer.cli import ConfigError
from fwformer.config import load_config
from fwformer.train import NonFiniteLossError, load_checkpoint, lr_at, main, schedule_of, train

EPOCH_KEYS = {"epoch", "train_loss", "val_acc", "images_per_s", "peak_mem_mb", "mean_firing_rate", "lr"}
RESULT_KEYS = {"val_acc", "energy_mj", "macs", "acs", "params", "epochs", "train_time_s", "images_per_s",
               "latency_ms", "peak_mem_mb", "mean_firing_rate", "stopped_early"}


def quick(*overrides: str, steps: int = 4):
    """The tiny preset on digits, a few small steps per epoch."""
    return load_config("tiny", ["data=digits", "train.batch_size=32", f"train.max_steps_per_epoch={steps}",
                                "train.energy_batches=1", *overrides], check=False)


def test_lr_schedule_warms_up_then_decays_to_min_lr():
    kw = dict(lr=1.0, min_lr=0.1, warmup=4, total=20)
    lrs = [lr_at(s, **kw) for s in range(20)]
    assert lrs[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))
    assert lr_at(20, **kw) == pytest.approx(0.1) and lr_at(100, **kw) == pytest.approx(0.1)
    assert lr_at(0, lr=1.0, min_lr=0.0, warmup=0, total=10) == 1.0


def test_lr_schedule_as_timm_runs_the_spikformer_recipe():
    """timm 0.5.4's CosineLRScheduler as ZK-Zhou/spikformer's train.py builds it (create_scheduler:
    t_initial=epochs 300, lr_min 1e-5, warmup_lr_init 1e-5, warmup_t 20, warmup_prefix False,
    t_in_epochs True, stepped once per epoch), plus cooldown_epochs 10 at lr_min. Its _get_lr(t):
    t < warmup_t: warmup_lr_init + t * (lr - warmup_lr_init) / warmup_t; else, for t < t_initial,
    lr_min + 0.5 (lr - lr_min)(1 + cos(pi t / t_initial)); then lr_min."""
    spe = 7  # optimizer steps per epoch
    kw = dict(lr=5e-4, min_lr=1e-5, warmup=20, total=300, warmup_lr=1e-5, warmup_prefix=False,
              steps_per_update=spe)

    def timm(t):
        if t < 20:
            return 1e-5 + t * (5e-4 - 1e-5) / 20
        if t < 300:
            return 1e-5 + 0.5 * (5e-4 - 1e-5) * (1 + math.cos(math.pi * t / 300))
        return 1e-5

    for epoch in (0, 1, 10, 19, 20, 21, 150, 299, 300, 309):
        per_step = {lr_at(epoch * spe + i, **kw) for i in range(spe)}
        assert len(per_step) == 1, epoch  # constant within an epoch
        assert per_step.pop() == pytest.approx(timm(epoch), rel=1e-12, abs=1e-15), epoch
    assert lr_at(0, **kw) == 1e-5  # the warm-up starts at warmup_lr, not at lr / warmup
    assert lr_at(20 * spe, **kw) < 5e-4  # the cosine has already left lr when the warm-up ends


def test_schedule_of_a_config_counts_epochs_or_steps():
    cfg = quick("train.epochs=10", "train.warmup_epochs=2", "train.lr_per_epoch=true", "train.warmup_lr=1e-4")
    kw = schedule_of(cfg.train, steps_per_epoch=5)
    assert (kw["warmup"], kw["total"], kw["steps_per_update"], kw["warmup_lr"]) == (2, 10, 5, 1e-4)
    kw = schedule_of(quick("train.epochs=10", "train.warmup_epochs=0.5").train, steps_per_epoch=4)
    assert (kw["warmup"], kw["total"], kw.get("steps_per_update", 1)) == (2, 40, 1)


def test_cooldown_epochs_run_at_min_lr_after_the_cosine():
    seen = []
    cfg = quick("train.epochs=2", "train.cooldown_epochs=1", "train.warmup_epochs=1", "train.lr_per_epoch=true",
                "train.warmup_lr=1e-3", "train.min_lr=2e-4", "train.warmup_prefix=false", "data.val_fraction=0.06",
                steps=2)
    result = train(cfg, report=seen.append, progress=False)
    assert result["epochs"] == 3 and [m["epoch"] for m in seen] == [1, 2, 3]
    middle = 2e-4 + 0.5 * (cfg.train.lr - 2e-4) * (1 + math.cos(math.pi / 2))  # cosine at epoch 1 of 2
    assert [m["lr"] for m in seen] == pytest.approx([1e-3, middle, 2e-4])
    assert result["best_val_acc"] == max(m["val_acc"] for m in seen)
    assert seen[result["best_epoch"] - 1]["val_acc"] == result["best_val_acc"]


def test_mixup_stops_at_mixup_off_epoch_and_erasing_follows_mixing(monkeypatch):
    import fwformer.data.augment as augment

    calls = []
    mix, erase = augment.mix_batch, augment.random_erasing
    monkeypatch.setattr(augment, "mix_batch", lambda *a, **k: calls.append("mix") or mix(*a, **k))
    monkeypatch.setattr(augment, "random_erasing", lambda *a, **k: calls.append("erase") or erase(*a, **k))
    per_epoch = []
    cfg = quick("train.epochs=3", "train.mixup=0.5", "train.mixup_off_epoch=2", "data.random_erasing=0.5",
                "data.val_fraction=0.06", steps=2)
    train(cfg, report=lambda m: per_epoch.append(calls.count("mix")), progress=False)
    assert per_epoch == [2, 4, 4]  # mixed in epochs 1 and 2, as timm's `epoch >= mixup_off_epoch` (0-based)
    assert calls[:4] == ["mix", "erase", "mix", "erase"] and calls.count("erase") == 6


def test_tiny_on_digits_learns_well_above_chance():
    seen = []
    result = train(quick("train.epochs=3", steps=1000), report=seen.append, progress=False)
    assert result["val_acc"] > 0.5  # chance is 0.1
    assert RESULT_KEYS <= set(result) and result["epochs"] == 3 and not result["stopped_early"]
    assert [m["epoch"] for m in seen] == [1, 2, 3] and all(EPOCH_KEYS <= set(m) for m in seen)
    assert seen[-1]["train_loss"] < seen[0]["train_loss"]
    assert result["energy_mj"] > 0 and result["macs"] > 0 and result["acs"] > 0
    assert 0 < result["mean_firing_rate"] < 1 and result["latency_ms"] > 0 and result["params"] > 1000
    json.dumps(result)  # plain data all the way down


def test_same_seed_same_numbers_on_cpu():
    a = train(quick("train.epochs=2"), progress=False)
    b = train(quick("train.epochs=2"), progress=False)
    c = train(quick("train.epochs=2", "train.seed=1"), progress=False)
    for key in ("train_loss", "val_acc", "val_loss", "energy_mj", "mean_firing_rate"):
        assert a[key] == b[key], key
    assert a["train_loss"] != c["train_loss"]


def test_resumed_run_equals_an_uninterrupted_one(tmp_path):
    cfg = quick("train.epochs=3", "data.hflip=true", "data.crop_padding=1", "train.mixup=0.2")
    full = train(cfg, out_dir=tmp_path / "full", progress=False)
    # Interrupted after epoch 2 (the report callback stops it), then resumed to the end.
    part = train(cfg, out_dir=tmp_path / "part", progress=False, report=lambda m: m["epoch"] == 2)
    assert part["stopped_early"] and part["epochs"] == 2
    resumed = train(cfg, out_dir=tmp_path / "part", progress=False, resume=True)
    assert resumed["epochs"] == 3
    for key in ("train_loss", "val_acc", "val_loss", "energy_mj"):
        assert resumed[key] == full[key], key
    a, b = load_checkpoint(tmp_path / "full")["model"], load_checkpoint(tmp_path / "part")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_a_different_architecture(tmp_path):
    train(quick("train.epochs=1", steps=1), out_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match=r"cannot resume.*embed_dim"):
        train(quick("train.epochs=2", "embed_dim=16", steps=1), out_dir=tmp_path, progress=False, resume=True)


def test_early_stop_from_the_report_callback():
    result = train(quick("train.epochs=5", steps=2), progress=False, report=lambda m: True)
    assert result["stopped_early"] and result["epochs"] == 1


def test_nan_loss_raises():
    cfg = quick("train.lr=1e30", "train.grad_clip=0", "train.warmup_epochs=0", "train.min_lr=0", "train.epochs=1",
                steps=8)
    with pytest.raises(NonFiniteLossError, match=r"training loss is (nan|inf).*lower train.lr"):
        train(cfg, progress=False)


def test_event_data_trains_with_channels_from_the_data():
    result = train(quick("data=digits_dvs", "in_channels=null", "train.epochs=1", steps=2), progress=False)
    assert result["dataset"] == "digits_dvs" and math.isfinite(result["val_loss"])


def test_progress_bar_and_epoch_lines(monkeypatch, capsys):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    train(quick("train.epochs=1", steps=3), progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "img/s" in err


@pytest.mark.parametrize("override,message", [
    ("train.epochs=0", "train.epochs must be between 1 and 100000, but got 0"),
    ("train.label_smoothing=1.5", "label_smoothing"),
    ("train.cooldown_epochs=-1", "train.cooldown_epochs must be >= 0"),
    ("train.mixup_off_epoch=0", "train.mixup_off_epoch must be >= 1 or null"),
    ("train.warmup_lr=1", "train.warmup_lr must be null or between 0 and train.lr"),
    ("train.lr_per_epoch=true", "whole number of train.warmup_epochs"),  # tiny's warm-up is 0.5 epochs
])
def test_bad_train_config(override, message):
    with pytest.raises(ConfigError, match=message):
        train(quick(override), progress=False)


def test_num_threads_is_honoured_and_restored():
    before = torch.get_num_threads()
    seen = []
    train(quick("train.epochs=1", "train.num_threads=1", steps=1), progress=False,
          report=lambda m: seen.append(torch.get_num_threads()))
    assert seen == [1] and torch.get_num_threads() == before


# --- the CLI ---------------------------------------------------------------------------------------

def test_cli_writes_metrics_checkpoint_and_config(tmp_path, capsys):
    out = tmp_path / "run"
    main(["--config", "tiny", "data=digits", "train.epochs=1", "train.max_steps_per_epoch=2", "train.batch_size=32",
          "--out", str(out), "--quiet"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"val_acc", "energy_mj", "params", "epochs"} <= set(metrics) and metrics["epochs"] == 1
    assert (out / "checkpoint.pt").is_file() and load_config(out / "config.yaml").data.name == "digits"
    assert "val_acc" in capsys.readouterr().out
    # A second run into the same folder must not clobber it.
    with pytest.raises(SystemExit) as err:
        main(["--config", "tiny", "data=digits", "--out", str(out)])
    assert err.value.code == 2 and "already exists" in capsys.readouterr().err


@pytest.mark.parametrize("overrides,message", [
    (["data=nope"], "unknown dataset 'nope'"),
    (["data=digits", "in_channels=3"], "in_channels=3 in the config"),
    (["data=npz", "data.path=/nonexistent/x.npz"], "does not exist"),
    (["data=cifar10", "data.root=/nonexistent", "data.download=false", "img_size=32", "in_channels=3",
      "sps_pools=2"], "cifar-10-python.tar.gz"),
    (["data=digits", "train.epochs=0"], "train.epochs"),
])
def test_cli_bad_input_is_one_line_and_creates_nothing(tmp_path, capsys, overrides, message):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as err:
        main(["--config", "tiny", *overrides, "--out", str(out)])
    stderr = capsys.readouterr().err
    assert err.value.code == 2 and message in stderr and stderr.count("\n") == 1
    assert not out.exists()


def test_cli_resume_needs_a_checkpoint(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--config", "tiny", "data=digits", "--out", str(tmp_path / "none"), "--resume"])
    assert "--resume needs" in capsys.readouterr().err


def test_cli_logs_to_mlflow_when_a_tracking_uri_is_given(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    main(["--config", "tiny", "data=digits", "train.epochs=1", "train.max_steps_per_epoch=1", "train.batch_size=16",
          "--out", str(tmp_path / "run"), "--quiet", "--tracking-uri", uri, "--experiment", "t"])
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["t"])
    assert len(runs) == 1 and "metrics.val_acc" in runs.columns and "params.embed_dim" in runs.columns


@pytest.mark.slow
def test_tiny_preset_reaches_90_percent_on_digits(tmp_path):
    """The issue's bar: `python -m fwformer.train --config tiny data=digits` reaches >= 90%."""
    result = main(["--config", "tiny", "data=digits", "--out", str(tmp_path / "d"), "--quiet"])
    assert result["val_acc"] >= 0.9
