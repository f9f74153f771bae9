"""RandAugment as Spikformer's CIFAR recipe runs it, on batches of tensors on any device.

The reference (ZK-Zhou/spikformer, `cifar10/cifar10.yml`: `aa: rand-m9-n1-mstd0.4-inc1`) builds
timm 0.5.4's `rand_augment_transform` from its own copy `cifar10/aa_snn.py`, in which every
photometric operation is commented out. What remains, per image (PIL, one image at a time there):

- `n` operations drawn uniformly, with replacement, from OPS (`inc1` selects the "increasing"
  list, which after the comments holds the same five);
- each drawn operation is applied with probability 0.5 (timm's `AugmentOp(prob=0.5)`);
- its magnitude is drawn from N(m, mstd) and clipped to [0, 10];
- its sign is + or - with probability 1/2 (`_randomly_negate`);
- Rotate: +-30 * mag/10 degrees about the image centre (counter-clockwise for +);
  ShearX: x_in = x + f * y with f = +-0.3 * mag/10 (PIL's affine, about the top edge);
  TranslateXRel / TranslateYRel: x_in = x + p * W (y_in = y + p * H), p = +-0.45 * mag/10;
  Equalize: PIL's per-channel histogram equalisation (kornia's `equalize`), no magnitude;
- geometric operations resample bicubically (the recipe's `train_interpolation: bicubic`) and fill
  what comes from outside the image with the mean colour rounded to 8 bits (timm's `img_mean`).

Here the draws for a whole batch are made at once from torch's global generator on the CPU (the
training loop seeds and checkpoints it, so runs repeat and resume exactly, on any device), and the
operations run as one `grid_sample` with a per-image matrix. Differences from PIL: torch's bicubic
kernel (a = -0.75; PIL's differs slightly) and float images instead of 8-bit ones between steps.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
import torch.nn.functional as F

OPS = ("Equalize", "Rotate", "ShearX", "TranslateXRel", "TranslateYRel")
SKIPPED = -1  # the op index of an image whose drawn operation was not applied (probability 0.5)
MAX_MAGNITUDE = 10.0  # timm's _LEVEL_DENOM: magnitudes are clipped to [0, 10]
APPLY_PROB = 0.5
ROTATE_DEGREES, SHEAR, TRANSLATE_FRACTION = 30.0, 0.3, 0.45  # arguments at magnitude 10


@dataclass(frozen=True)
class RandAugmentDraw:
    """The random choices for one batch: `[n, B]` each (layer, image)."""

    op: torch.Tensor  # int64 index into OPS, or SKIPPED
    magnitude: torch.Tensor  # float in [0, 10]
    sign: torch.Tensor  # float, +1 or -1


class SpikformerRandAugment:
    """`rand-m{m}-n{n}-mstd{mstd}-inc1` over OPS, drawn per image. Call it on `[B, C, H, W]` in [0, 1].

    fill: the colour geometric operations bring in, per channel in [0, 1] (rounded to 8 bits, as
    timm's `img_mean`); one value is used for every channel.
    """

    def __init__(self, *, n: int = 1, m: float = 9, mstd: float = 0.4, fill: Sequence[float] = (0.5,),
                 interpolation: str = "bicubic"):
        self.n, self.m, self.mstd = int(n), float(m), float(mstd)
        self.fill = tuple(round(255 * min(max(float(f), 0.0), 1.0)) / 255 for f in fill)
        self.interpolation = interpolation

    def draw(self, batch: int) -> RandAugmentDraw:
        shape = (self.n, batch)
        op = torch.randint(0, len(OPS), shape)
        applied = torch.rand(shape) <= APPLY_PROB
        magnitude = (self.m + self.mstd * torch.randn(shape)).clamp(0.0, MAX_MAGNITUDE)
        sign = torch.where(torch.rand(shape) < 0.5, -1.0, 1.0)
        return RandAugmentDraw(torch.where(applied, op, SKIPPED), magnitude, sign)

    def __call__(self, x: torch.Tensor, draw: Optional[RandAugmentDraw] = None) -> torch.Tensor:
        draw = self.draw(x.shape[0]) if draw is None else draw
        for layer in range(draw.op.shape[0]):
            x = self.apply_layer(x, draw.op[layer], draw.magnitude[layer], draw.sign[layer])
        return x

    def apply_layer(self, x: torch.Tensor, op: torch.Tensor, magnitude: torch.Tensor,
                    sign: torch.Tensor) -> torch.Tensor:
        """One operation per image (`op`, `magnitude`, `sign` are `[B]`) on `[B, C, H, W]`."""
        out = x.clone()
        equalize = (op == OPS.index("Equalize")).nonzero().flatten()
        if len(equalize):
            from kornia.enhance import equalize as kornia_equalize

            idx = equalize.to(x.device)
            out[idx] = kornia_equalize(x[idx].clamp(0.0, 1.0))
        geometric = (op > OPS.index("Equalize")).nonzero().flatten()
        if len(geometric):
            idx = geometric.to(x.device)
            theta = self._theta(op[geometric], magnitude[geometric] * sign[geometric], x.shape[-2:])
            out[idx] = self._warp(x[idx], theta.to(device=x.device, dtype=x.dtype))
        return out

    @staticmethod
    def pil_matrices(op: torch.Tensor, signed_magnitude: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """`[K, 2, 3]` affine maps, output -> input pixel, in PIL's continuous coordinates (pixel i
        spans [i, i + 1)): the `data` tuples timm's ops pass to `Image.transform(AFFINE)`."""
        h, w = size
        level = signed_magnitude.double() / MAX_MAGNITUDE
        a = torch.zeros(len(op), 2, 3, dtype=torch.float64)
        a[:, 0, 0] = a[:, 1, 1] = 1.0
        rot = op == OPS.index("Rotate")
        # PIL's rotate(deg): output -> input is a rotation by +deg (y down) about the centre (w/2, h/2).
        rad = torch.deg2rad(level[rot] * ROTATE_DEGREES)
        cos, sin = torch.cos(rad), torch.sin(rad)
        cx, cy = w / 2, h / 2
        a[rot, 0, 0], a[rot, 0, 1], a[rot, 1, 0], a[rot, 1, 1] = cos, -sin, sin, cos
        a[rot, 0, 2] = cx - cos * cx + sin * cy
        a[rot, 1, 2] = cy - sin * cx - cos * cy
        shear = op == OPS.index("ShearX")
        a[shear, 0, 1] = level[shear] * SHEAR
        tx = op == OPS.index("TranslateXRel")
        a[tx, 0, 2] = level[tx] * TRANSLATE_FRACTION * w
        ty = op == OPS.index("TranslateYRel")
        a[ty, 1, 2] = level[ty] * TRANSLATE_FRACTION * h
        return a

    @classmethod
    def _theta(cls, op: torch.Tensor, signed_magnitude: torch.Tensor, size) -> torch.Tensor:
        """PIL's matrices in `affine_grid`'s normalised coordinates (align_corners=False: n = 2u/W - 1)."""
        h, w = int(size[0]), int(size[1])
        a = cls.pil_matrices(op, signed_magnitude, (h, w))
        d = torch.tensor([w / 2, h / 2], dtype=torch.float64)
        theta = torch.empty_like(a)
        theta[:, :, :2] = a[:, :, :2] * d[None, None, :] / d[None, :, None]  # D^-1 A D
        theta[:, :, 2] = (a[:, :, :2] @ d + a[:, :, 2]) / d - 1.0  # D^-1 (A D 1 + t) - 1
        return theta.float()

    def _warp(self, x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        fill = torch.tensor(self.fill, device=x.device, dtype=x.dtype)
        fill = fill.view(1, -1, 1, 1) if len(self.fill) > 1 else fill.view(1, 1, 1, 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)  # [K, H, W, 2]
        # Zero padding of (x - fill), then + fill: pixels from outside the image take the fill colour.
        out = F.grid_sample(x - fill, grid, mode=self.interpolation, padding_mode="zeros", align_corners=False)
        return (out + fill).clamp(0.0, 1.0)

