"""`dwtc`: FWformer's DWT-C, a learnable combination of 2-D wavelet bases (arXiv 2403.18228).

Every basis in `BASES` is a one-level 2-D DWT as in `dwt-<wavelet>` (forward DWT -> per-subband
channel gains -> inverse DWT); their outputs are summed with learnable combination weights, then
BN over channels and the output LIF: spikes `[T, B, N, D]` in, the same shape out.

The set differs in shape and reconstructs at level 1 on every even grid from 4x4 up (and up to
level 2 on 8x8), so `dwtc` builds on every geometry of this project:
- `haar`: 2 taps, piecewise constant, orthogonal: sharp local differences;
- `db2`: 4 taps, orthogonal, two vanishing moments, asymmetric: smooth trends;
- `rbio2.2`: symmetric linear-phase spline pair (triangular 3-tap analysis lowpass): smoothing
  without the phase shift of the Daubechies filters.
(sym2 equals db2 in PyWavelets; coif1 and bior2.2 cannot reconstruct a 4x4 grid.)

The bases' analysis matrices are stacked into one `[3N, N]` matrix and their synthesis matrices
side by side into one `[N, 3N]`, so the whole mixer is two GEMMs. The combination weights start
at 1/3 and multiply each basis' gains (D numbers per basis, no extra MACs); the gains alone could
express them, the weights let the optimiser move a whole basis with one number.
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.errors import ConfigError
from fwformer.mixers.registry import register
from fwformer.mixers.wavelet import (
    CoefficientMixer,
    pytorch_wavelets_operator,
    pytorch_wavelets_reconstructs,
    wavelet_macs,
)

BASES = ("haar", "db2", "rbio2.2")


@register("dwtc")
class DWTCombinationMixer(CoefficientMixer):
    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **neuron):
        super().__init__(dim, grid, num_heads, **neuron)
        self.check_grid(self.grid)
        ops = [pytorch_wavelets_operator(w, 1, *self.grid) for w in BASES]
        self.register_buffer("analysis", torch.cat([a for a, _, _ in ops]).float(), persistent=False)  # [3C, N]
        self.register_buffer("synthesis", torch.cat([s for _, s, _ in ops], dim=1).float(), persistent=False)
        # Four bands (LL, LH, HL, HH) per basis: basis k owns bands 4k..4k+3.
        subband = torch.cat([band + 4 * k for k, (_, _, band) in enumerate(ops)])
        self.init_coefficients(subband, torch.arange(4 * len(BASES)) % 4 == 0)
        self.weights = nn.Parameter(torch.full((len(BASES),), 1.0 / len(BASES)))
        self.costs = [(w, *wavelet_macs(w, 1, self.grid)) for w in BASES]

    @classmethod
    def check_grid(cls, grid: tuple[int, int]) -> None:
        h, w = int(grid[0]), int(grid[1])
        failing = [b for b in BASES if min(h, w) < 2 or not pytorch_wavelets_reconstructs(b, 1, h, w)]
        if failing:
            raise ConfigError(
                f"dwtc combines {', '.join(BASES)} at level 1, but {', '.join(failing)} cannot reconstruct a "
                f"{h}x{w} grid; use a single basis there (e.g. dwt-haar on any even grid)"
            )

    def operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.analysis, self.synthesis

    def coefficient_gains(self) -> torch.Tensor:
        per_band = self.gains * self.weights.repeat_interleave(4)[:, None]  # [4K, D]
        return per_band[self.subband]  # [3C, D]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Each basis' forward then inverse DWT, averaged, with gains, BN and LIF bypassed: `x` back."""
        return super().reconstruct(x) / len(BASES)
