"""`wavelet-learned-<wavelet>[@level]`: an adaptive wavelet mixer, after WISE's AdaWavSpA.

WISE / WavSpA (Zhuang et al., arXiv 2210.01989) learns the wavelet itself: analysis and
synthesis filters are parameters initialised from a named family (AdaWavSpA). Here, on spikes
`[T, B, N, D]`, as in `dwt-<wavelet>` (FWformer arXiv 2403.18228, 2D-WT):

    spikes -> J-level periodized 2-D DWT with learnable filters -> per-subband channel gains
           -> inverse DWT with learnable filters -> BN over channels -> output LIF -> spikes

The four filters (analysis low/high, synthesis low/high) are shared by rows and columns, levels
and channels, start as PyWavelets' `dec_lo, dec_hi, rec_lo, rec_hi`, and are trained freely (no
orthogonality constraint, as in AdaWavSpA): at initialisation the transform reconstructs exactly,
training may trade that for a better filter. The gains start as in `dwt-` (1 for the
approximation band, 1/2 for the details).

Why not pytorch-wavelets: its autograd functions return no gradient for the filters. Here each
level's periodized 1-D matrix is assembled from the filters through a constant 0/1 placement
tensor (`matrix = placement @ filters`, one small matmul), the 2-D level is their Kronecker
product, and the J levels are composed into one analysis and one synthesis `[N, N]` matrix per
forward (O(N^2 hw) per level, small next to the data), so the data sees two GEMMs, as in `dwt-`.
The wrap is modular, so unlike pytorch-wavelets it reconstructs whenever every level halves even
sides (8x8: levels 1 to 3 of every family but dmey, whose FIR Meyer filters are only
approximately perfect-reconstruction); `check_grid` still checks the initial operator once per
(wavelet, level, grid).

Energy: the filter-bank MACs with the full filter length (learned taps are no longer zero) are
reported with `record_product` (`wavelet.filter_bank_macs`).
"""
from __future__ import annotations

import functools
from typing import Callable

import torch
from torch import nn

from fwformer.mixers.registry import register_family
from fwformer.mixers.wavelet import (
    CoefficientMixer,
    check_levels,
    is_inverse,
    mixer_name,
    parse_wavelet_suffix,
    wavelet_macs,
)


def placement(n: int, taps: int, *, synthesis: bool) -> torch.Tensor:
    """`[n, n, 2*taps]` of 0/1 such that `placement @ cat(lowpass, highpass)` is the periodized matrix.

    Analysis: row k (< n/2) holds the lowpass at columns (2k + i) mod n, row n/2 + k the highpass.
    Synthesis is the transposed pattern with the filter reversed, so that PyWavelets' rec filters
    invert its dec filters exactly (for every discrete family; see the tests).
    """
    half = n // 2
    k = torch.arange(half).repeat_interleave(taps)
    i = torch.arange(taps).repeat(half)
    ones = torch.ones(k.numel())
    p = torch.zeros(n, n, 2 * taps)
    if synthesis:
        rows = (2 * k + taps - 1 - i) % n
        p.index_put_((rows, k, i), ones, accumulate=True)
        p.index_put_((rows, k + half, i + taps), ones, accumulate=True)
    else:
        cols = (2 * k + i) % n
        p.index_put_((k, cols, i), ones, accumulate=True)
        p.index_put_((k + half, cols, i + taps), ones, accumulate=True)
    return p


def level_sizes(grid: tuple[int, int], level: int) -> list[tuple[int, int]]:
    return [(grid[0] >> j, grid[1] >> j) for j in range(level)]


