"""The reproduction presets carry Spikformer's CIFAR recipe field by field.

Every value below was read in ZK-Zhou/spikformer: `cifar10/cifar10.yml` (the config),
`cifar10/train.py` (timm 0.5.4's training script, slightly modified: its argparse defaults apply
where the yml is silent), `cifar10/loader.py` + `cifar10/transforms_factory.py` (the data
pipeline) and `cifar10/aa_snn.py` (the RandAugment operations).
"""
from __future__ import annotations

import pytest

from fwformer.config import load_config

REPRODUCTION_PRESETS = ["spikformer-4-384", "fwformer-4-384-fft1d", "fwformer-4-384-fft2d", "fwformer-4-384-wt",
                        "fwformer-4-384-dwtc"]

REFERENCE_DATA = {
    "name": "cifar10",          # yml `dataset: torch/cifar10`
    # train.py: `--train-split` default 'train', `--val-split` default 'validation', which timm's
    # torch/cifar10 dataset reads as train=False: the official test set is what it validates on.
    "split": "test",
    "normalize": True,          # yml `mean: [0.4914, 0.4822, 0.4465]`, `std: [0.2470, 0.2435, 0.2616]`
    "crop_padding": 0,          # yml `scale: [1.0, 1.0]`, `ratio: [1.0, 1.0]`: RandomResizedCrop is an identity
    "hflip": True,              # train.py `--hflip` default 0.5 (the yml does not set it)
    "randaugment": True,        # yml `aa: rand-m9-n1-mstd0.4-inc1`
    "randaugment_policy": "spikformer",  # aa_snn.py `_RAND_INCREASING_TRANSFORMS`: Equalize, Rotate, ShearX, TranslateXRel, TranslateYRel
    "randaugment_n": 1,         # `n1`
    "randaugment_m": 9,         # `m9`
    "randaugment_mstd": 0.4,    # `mstd0.4`
    "random_erasing": 0.25,     # yml `reprob: 0.25`, `remode: const` (PrefetchLoader: after normalisation)
}

REFERENCE_TRAIN = {
    "epochs": 300,              # yml `epochs: 300` (timm's cosine length, t_initial)
    "cooldown_epochs": 10,      # yml `cooldown_epochs: 10`: create_scheduler returns 300 + 10 epochs to run
    "batch_size": 128,          # yml `batch_size: 128`
    "lr": 5e-4,                 # yml `lr: 5e-4`
    "min_lr": 1e-5,             # yml `min_lr: 1e-5`
    "warmup_epochs": 20,        # yml `warmup_epochs: 20`
    "warmup_lr": 1e-5,          # yml `warmup_lr: 0.00001`
    "warmup_prefix": False,     # create_scheduler builds CosineLRScheduler without warmup_prefix (default False)
    "lr_per_epoch": True,       # yml `sched: cosine`; t_in_epochs=True, `lr_scheduler.step(epoch + 1)` per epoch
    "weight_decay": 0.06,       # yml `weight_decay: 6e-2` (timm's optimizer factory: none on biases and norms)
    "label_smoothing": 0.1,     # yml `smoothing: 0.1`
    "mixup": 0.5,               # yml `mixup: 0.5`, `mixup_prob: 1.0`, `mixup_mode: batch`
    "cutmix": 0.0,              # yml `cutmix: 0.0`
    "mixup_off_epoch": 200,     # yml `mixup_off_epoch: 200`
    "grad_clip": 0.0,           # train.py `--clip-grad` default None: no clipping
    "amp": True,                # yml `amp: True`
}


@pytest.mark.parametrize("preset", REPRODUCTION_PRESETS)
def test_reproduction_presets_follow_the_reference_recipe(preset):
    cfg = load_config(preset)
    for key, value in REFERENCE_DATA.items():
        assert getattr(cfg.data, key) == value, f"{preset}: data.{key}"
    for key, value in REFERENCE_TRAIN.items():
        assert getattr(cfg.train, key) == pytest.approx(value), f"{preset}: train.{key}"
    # yml `time_step: 4`, `layer: 4`, `dim: 384`, `num_heads: 12`, `mlp_ratio: 4`, `img_size: 32`
    assert (cfg.T, cfg.depth, cfg.embed_dim, cfg.num_heads, cfg.mlp_ratio, cfg.img_size) == (4, 4, 384, 12, 4.0, 32)


def test_the_cifar10_normalisation_is_the_references():
    from fwformer.data.cifar import SPECS

    # yml `mean` / `std`, used by the loader's normalisation and (rounded to 8 bits) as RandAugment's fill.
    assert SPECS["cifar10"].mean == (0.4914, 0.4822, 0.4465)
    assert SPECS["cifar10"].std == (0.2470, 0.2435, 0.2616)


# --- Spike-driven Transformer: BICLab/Spike-Driven-Transformer conf/cifar10/2_512_300E_t4.yml + train.py -----

