"""Augmentations on whole batches of tensors, on whatever device the batch is on.

Spikformer's CIFAR recipe (ZK-Zhou/spikformer `cifar10/cifar10.yml`, timm's training script):
per image, a resized crop with scale and ratio fixed at 1 (an identity at 32x32, so nothing here),
a horizontal flip (p 0.5), then RandAugment `rand-m9-n1-mstd0.4-inc1` (`data.randaugment_policy:
spikformer`, fwformer/data/randaugment.py); after normalisation, mixup 0.5 (switched off at epoch
200) and random erasing 0.25 (a box set to 0, timm's 'const' mode). The per-image steps run in the
loader (`build_augment`, on [0, 1] images before normalisation); mixup/cutmix change the targets
and erasing follows them, so the training loop calls `mix_batch` and `build_erasing`'s function
itself. `random_crop` (zero padding) and kornia's default RandAugment policy are options of ours,
not the recipe's. All randomness comes from torch's global generator, which the training loop
seeds and checkpoints.
"""
from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from fwformer.cli import ConfigError, closest
from fwformer.config import DataConfig
from fwformer.data.base import DataInfo


def random_crop(x: torch.Tensor, padding: int) -> torch.Tensor:
    """Zero-pad `[B, C, H, W]` by `padding` and cut every sample back to H x W at its own offset."""
    if padding <= 0:
        return x
    b, c, h, w = x.shape
    xp = F.pad(x, (padding, padding, padding, padding))  # [B, C, H+2p, W+2p]
    oy = torch.randint(0, 2 * padding + 1, (b,)).to(x.device)
    ox = torch.randint(0, 2 * padding + 1, (b,)).to(x.device)
    rows = oy[:, None] + torch.arange(h, device=x.device)  # [B, H]
    cols = ox[:, None] + torch.arange(w, device=x.device)  # [B, W]
    xp = xp.gather(2, rows[:, None, :, None].expand(b, c, h, w + 2 * padding))  # [B, C, H, W+2p]
    return xp.gather(3, cols[:, None, None, :].expand(b, c, h, w))  # [B, C, H, W]


def random_hflip(x: torch.Tensor) -> torch.Tensor:
    flip = (torch.rand(x.shape[0]) < 0.5).to(x.device)
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


RANDAUGMENT_POLICIES = ("spikformer", "kornia-default")


