"""`wavelet-learned-<wavelet>[@level]`: an adaptive wavelet mixer, after WISE's AdaWavSpA.

WISE / WavSpA (Zhuang et al., arXiv 2210.01989) learns the wavelet itself: analysis and
synthesis filters are parameters initialised from a named family (AdaWavSpA). Here, on spikes
`[T, B, N, D]`, as in `dwt-<wavelet>` (FWformer arXiv 2403.18228, 2D-WT):

    spikes -> J-level periodized 2-D DWT with learnable filters -> per-subband channel gains
           -> inverse DWT with learnable filters -> BN over channels -> output LIF -> spikes

The four filters (analysis low/high, synthesis low/high) are shared by rows and columns, levels
and channels, start as PyWavelets' `dec_lo, dec_hi, rec_lo, rec_hi`, and are trained freely
(no orthogonality constraint, as in AdaWavSpA): at initialisation the transform reconstructs
exactly, training may trade that for a better filter. The gains start as in `dwt-` (1 for the
approximation, 1/2 for details).

Why not pytorch-wavelets: its autograd functions return no gradient for the filters. The
periodized transform here is a matrix per level and side, assembled from the filters through a
constant 0/1 placement tensor (`matrix = placement @ filters`, one small matmul, no per-forward
Python loop over taps), then two batched matmuls per level on `[T*B, H, W, D]` (channels last,
so no permutes). It wraps filters around the signal as often as needed, so unlike pytorch-wavelets
it reconstructs whenever every level halves even sides (8x8: any family, levels 1 to 3);
`check_grid` still runs the transform once per (wavelet, level, grid) to confirm.

Energy: the filter-bank MACs (`wavelet.filter_bank_macs` with the full filter length, since
learned taps are no longer zero) are reported with `record_product`; the dense matrices are an
implementation detail of the accelerator, not what the filter bank costs.
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from fwformer.mixers.registry import register_family
from fwformer.mixers.wavelet import (
    Transform2d,
    WaveletMixerBase,
    check_levels,
    filter_bank_macs,
    mixer_name,
    parse_wavelet_suffix,
)


def placement(n: int, taps: int, *, synthesis: bool) -> torch.Tensor:
    """`[n, n, 2*taps]` of 0/1 such that `placement @ cat(lowpass, highpass)` is the periodized matrix.

    Analysis: row k (< n/2) holds the lowpass at columns (2k + i) mod n, row n/2 + k the highpass.
    Synthesis is the transpose pattern with the filter reversed, so that with PyWavelets' rec
    filters it inverts the analysis exactly (for every discrete family, checked in the tests).
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


def _along_h_then_w(z: torch.Tensor, mh: torch.Tensor, mw: torch.Tensor) -> torch.Tensor:
    """`mh` along H and `mw` along W of `[M, h, w, D]`."""
    m, h, w, d = z.shape
    z = (mh @ z.reshape(m, h, w * d)).reshape(m * h, w, d)  # [M, h, w*D] -> [M*h, w, D]
    return (mw @ z).reshape(m, h, w, d)


