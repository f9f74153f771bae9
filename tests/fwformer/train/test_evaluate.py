"""`fwformer.evaluate`: a trained checkpoint read back, on its own and on other data configs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fwformer.config import load_config
from fwformer.evaluate import main
from fwformer.train import evaluate_checkpoint, train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = load_config("tiny", ["data=digits", "train.epochs=2", "train.energy_batches=1"], check=False)
    return out, train(cfg, out_dir=out, progress=False)


def test_evaluate_reproduces_the_validation_accuracy(run):
    out, result = run
    ev = evaluate_checkpoint(out, ["train.energy_batches=1"])
    assert ev["accuracy"] == pytest.approx(result["val_acc"])
    assert ev["num_samples"] == 360 and ev["trained_epochs"] == 2
    assert ev["energy_mj"] == pytest.approx(result["energy_mj"])


def test_cli_json_is_one_object(run, capsys):
    out, result = run
    main(["--checkpoint", str(out), "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["accuracy"] == pytest.approx(result["val_acc"]) and printed["energy_mj"] > 0


def test_evaluate_on_a_held_out_npz_file(run, tmp_path):
    from sklearn.datasets import load_digits

    out, result = run
    digits = load_digits()
    images = np.round(digits.images[:200] * 255 / 16).astype(np.uint8)  # [N, H, W] uint8
    np.savez(tmp_path / "test.npz", images=images, labels=digits.target[:200])
    ev = evaluate_checkpoint(out, ["data=npz", f"data.path={tmp_path / 'test.npz'}", "data.split=all"])
    assert ev["num_samples"] == 200 and ev["dataset"] == "npz"
    # The same digits re-encoded as uint8 and normalised with the checkpoint's statistics: the model
    # scores as on its own validation split (two epochs: ~0.4), far above chance (0.1). A wrong
    # normalisation or channel layout would drop it to chance.
    assert ev["accuracy"] > 0.25 and abs(ev["accuracy"] - result["val_acc"]) < 0.15


@pytest.mark.parametrize("args,message", [
    (["embed_dim=64"], "evaluate cannot override 'embed_dim'"),
    (["data=digits_dvs"], "in_channels=1 in the config, but dataset 'digits_dvs' has in_channels=2"),
    (["data=cifar10", "data.download=false"], "img_size=8 in the config"),
])
def test_cli_bad_input(run, capsys, args, message):
    out, _ = run
    with pytest.raises(SystemExit) as err:
        main(["--checkpoint", str(out), *args])
    assert err.value.code == 2 and message in capsys.readouterr().err


def test_missing_checkpoint(tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        main(["--checkpoint", str(tmp_path)])
    assert err.value.code == 2 and "no checkpoint" in capsys.readouterr().err
