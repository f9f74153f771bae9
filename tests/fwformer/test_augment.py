"""Augmentations: Spikformer's RandAugment policy (against PIL, which the reference runs), random
erasing as timm's, and how the data config builds them."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from fwformer.cli import ConfigError
from fwformer.config import load_config
from fwformer.data import dataset_info
from fwformer.data.augment import build_augment, random_erasing
from fwformer.data.randaugment import OPS, SKIPPED, SpikformerRandAugment

# ZK-Zhou/spikformer cifar10/aa_snn.py: `_RAND_TRANSFORMS` and `_RAND_INCREASING_TRANSFORMS` with
# their commented-out entries removed ('AutoContrast', 'Invert', 'Posterize*', 'Solarize*',
# 'SolarizeAdd', 'Color*', 'Contrast*', 'Brightness*', 'Sharpness*', 'ShearY' are comments there).
REFERENCE_OPS = {"Equalize", "Rotate", "ShearX", "TranslateXRel", "TranslateYRel"}


def test_draws_only_the_five_operations_the_reference_keeps_and_skips_half():
    torch.manual_seed(0)
    draw = SpikformerRandAugment(n=2).draw(4000)
    assert draw.op.shape == (2, 4000)
    drawn = {OPS[i] for i in draw.op.unique().tolist() if i != SKIPPED}
    assert drawn == REFERENCE_OPS
    skipped = float((draw.op == SKIPPED).float().mean())
    assert abs(skipped - 0.5) < 0.03  # timm's AugmentOp(prob=0.5)


def test_images_of_one_batch_get_different_operations_and_skipped_ones_are_untouched():
    torch.manual_seed(1)
    ra = SpikformerRandAugment(fill=(0.2, 0.4, 0.6))
    x = torch.rand(32, 3, 16, 16)
    draw = ra.draw(32)
    out = ra(x, draw)
    ops = draw.op[0]
    assert len(set(ops.tolist()) - {SKIPPED}) >= 3  # per image, not one operation for the batch
    for i, op in enumerate(ops.tolist()):
        changed = not torch.equal(out[i], x[i])
        assert changed == (op != SKIPPED), (i, op)


@pytest.mark.parametrize("name,signed_magnitude", [
    ("Rotate", 7.0), ("Rotate", -9.4), ("ShearX", 6.0), ("ShearX", -8.0), ("TranslateXRel", 5.0),
    ("TranslateYRel", -7.3),
])
def test_geometric_operations_match_pil_as_timm_calls_it(name, signed_magnitude):
    """The PIL calls of aa_snn.py at the same magnitude and sign; nearest resampling makes the
    geometry exact (the recipe resamples bicubically; torch's kernel differs slightly from PIL's)."""
    from PIL import Image  # matplotlib's dependency, so always installed
    img = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)  # H != W on purpose
    fill = (0.3, 0.5, 0.7)
    fillcolor = tuple(round(255 * f) for f in fill)  # timm's img_mean
    pil = Image.fromarray(img)
    level = signed_magnitude / 10
    if name == "Rotate":  # _rotate_level_to_arg: +-30 degrees at magnitude 10
        ref = pil.rotate(level * 30, resample=Image.NEAREST, fillcolor=fillcolor)
    else:  # shear_x, translate_x_rel, translate_y_rel: PIL affine transforms
        data = {"ShearX": (1, level * 0.3, 0, 0, 1, 0), "TranslateXRel": (1, 0, level * 0.45 * 24, 0, 1, 0),
                "TranslateYRel": (1, 0, 0, 0, 1, level * 0.45 * 20)}[name]
        ref = pil.transform(pil.size, Image.AFFINE, data, resample=Image.NEAREST, fillcolor=fillcolor)
    ra = SpikformerRandAugment(fill=fill, interpolation="nearest")
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    out = ra.apply_layer(x, torch.tensor([OPS.index(name)]), torch.tensor([abs(signed_magnitude)]),
                         torch.tensor([math.copysign(1.0, signed_magnitude)]))
    expected = torch.from_numpy(np.array(ref)).permute(2, 0, 1).float()
    assert torch.equal((out[0] * 255).round(), expected)


def test_equalize_matches_pil():
    from PIL import Image, ImageOps

    img = np.random.default_rng(1).integers(40, 120, (16, 16, 3), dtype=np.uint8)  # a narrow histogram
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    out = SpikformerRandAugment().apply_layer(x, torch.tensor([OPS.index("Equalize")]), torch.tensor([9.0]),
                                              torch.tensor([1.0]))
    expected = torch.from_numpy(np.array(ImageOps.equalize(Image.fromarray(img)))).permute(2, 0, 1).float()
    assert torch.equal((out[0] * 255).round(), expected)


def test_magnitude_is_normal_around_m_clipped_to_ten_and_signed_at_random():
    torch.manual_seed(2)
    draw = SpikformerRandAugment(m=9, mstd=0.4).draw(20000)
    mag = draw.magnitude.flatten()
    assert abs(float(mag.mean()) - 9.0) < 0.02 and abs(float(mag.std()) - 0.4) < 0.02
    assert set(draw.sign.unique().tolist()) == {-1.0, 1.0} and abs(float(draw.sign.mean())) < 0.03
    assert torch.all(SpikformerRandAugment(m=9, mstd=0).draw(100).magnitude == 9.0)
    clipped = SpikformerRandAugment(m=10, mstd=2.0).draw(1000).magnitude
    assert float(clipped.max()) == 10.0 and float(clipped.min()) >= 0.0
    # A larger magnitude moves an image further: translation by 0.45 * m/10 of the width.
    x = torch.zeros(2, 1, 1, 40)
    x[..., 20] = 1.0
    out = SpikformerRandAugment(fill=(0.0,), interpolation="nearest").apply_layer(
        x, torch.tensor([OPS.index("TranslateXRel")] * 2), torch.tensor([5.0, 10.0]), torch.tensor([1.0, 1.0]))
    assert out[0, 0, 0].argmax() == 20 - 9 and out[1, 0, 0].argmax() == 20 - 18  # x_in = x + 0.45 m/10 W


def test_same_seed_same_images_and_shapes_dtypes_kept():
    ra = SpikformerRandAugment(n=2, fill=(0.5,))
    x = torch.rand(16, 1, 12, 12)
    torch.manual_seed(3)
    a = ra(x)
    torch.manual_seed(3)
    draw = ra.draw(16)
    b = ra(x, draw)
    torch.manual_seed(4)
    c = ra(x)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.dtype == x.dtype and a.device == x.device
    assert 0.0 <= float(a.min()) and float(a.max()) <= 1.0


@pytest.mark.gpu
def test_on_the_gpu_the_draws_and_results_are_the_cpu_ones():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    ra = SpikformerRandAugment(fill=(0.4, 0.5, 0.6))
    x = torch.rand(64, 3, 32, 32)
    torch.manual_seed(5)
    draw = ra.draw(64)
    cpu, gpu = ra(x, draw), ra(x.cuda(), draw)
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-4)


def test_build_augment_picks_the_policy_and_fills_with_the_dataset_mean():
    cfg = load_config("cifar-small", ["data.randaugment=true", "data.randaugment_policy=spikformer",
                                      "data.crop_padding=0", "data.hflip=false"], check=False)
    info = dataset_info(cfg.data)
    mean = (0.4914, 0.4822, 0.4465)
    x = torch.rand(16, 3, 32, 32)
    torch.manual_seed(6)
    out = build_augment(cfg.data, info, mean=mean)(x)
    torch.manual_seed(6)
    expected = SpikformerRandAugment(n=1, m=9, mstd=0.4, fill=mean)(x)  # the recipe's rand-m9-n1-mstd0.4
    assert torch.equal(out, expected)
    # What comes from outside the image is timm's img_mean: the mean rounded to 8 bits.
    fill = torch.tensor([round(255 * m) / 255 for m in mean])
    pixels = out.permute(0, 2, 3, 1).reshape(-1, 3)
    assert bool(((pixels - fill).abs().max(1).values < 1e-6).any())
    kornia_cfg = load_config("cifar-small", ["data.randaugment=true", "data.randaugment_policy=kornia-default"],
                             check=False)
    y = build_augment(kornia_cfg.data, info)(torch.rand(4, 3, 32, 32))
    assert y.shape == (4, 3, 32, 32)


@pytest.mark.parametrize("overrides,message", [
    (["data.randaugment_policy=spikformr"], r"unknown data.randaugment_policy 'spikformr' \(did you mean: spikformer"),
    (["data.randaugment=true", "data.randaugment_m=12"], "timm's 0-10 scale"),
    (["data.randaugment=true", "data.randaugment_policy=kornia-default", "data.randaugment_mstd=0.4"],
     "randaugment_mstd is for the spikformer policy"),
    (["data.randaugment=true", "data.randaugment_mstd=-1"], "randaugment_mstd must be null or in"),
])
def test_bad_randaugment_options(overrides, message):
    with pytest.raises(ConfigError, match=message):
        dataset_info(load_config("cifar-small", overrides, check=False).data)


# --- random erasing, as timm's RandomErasing(probability, mode='const') -----------------------------

def test_erasing_sets_one_box_per_chosen_image_to_zero():
    torch.manual_seed(7)
    x = torch.rand(200, 3, 32, 32) + 1.0  # no zeros before erasing
    out = random_erasing(x, 1.0)
    for img in out:
        zero = (img == 0)
        assert torch.equal(zero[0], zero[1]) and torch.equal(zero[0], zero[2])  # every channel
        rows, cols = zero[0].any(1).nonzero().flatten(), zero[0].any(0).nonzero().flatten()
        h, w = len(rows), len(cols)
        assert h and w and int(zero[0].sum()) == h * w  # one solid rectangle
        assert rows[-1] - rows[0] + 1 == h and cols[-1] - cols[0] + 1 == w and h < 32 and w < 32
        area, aspect = h * w / 1024, h / w  # uniform(0.02, 1/3) of the image, aspect in [0.3, 1/0.3]
        assert 0.02 * 0.5 <= area <= 1 / 3 * 1.5 and 0.3 / 2 <= aspect <= 2 / 0.3
    assert torch.equal(random_erasing(x, 0.0), x)
    share = float((random_erasing(x, 0.25) == 0).flatten(1).any(1).float().mean())
    assert 0.1 < share < 0.4


def test_erasing_event_frames_uses_one_box_through_all_frames():
    torch.manual_seed(8)
    frames = torch.rand(3, 10, 2, 16, 16) + 1.0  # [T, B, C, H, W]
    out = random_erasing(frames, 1.0)
    assert torch.equal(out[0] == 0, out[1] == 0) and torch.equal(out[1] == 0, out[2] == 0)
    assert bool((out == 0).flatten(2).any(2).all())