def _kornia_default_randaugment(n: int, m: int, channels: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """kornia's RandAugment with its full default policy (photometric ops too); ops drawn once per batch."""
    from kornia.augmentation.auto import RandAugment
    from kornia.augmentation.auto.rand_augment.rand_augment import default_policy

    # kornia's `color` (saturation) needs RGB; grayscale images draw from the other operations.
    policy = default_policy if channels == 3 else [p for p in default_policy if p[0][0] != "color"]
    ra = RandAugment(n=n, m=m, policy=policy)
    return lambda x: ra(x.clamp(0.0, 1.0))


def random_erasing(x: torch.Tensor, p: float, *, min_area: float = 0.02, max_area: float = 1 / 3,
                   min_aspect: float = 0.3, attempts: int = 10) -> torch.Tensor:
    """timm's RandomErasing (mode 'const', one box): with probability p per sample, a box of
    uniform(min_area, max_area) of the image at a log-uniform aspect ratio, at a uniform position,
    set to 0; the first of `attempts` draws that fits is used (none fits: nothing is erased).

    x: `[B, C, H, W]`, or `[T, B, C, H, W]` (one box per sample, through all its frames).
    """
    b, (h, w) = x.shape[-4], x.shape[-2:]
    erase = torch.rand(b) <= p  # timm skips a sample when random() > p
    area = torch.empty(b, attempts).uniform_(min_area, max_area) * (h * w)
    aspect = torch.empty(b, attempts).uniform_(math.log(min_aspect), -math.log(min_aspect)).exp()
    box_h, box_w = (area * aspect).sqrt().round(), (area / aspect).sqrt().round()  # [B, attempts]
    fits = (box_h < h) & (box_w < w)
    first = fits.float().argmax(dim=1, keepdim=True)  # the first attempt that fits
    erase &= fits.any(dim=1)
    box_h, box_w = box_h.gather(1, first).squeeze(1), box_w.gather(1, first).squeeze(1)  # [B]
    top = (torch.rand(b) * (h - box_h + 1)).floor()  # randint(0, h - box_h), inclusive
    left = (torch.rand(b) * (w - box_w + 1)).floor()
    rows, cols = torch.arange(h)[None, :, None], torch.arange(w)[None, None, :]
    mask = (erase[:, None, None] & (rows >= top[:, None, None]) & (rows < (top + box_h)[:, None, None])
            & (cols >= left[:, None, None]) & (cols < (left + box_w)[:, None, None]))  # [B, H, W]
    mask = mask.to(x.device).unsqueeze(-3)  # [B, 1, H, W]: every channel
    return x.masked_fill(mask if x.dim() == 4 else mask.unsqueeze(0), 0.0)


def check_augment(dc: DataConfig, info: DataInfo) -> None:
    if dc.crop_padding < 0:
        raise ConfigError(f"data.crop_padding must be >= 0, but got {dc.crop_padding}")
    if not 0.0 <= dc.random_erasing <= 1.0:
        raise ConfigError(f"data.random_erasing is a probability in [0, 1], but got {dc.random_erasing}")
    if dc.randaugment_policy not in RANDAUGMENT_POLICIES:
        raise ConfigError(f"unknown data.randaugment_policy '{dc.randaugment_policy}'"
                          f"{closest(dc.randaugment_policy, RANDAUGMENT_POLICIES)}; expected one of: "
                          f"{', '.join(RANDAUGMENT_POLICIES)}")
    if not dc.randaugment:
        return
    if info.event:
        raise ConfigError(f"data.randaugment works on images, but dataset '{info.name}' is event frames; "
                          f"use data.crop_padding and data.hflip for event data")
    if info.in_channels not in (1, 3):
        raise ConfigError(f"data.randaugment needs 1 or 3 image channels, but dataset '{info.name}' has {info.in_channels}")
    if dc.randaugment_policy == "spikformer":
        if not 0 <= dc.randaugment_m <= 10:
            raise ConfigError(f"data.randaugment_m is on timm's 0-10 scale for the spikformer policy, "
                              f"but got {dc.randaugment_m}")
        if not 1 <= dc.randaugment_n <= 10:
            raise ConfigError(f"data.randaugment_n must be in [1, 10], but got {dc.randaugment_n}")
        if dc.randaugment_mstd is not None and not 0 <= dc.randaugment_mstd <= 100:
            raise ConfigError(f"data.randaugment_mstd must be null or in [0, 100], but got {dc.randaugment_mstd}")
    else:
        if not 0 < dc.randaugment_m < 30:
            raise ConfigError(f"data.randaugment_m is on kornia's (0, 30) scale for the kornia-default policy, "
                              f"but got {dc.randaugment_m}")
        if not 1 <= dc.randaugment_n <= 14:
            raise ConfigError(f"data.randaugment_n must be in [1, 14], but got {dc.randaugment_n}")
        if dc.randaugment_mstd is not None:
            raise ConfigError(f"data.randaugment_mstd is for the spikformer policy (kornia's RandAugment has no "
                              f"magnitude noise); leave it null with kornia-default, but got {dc.randaugment_mstd}")


def build_augment(dc: DataConfig, info: DataInfo, *, mean: Optional[Sequence[float]] = None
                  ) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    """The per-sample training augmentation a data config asks for, or None (input: images in [0, 1]).

    mean: the dataset's normalisation mean, whose 8-bit rounding fills what geometric RandAugment
    operations bring in from outside the image (timm's `img_mean`); None: mid-grey.
    """
    check_augment(dc, info)
    steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
    if dc.crop_padding:
        steps.append(lambda x: random_crop(x, dc.crop_padding))
    if dc.hflip:
        steps.append(random_hflip)
    if dc.randaugment and dc.randaugment_policy == "spikformer":
        from fwformer.data.randaugment import SpikformerRandAugment

        mstd = 0.4 if dc.randaugment_mstd is None else dc.randaugment_mstd
        steps.append(SpikformerRandAugment(n=dc.randaugment_n, m=dc.randaugment_m, mstd=mstd,
                                           fill=mean if mean is not None else (0.5,)))
    elif dc.randaugment:
        steps.append(_kornia_default_randaugment(dc.randaugment_n, dc.randaugment_m, info.in_channels))
    if not steps:
        return None

    def augment(x: torch.Tensor) -> torch.Tensor:
        for step in steps:
            x = step(x)
        return x

    return augment


def build_erasing(dc: DataConfig) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    """Random erasing for normalised (and mixed) training batches, or None when it is off."""
    if dc.random_erasing <= 0:
        return None
    return lambda x: random_erasing(x, dc.random_erasing)


def mix_batch(x: torch.Tensor, y: torch.Tensor, num_classes: int, *, mixup: float = 0.0,
              cutmix: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup or cutmix (one of them per batch, chosen at random when both are on) -> soft targets.

    x is `[B, C, H, W]` or `[T, B, C, H, W]`; targets are `[B, classes]` probabilities. With both
    alphas 0 the batch and one-hot targets come back unchanged.
    """
    targets = F.one_hot(y, num_classes).float()
    if mixup <= 0 and cutmix <= 0:
        return x, targets
    use_cutmix = cutmix > 0 and (mixup <= 0 or bool(torch.rand(()) < 0.5))
    alpha = cutmix if use_cutmix else mixup
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    batch_dim = x.dim() - 4  # 0 for images, 1 for [T, B, ...]
    perm = torch.randperm(y.shape[0]).to(y.device)
    other = x.index_select(batch_dim, perm)
    if use_cutmix:
        h, w = x.shape[-2:]
        cut_h, cut_w = int(h * (1 - lam) ** 0.5), int(w * (1 - lam) ** 0.5)
        cy, cx = int(torch.randint(0, h, ())), int(torch.randint(0, w, ()))
        y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h // 2, h)
        x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w // 2, w)
        x = x.clone()
        x[..., y0:y1, x0:x1] = other[..., y0:y1, x0:x1]
        lam = 1 - (y1 - y0) * (x1 - x0) / (h * w)  # the area actually pasted
    else:
        x = lam * x + (1 - lam) * other
    return x, lam * targets + (1 - lam) * targets[perm]