SPIKE_DRIVEN_TRAIN = {
    "epochs": 300, "cooldown_epochs": 10, "batch_size": 64, "lr": 3e-4, "min_lr": 1e-5, "warmup_epochs": 20,
    "warmup_lr": 1e-6, "warmup_prefix": False, "lr_per_epoch": True, "weight_decay": 0.06, "label_smoothing": 0.1,
    "mixup": 0.5, "cutmix": 0.0, "mixup_off_epoch": 200,
    "grad_clip": 0.0,  # train.py --clip-grad default None
    "amp": False,  # yml amp: False
    "seed": 42,
}


def spike_driven_reference_parameters(d: int, depth: int, classes: int, heads: int, with_talking_heads: bool) -> int:
    """model/spikeformer.py + module/{sps,ms_conv}.py, counted from their layers."""
    sps = 3 * 9 * d // 8 + (d // 8) * 9 * (d // 4) + (d // 4) * 9 * (d // 2) + (d // 2) * 9 * d + d * 9 * d
    sps += 2 * (d // 8 + d // 4 + d // 2 + d + d)  # five BatchNorm2d
    attention = 3 * d * d + 3 * 2 * d + d * d + d + 2 * d + (heads * heads if with_talking_heads else 0)
    mlp = d * 4 * d + 4 * d + 2 * 4 * d + 4 * d * d + d + 2 * d
    return sps + depth * (attention + mlp) + d * classes + classes


def test_spike_driven_preset_is_the_reference_cifar10_model_and_recipe():
    from fwformer.model import build_model, count_parameters

    cfg = load_config("spike-driven-2-512")
    assert (cfg.T, cfg.depth, cfg.embed_dim, cfg.num_heads, cfg.mlp_ratio) == (4, 2, 512, 8, 4.0)
    assert (cfg.mixers, cfg.shortcut, cfg.head_lif, cfg.init) == (["sdsa"], "membrane", True, "spike-driven")
    for key, value in SPIKE_DRIVEN_TRAIN.items():
        assert getattr(cfg.train, key) == pytest.approx(value), f"train.{key}"
    assert (cfg.data.split, cfg.data.hflip, cfg.data.random_erasing, cfg.data.randaugment_m) == ("test", True, 0.0, 9)
    model = build_model(cfg)
    # The reference less its unused talking-heads Conv1d (8 x 8 per block).
    assert count_parameters(model) == spike_driven_reference_parameters(512, 2, 10, 8, False) == 10_233_418
    assert spike_driven_reference_parameters(512, 2, 10, 8, True) - count_parameters(model) == 2 * 64
    # The paper's 10.28M: the same model with CIFAR-100's 100-class head.
    assert round(count_parameters(build_model(load_config("spike-driven-2-512", ["num_classes=100"]))) / 1e6, 2) == 10.28


# --- SWformer: bic-L/Spiking-Wavelet-Transformer cifar10-100/cifar10.yaml + train.py + model.py ----------------

SWFORMER_TRAIN = {
    "epochs": 400, "cooldown_epochs": 10, "batch_size": 128, "lr": 1.5e-3, "min_lr": 1e-5, "warmup_epochs": 20,
    "warmup_lr": 8e-5, "warmup_prefix": False, "lr_per_epoch": True, "weight_decay": 0.06, "label_smoothing": 0.1,
    "mixup": 0.5, "cutmix": 0.0, "mixup_off_epoch": 200, "grad_clip": 0.0, "amp": True,
}


def swformer_reference_parameters(d: int, depth: int, classes: int, blocks: int) -> int:
    """cifar10-100/model.py's SPS, Block(FATM, MLP) and head, counted from their layers."""
    s = d // blocks
    sps = 3 * 9 * d // 8 + (d // 8) * 9 * (d // 4) + (d // 4) * 9 * (d // 2) + (d // 2) * 9 * d + d * 9 * d
    sps += 2 * (d // 8 + d // 4 + d // 2 + d + d)  # five BatchNorm2d
    fatm = blocks * s * s + (s * s + s) + (9 * s * s + s) + 5 * 2 * d  # haar_weight, conv1, conv2, five BNs
    mlp = d * 4 * d + 4 * d + 2 * 4 * d + 4 * d * d + d + 2 * d
    return sps + depth * (fatm + mlp) + d * classes + classes


def test_swformer_preset_is_the_reference_cifar10_model_and_recipe():
    from fwformer.model import build_model, count_parameters

    cfg = load_config("swformer-4-384")
    assert (cfg.T, cfg.depth, cfg.embed_dim, cfg.mlp_ratio) == (4, 4, 384, 4.0)
    assert (cfg.mixers, cfg.shortcut, cfg.head_lif, cfg.init) == (["fatm"], "membrane", False, "swformer")
    for key, value in SWFORMER_TRAIN.items():
        assert getattr(cfg.train, key) == pytest.approx(value), f"train.{key}"
    assert (cfg.data.split, cfg.data.random_erasing, cfg.data.randaugment_m) == ("test", 0.25, 9)
    model = build_model(cfg)
    assert model.blocks[0].mixer.blocks == 4  # FL_blocks: train.py's --flblocks default
    assert count_parameters(model) == swformer_reference_parameters(384, 4, 10, 4) == 7_479_226
