"""`dwtc`: FWformer's DWT-C, 2-D wavelet bases combined with learnable weights (arXiv 2403.18228).

DWT-C is FWformer's one mixer with learnable parameters: a combination of fixed 2-D wavelet bases.
Here, as FWformer's 2D-WT (`dwt-`, `wavelet.py`), a basis is a one-level 2-D DWT's analysis matrix
`A_k [N, N]` over the H x W token grid, and the combination is the weighted sum of the bases:

    spikes -> (sum_k alpha_k A_k) x -> BN over channels -> output LIF -> spikes, `[T, B, N, D]`

with one learnable weight `alpha_k` per basis, starting at 1/K. A weighted sum of orthogonal
bases is in general not orthogonal; FWformer analyses how orthogonal its bases stay in training.

Interpretation (the public text available to us names neither the families nor the form): the
bases are `BASES` below, one level each, coefficients out in pytorch-wavelets' order, one scalar
weight per basis. The set differs in shape and every member is a basis at level 1 on every even
grid from 4x4 up:
- `haar`: 2 taps, piecewise constant, orthogonal: sharp local differences;
- `db2`: 4 taps, orthogonal, two vanishing moments, asymmetric: smooth trends;
- `rbio2.2`: symmetric linear-phase spline pair (triangular 3-tap analysis lowpass).

Energy: each basis as its own filter bank (first pass on the spikes, the rest on reals), plus one
multiply per coefficient for its weight.
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.cli import ConfigError
from fwformer.mixers.basis import BasisMixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register
from fwformer.mixers.wavelet import (
    analysis_macs,
    failing_bases,
    pytorch_wavelets_operator,
    record_filter_bank,
    wavelet_taps,
)

BASES = ("haar", "db2", "rbio2.2")


@register("dwtc")
class DWTCombinationMixer(BasisMixer):
    card = MixerCard(
        computes="`(sum_k alpha_k A_k) x`: the one-level 2-D DWTs of haar, db2 and rbio2.2 summed with "
                 "learnable weights `alpha_k` (starting at 1/3), coefficients out, then BN.",
        paper="FWformer's DWT-C (Wang et al., arXiv 2403.18228): wavelet bases combined with learnable parameters",
        code="none published for FWformer",
        interpretation="The three families (different shapes, each a basis of every even grid from 4x4) and one "
                       "scalar weight per basis.",
        shortcut="spike",
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.check_grid(self.grid)
        analyses = [pytorch_wavelets_operator(w, 1, *self.grid)[0] for w in BASES]
        self.register_buffer("bases", torch.stack(analyses).float(), persistent=False)  # [K, N, N]
        self.weights = nn.Parameter(torch.full((len(BASES),), 1.0 / len(BASES)))
        n = self.num_tokens
        self.costs = []
        for w in BASES:
            on_spikes, on_reals = analysis_macs(self.grid, 1, wavelet_taps(w)[0])
            self.costs.append((w, on_spikes, on_reals + n))  # + the weight on every coefficient

    @classmethod
    def check_grid(cls, grid: tuple[int, int]) -> None:
        failing = failing_bases(BASES, grid)
        if failing:
            raise ConfigError(
                f"dwtc combines {', '.join(BASES)} at level 1, but {', '.join(failing)} cannot reconstruct a "
                f"{grid[0]}x{grid[1]} grid; use a single basis there (e.g. dwt-haar on any even grid)"
            )

    def basis(self) -> torch.Tensor:
        return torch.einsum("k,kcn->cn", self.weights.to(self.bases.dtype), self.bases)  # [N, N]

    def record_costs(self, x: torch.Tensor, y: torch.Tensor) -> None:
        t, b, _, d = x.shape
        for tag, on_spikes, on_reals in self.costs:
            record_filter_bank(self, tag, images=t * b * d, on_spikes=on_spikes, on_reals=on_reals, spikes=x, reals=y)