def compose_operator(analysis_1d: Callable[[int], torch.Tensor], synthesis_1d: Callable[[int], torch.Tensor],
                     grid: tuple[int, int], level: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(analysis, synthesis), both `[N, N]`, of the J-level separable transform on a row-major grid.

    Coefficients stay on the grid in the usual quadrant layout: each level transforms the top-left
    (approximation) block of the one before, [[LL, LH], [HL, HH]].
    """
    a0 = analysis_1d(grid[0])
    n, width = grid[0] * grid[1], grid[1]
    analysis = torch.eye(n, dtype=a0.dtype, device=a0.device)
    synthesis = analysis
    for h, w in level_sizes(grid, level):
        block = (torch.arange(h, device=a0.device)[:, None] * width + torch.arange(w, device=a0.device)).flatten()
        forward = torch.kron(analysis_1d(h), analysis_1d(w))  # [hw, hw] on the block, row-major
        inverse = torch.kron(synthesis_1d(h), synthesis_1d(w))
        analysis = analysis.index_copy(0, block, forward @ analysis[block])  # this level after the ones before
        synthesis = synthesis.index_copy(1, block, synthesis[:, block] @ inverse)
    return analysis, synthesis


def quadrant_subbands(grid: tuple[int, int], level: int) -> torch.Tensor:
    """`[N]` band of every coefficient: 0 for the last LL, 1 + 3 j + (0, 1, 2) for LH, HL, HH of level j."""
    band = torch.zeros(grid, dtype=torch.long)
    for j, (h, w) in enumerate(level_sizes(grid, level)):
        band[: h // 2, w // 2: w] = 1 + 3 * j
        band[h // 2: h, : w // 2] = 2 + 3 * j
        band[h // 2: h, w // 2: w] = 3 + 3 * j
    return band.flatten()


def _filters(wavelet: str) -> tuple[torch.Tensor, torch.Tensor]:
    import pywt

    wave = pywt.Wavelet(wavelet)
    return (torch.tensor([wave.dec_lo, wave.dec_hi], dtype=torch.float64),
            torch.tensor([wave.rec_lo, wave.rec_hi], dtype=torch.float64))  # [2, L] each


@functools.lru_cache(maxsize=None)
def learned_reconstructs(wavelet: str, level: int, h: int, w: int) -> bool:
    """Every level must halve even sides, and the initial operator must invert itself."""
    if h % 2**level or w % 2**level:
        return False
    dec, rec = _filters(wavelet)
    taps = dec.shape[1]
    analysis, synthesis = compose_operator(
        lambda n: placement(n, taps, synthesis=False).double() @ dec.reshape(-1),
        lambda n: placement(n, taps, synthesis=True).double() @ rec.reshape(-1),
        (h, w), level,
    )
    return is_inverse(analysis, synthesis)  # dmey is only approximately perfect-reconstruction


@register_family("wavelet-learned-", "wavelet-learned-<wavelet>[@level]")
class LearnedWaveletMixer(CoefficientMixer):
    prefix = "wavelet-learned-"

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, *, wavelet: str = "haar",
                 level: int = 1, **neuron):
        super().__init__(dim, grid, num_heads, **neuron)
        self.check_grid(self.grid, wavelet=wavelet, level=level)
        self.wavelet, self.level = wavelet, level
        dec, rec = _filters(wavelet)
        self.analysis_filters = nn.Parameter(dec.float())  # [2, L]: lowpass, highpass
        self.synthesis_filters = nn.Parameter(rec.float())
        for n in {n for size in level_sizes(self.grid, level) for n in size}:
            self.register_buffer(f"place_analysis_{n}", placement(n, dec.shape[1], synthesis=False), persistent=False)
            self.register_buffer(f"place_synthesis_{n}", placement(n, dec.shape[1], synthesis=True), persistent=False)
        self.init_coefficients(quadrant_subbands(self.grid, level), torch.arange(1 + 3 * level) == 0)
        self.costs = [(wavelet, *wavelet_macs(wavelet, level, self.grid, learned=True))]

    @classmethod
    def parse_suffix(cls, suffix: str) -> dict:
        return parse_wavelet_suffix(cls.prefix, suffix)

    @classmethod
    def check_grid(cls, grid: tuple[int, int], *, wavelet: str, level: int = 1) -> None:
        check_levels(mixer_name(cls.prefix, wavelet, level), wavelet, level, grid, learned_reconstructs)

    def operator(self) -> tuple[torch.Tensor, torch.Tensor]:
        return compose_operator(
            lambda n: getattr(self, f"place_analysis_{n}") @ self.analysis_filters.reshape(-1),  # [n, n]
            lambda n: getattr(self, f"place_synthesis_{n}") @ self.synthesis_filters.reshape(-1),
            self.grid, self.level,
        )

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, wavelet={self.wavelet}, level={self.level}"
