"""`wavefilter-<wavelet>[@level]` and `wavefilter-combo`: a learnable wavelet-domain filter. Our design.

Not FWformer's 2D-WT (`dwt-`, which passes the coefficients on) nor WavSpA (`wavspa-`, which
attends over them): here the coefficients are scaled and transformed back, on spikes `[T, B, N, D]`:

    spikes -> J-level 2-D DWT ('periodization') -> per-subband channel gains -> inverse DWT
           -> BN over channels -> output LIF (in `Mixer.forward`) -> spikes

One learnable gain per (subband, channel): per channel for the last approximation band and for LH,
HL, HH of every level. The transform is linear, so the spike nonlinearity stays in the one output
LIF, as in the Fourier mixers; the gains make the mixer a learnable scale- and orientation-selective
filter per channel (GFNet's learned global filter, with wavelet bands in place of Fourier
frequencies). They start at 1 for the approximation band and 1/2 for the detail bands, so at
initialisation the mixer outputs (x + lowpass_J(x)) / 2: it mixes tokens from the first step (much
like PoolFormer's pooling), and every band has a gradient (a zero gain would cut it off).

The operators are pytorch-wavelets' (see `wavelet.py`: read off once per (wavelet, level, grid),
two GEMMs per forward, names checked for exact reconstruction on the grid).

`wavefilter-combo` runs three such filters side by side, one per basis of `BASES`, summed with
learnable combination weights (start 1/3) that multiply each basis' gains. The set differs in shape
and reconstructs at level 1 on every even grid from 4x4 up:
- `haar`: 2 taps, piecewise constant, orthogonal: sharp local differences;
- `db2`: 4 taps, orthogonal, two vanishing moments, asymmetric: smooth trends;
- `rbio2.2`: symmetric linear-phase spline pair (triangular 3-tap analysis lowpass): smoothing
  without the phase shift of the Daubechies filters.
(sym2 equals db2 in PyWavelets; coif1 and bior2.2 cannot reconstruct a 4x4 grid.) The analysis
matrices are stacked into one `[3N, N]`, the synthesis matrices side by side into one `[N, 3N]`,
so the whole mixer is two GEMMs.
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.cli import ConfigError
from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register, register_family
from fwformer.mixers.wavelet import (
    WaveletFamily,
    failing_bases,
    pytorch_wavelets_operator,
    record_filter_bank,
    wavelet_macs,
)

DETAIL_GAIN = 0.5  # initial gain of every detail band; the approximation band starts at 1
BASES = ("haar", "db2", "rbio2.2")  # of `wavefilter-combo`


class CoefficientMixer(Mixer):
    """analysis `[C, N]` -> per-subband channel gains -> synthesis `[N, C]` -> BN over channels.

    Subclasses provide `operator()` and call `init_coefficients`; `costs` lists
    (tag, MACs on spikes, MACs on real values) per channel per image for the energy meter.
    """

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.bn = nn.BatchNorm1d(dim)
        self.costs: list[tuple[str, int, int]] = []

    def init_coefficients(self, subband: torch.Tensor, approximation: torch.Tensor) -> None:
        """`subband` [C]: the band of every coefficient; `approximation` [bands]: True for LL bands."""
        self.register_buffer("subband", subband.long(), persistent=False)
        gains = torch.where(approximation[:, None], 1.0, DETAIL_GAIN).expand(-1, self.dim)
        self.gains = nn.Parameter(gains.float().contiguous())  # [bands, D]

    def operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def coefficient_gains(self) -> torch.Tensor:
        return self.gains[self.subband]  # [C, D]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape
        analysis, synthesis = self.operator()
        coeffs = torch.matmul(analysis.to(x.dtype), x.reshape(t * b, n, d))  # [T*B, C, D]
        coeffs = coeffs * self.coefficient_gains()
        y = torch.matmul(synthesis.to(coeffs.dtype), coeffs)  # [T*B, N, D]
        for tag, on_spikes, on_reals in self.costs:
            record_filter_bank(self, tag, images=t * b * d, on_spikes=on_spikes, on_reals=on_reals, spikes=x, reals=y)
        return self.bn(y.reshape(-1, d)).reshape(t, b, n, d)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Forward then inverse transform with the spiking part (gains, BN, LIF) bypassed: `x` back."""
        t, b, n, d = x.shape
        analysis, synthesis = self.operator()
        return (synthesis @ (analysis @ x.reshape(t * b, n, d))).reshape(x.shape)


@register_family("wavefilter-", "wavefilter-<wavelet>[@level]")
class WaveFilterMixer(WaveletFamily, CoefficientMixer):
    card = MixerCard(
        computes="Forward 2-D DWT, one learnable gain per (subband, channel), inverse DWT, then BN: a learnable "
                 "wavelet-domain filter (GFNet's global filter with wavelet bands in place of frequencies). The "
                 "gains start at 1 (approximation) and 1/2 (details).",
        paper="our design",
        code="none (our design); the transforms are pytorch-wavelets'",
        examples=("wavefilter-haar", "wavefilter-db2@2", "wavefilter-bior2.2"),
    )

    prefix = "wavefilter-"

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, *, wavelet: str = "haar",
                 level: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.check_grid(self.grid, wavelet=wavelet, level=level)
        self.wavelet, self.level = wavelet, level
        analysis, synthesis, subband = pytorch_wavelets_operator(wavelet, level, *self.grid)
        # Constants rebuilt from the name: not saved in checkpoints.
        self.register_buffer("analysis", analysis.float(), persistent=False)
        self.register_buffer("synthesis", synthesis.float(), persistent=False)
        self.init_coefficients(subband, torch.arange(1 + 3 * level) == 0)
        self.costs = [(wavelet, *wavelet_macs(wavelet, level, self.grid))]


    def operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.analysis, self.synthesis


@register("wavefilter-combo")
class WaveFilterComboMixer(CoefficientMixer):
    card = MixerCard(
        computes="Three `wavefilter` bases (haar, db2, rbio2.2) side by side, summed with learnable combination "
                 "weights (starting at 1/3), then BN.",
        paper="our design",
        code="none (our design)",
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
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
        failing = failing_bases(BASES, grid)
        if failing:
            raise ConfigError(
                f"wavefilter-combo combines {', '.join(BASES)} at level 1, but {', '.join(failing)} cannot "
                f"reconstruct a {grid[0]}x{grid[1]} grid; use a single basis there (e.g. wavefilter-haar on any even grid)"
            )

    def operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.analysis, self.synthesis

    def coefficient_gains(self) -> torch.Tensor:
        per_band = self.gains * self.weights.repeat_interleave(4)[:, None]  # [4K, D]
        return per_band[self.subband]  # [3C, D]

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Each basis' forward then inverse DWT, averaged, with gains, BN and LIF bypassed: `x` back."""
        return super().reconstruct(x) / len(BASES)
