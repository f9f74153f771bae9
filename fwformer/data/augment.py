"""Augmentations on whole batches of tensors, on whatever device the batch is on.

The Spikformer CIFAR recipe (REFERENCE.md): random crop with 4-pixel padding, horizontal flip,
RandAugment (m 9, n 1), random erasing 0.25, mixup 0.5 (and/or cutmix), label smoothing 0.1.
Crop and flip are written here (a gather and a where, per sample); RandAugment and random erasing
are kornia's (RandAugment draws its operations once per batch, their signs and parameters per
sample); erasing fills its box with 0 before normalisation. Mixup/cutmix change the targets too, so the
training loop calls `mix_batch` itself. All randomness comes from torch's global generator, which
the training loop seeds and checkpoints.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F

from fwformer.config import DataConfig
from fwformer.data.base import DataInfo
from fwformer.errors import ConfigError


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


def _randaugment(n: int, m: int, channels: int) -> Callable[[torch.Tensor], torch.Tensor]:
    from kornia.augmentation.auto import RandAugment
    from kornia.augmentation.auto.rand_augment.rand_augment import default_policy

    # kornia's `color` (saturation) needs RGB; grayscale images draw from the other operations.
    policy = default_policy if channels == 3 else [p for p in default_policy if p[0][0] != "color"]
    return RandAugment(n=n, m=m, policy=policy)


def check_augment(dc: DataConfig, info: DataInfo) -> None:
    if dc.crop_padding < 0:
        raise ConfigError(f"data.crop_padding must be >= 0, but got {dc.crop_padding}")
    if not 0.0 <= dc.random_erasing <= 1.0:
        raise ConfigError(f"data.random_erasing is a probability in [0, 1], but got {dc.random_erasing}")
    if dc.randaugment:
        if info.event:
            raise ConfigError(f"data.randaugment works on images, but dataset '{info.name}' is event frames; "
                              f"use data.crop_padding and data.hflip for event data")
        if info.in_channels not in (1, 3):
            raise ConfigError(f"data.randaugment needs 1 or 3 image channels, but dataset '{info.name}' has {info.in_channels}")
        if not 0 < dc.randaugment_m < 30:
            raise ConfigError(f"data.randaugment_m must be in (0, 30), but got {dc.randaugment_m}")
        if not 1 <= dc.randaugment_n <= 14:
            raise ConfigError(f"data.randaugment_n must be in [1, 14], but got {dc.randaugment_n}")


def build_augment(dc: DataConfig, info: DataInfo) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    """The training-batch augmentation a data config asks for, or None. Input in [0, 1] (images)."""
    check_augment(dc, info)
    steps: list[Callable[[torch.Tensor], torch.Tensor]] = []
    if dc.randaugment:
        ra = _randaugment(dc.randaugment_n, dc.randaugment_m, info.in_channels)
        steps.append(lambda x: ra(x.clamp(0.0, 1.0)))
    if dc.crop_padding:
        steps.append(lambda x: random_crop(x, dc.crop_padding))
    if dc.hflip:
        steps.append(random_hflip)
    if dc.random_erasing > 0:
        from kornia.augmentation import RandomErasing

        steps.append(RandomErasing(p=dc.random_erasing, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0.0))
    if not steps:
        return None

    def augment(x: torch.Tensor) -> torch.Tensor:
        for step in steps:
            x = step(x)
        return x

    return augment


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