class LearnedDWT2d(Transform2d):
    """Periodized J-level 2-D DWT with learnable filters and gains, on `[M, H, W, D]`."""

    def __init__(self, wavelet: str, level: int, dim: int, grid: tuple[int, int]):
        super().__init__()
        import pywt

        wave = pywt.Wavelet(wavelet)
        self.wavelet, self.level = wavelet, level
        self.analysis_filters = nn.Parameter(torch.tensor([wave.dec_lo, wave.dec_hi], dtype=torch.float32))  # [2, L]
        self.synthesis_filters = nn.Parameter(torch.tensor([wave.rec_lo, wave.rec_hi], dtype=torch.float32))
        self.gain_low = nn.Parameter(torch.ones(dim))
        self.gain_high = nn.Parameter(torch.full((level, 3, dim), 0.5))
        taps = wave.dec_len
        h, w = grid
        for _ in range(level):
            for n in {h, w}:
                if not hasattr(self, f"analysis_{n}"):
                    self.register_buffer(f"analysis_{n}", placement(n, taps, synthesis=False), persistent=False)
                    self.register_buffer(f"synthesis_{n}", placement(n, taps, synthesis=True), persistent=False)
            h, w = h // 2, w // 2
        self.macs_spike, self.macs_real = filter_bank_macs(grid, level, taps, wave.rec_len)

    def _matrix(self, kind: str, n: int) -> torch.Tensor:
        filters = self.analysis_filters if kind == "analysis" else self.synthesis_filters
        return getattr(self, f"{kind}_{n}") @ filters.reshape(-1)  # [n, n, 2L] @ [2L] -> [n, n]

    def _gain_mask(self, j: int, h: int, w: int) -> torch.Tensor:
        """`[h, w, D]`: the level's coefficient layout is [[LL, LH], [HL, HH]] in quadrants."""
        high = self.gain_high[j]  # [3, D]
        top_left = self.gain_low if j == self.level - 1 else torch.ones_like(self.gain_low)  # LL goes on
        quadrants = torch.stack([torch.stack([top_left, high[0]]), torch.stack([high[1], high[2]])])  # [2, 2, D]
        return quadrants.repeat_interleave(h // 2, 0).repeat_interleave(w // 2, 1)

    def forward(self, x: torch.Tensor, gains: bool = True) -> torch.Tensor:
        levels, z = [], x
        for j in range(self.level):
            h, w = z.shape[1:3]
            z = _along_h_then_w(z, self._matrix("analysis", h), self._matrix("analysis", w))  # [M, h, w, D]
            if gains:
                z = z * self._gain_mask(j, h, w)
            levels.append(z)
            z = z[:, : h // 2, : w // 2]  # LL: input of the next level
        y = None
        for z in reversed(levels):
            if y is not None:  # the level below, reconstructed, replaces this level's LL quadrant
                h2, w2 = y.shape[1:3]
                z = torch.cat([torch.cat([y, z[:, :h2, w2:]], dim=2), z[:, h2:]], dim=1)
            h, w = z.shape[1:3]
            y = _along_h_then_w(z, self._matrix("synthesis", h), self._matrix("synthesis", w))
        return y


@functools.lru_cache(maxsize=None)
def learned_reconstructs(wavelet: str, level: int, h: int, w: int) -> bool:
    """Every level must halve even sides; then run the initial transform once and compare."""
    if h % 2**level or w % 2**level:
        return False
    transform = LearnedDWT2d(wavelet, level, 1, (h, w)).double()
    x = torch.randn(1, h, w, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    with torch.no_grad():
        y = transform(x, gains=False)
    # Filters hold fp32 values (~1e-7 here); dmey is only approximately perfect-reconstruction.
    return bool((y - x).abs().max() < 1e-4 * x.abs().max())


@register_family("wavelet-learned-", "wavelet-learned-<wavelet>[@level]")
class LearnedWaveletMixer(WaveletMixerBase):
    prefix = "wavelet-learned-"

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, *, wavelet: str = "haar",
                 level: int = 1, **neuron):
        super().__init__(dim, grid, num_heads, **neuron)
        self.check_grid(self.grid, wavelet=wavelet, level=level)
        self.dwt = LearnedDWT2d(wavelet, level, dim, self.grid)

    @classmethod
    def parse_suffix(cls, suffix: str) -> dict:
        return parse_wavelet_suffix(cls.prefix, suffix)

    @classmethod
    def check_grid(cls, grid: tuple[int, int], *, wavelet: str, level: int = 1) -> None:
        check_levels(mixer_name(cls.prefix, wavelet, level), wavelet, level, grid, learned_reconstructs)

    def _grid_view(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape
        return x.float().reshape(t * b, self.grid[0], self.grid[1], d)  # [T*B, H, W, D], no copy

    def mix(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwt(self._grid_view(x))
        self.dwt.record(self, x, y)
        return y.reshape(x.shape)

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Forward then inverse transform with gains, BN and LIF bypassed: `x` back at initialisation."""
        return self.dwt(self._grid_view(x), gains=False).reshape(x.shape)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, wavelet={self.dwt.wavelet}, level={self.dwt.level}"
