"""Periodized 2-D wavelet operators built from filter taps, differentiable in the taps.

pytorch-wavelets' autograd functions return no gradient for the filters, so the mixers that learn
their wavelet (`wavefilter-learned-`, `adawavspa-`) build the operator here: each level's
periodized 1-D matrix is assembled from the filters through a constant 0/1 placement tensor
(`matrix = placement @ filters`, one small matmul), the 2-D level is the Kronecker product of the
row and column matrices, and the J levels are composed into one analysis and one synthesis
`[N, N]` matrix (O(N^2 hw) per level, small next to the data). Every function takes an optional
leading batch of filters (one filter bank per channel) and then returns `[..., N, N]`.

The wrap is modular, so unlike pytorch-wavelets it reconstructs whenever every level halves even
sides (8x8: levels 1 to 3 of every family but dmey, whose FIR Meyer filters are only
approximately perfect-reconstruction). Coefficients stay on the grid in the usual quadrant
layout: each level transforms the top-left (approximation) block of the one before,
[[LL, LH], [HL, HH]].
"""
from __future__ import annotations

import functools
from typing import Callable

import torch


def placement(n: int, taps: int, *, synthesis: bool) -> torch.Tensor:
    """`[n, n, 2*taps]` of 0/1 such that `placement @ cat(lowpass, highpass)` is the periodized matrix.

    PyWavelets' 'periodization' convention (checked in the tests against `pywt.dwt`/`pywt.idwt`),
    with the wrap taken modulo n however often a long filter wraps: analysis row k (< n/2) holds
    the lowpass, row n/2 + k the highpass, filter tap f at column (2k + L/2 - f) mod n (a
    convolution); synthesis column k (and n/2 + k) holds tap f at row (2k + f - L/2 + 1) mod n.
    """
    half = n // 2
    k = torch.arange(half).repeat_interleave(taps)
    f = torch.arange(taps).repeat(half)
    ones = torch.ones(k.numel())
    p = torch.zeros(n, n, 2 * taps)
    if synthesis:
        rows = (2 * k + f - taps // 2 + 1) % n
        p.index_put_((rows, k, f), ones, accumulate=True)
        p.index_put_((rows, k + half, f + taps), ones, accumulate=True)
    else:
        cols = (2 * k + taps // 2 - f) % n
        p.index_put_((k, cols, f), ones, accumulate=True)
        p.index_put_((k + half, cols, f + taps), ones, accumulate=True)
    return p


def place(p: torch.Tensor, filters: torch.Tensor) -> torch.Tensor:
    """`placement [n, n, 2L]` with `filters [..., 2L]` (lowpass then highpass) -> `[..., n, n]`."""
    n = p.shape[0]
    out = filters.to(p.dtype) @ p.reshape(n * n, -1).T  # [..., n*n]
    return out.reshape(*filters.shape[:-1], n, n)


def level_sizes(grid: tuple[int, int], level: int) -> list[tuple[int, int]]:
    return [(grid[0] >> j, grid[1] >> j) for j in range(level)]


def batched_kron(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Kronecker product of the last two dims: `[..., p, q] (x) [..., r, s]` -> `[..., p r, q s]`."""
    p, q = a.shape[-2:]
    r, s = b.shape[-2:]
    out = a[..., :, None, :, None] * b[..., None, :, None, :]  # [..., p, r, q, s]
    return out.reshape(*out.shape[:-4], p * r, q * s)


def compose_operator(analysis_1d: Callable[[int], torch.Tensor], synthesis_1d: Callable[[int], torch.Tensor],
                     grid: tuple[int, int], level: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(analysis, synthesis), both `[..., N, N]`, of the J-level separable transform on a row-major grid.

    `analysis_1d(n)` / `synthesis_1d(n)` give the `[..., n, n]` periodized 1-D matrices of a side n.
    """
    width = grid[1]
    # Level 1 covers the whole grid in row-major order: its Kronecker products are the operators.
    analysis = batched_kron(analysis_1d(grid[0]), analysis_1d(grid[1]))  # [..., N, N]
    synthesis = batched_kron(synthesis_1d(grid[0]), synthesis_1d(grid[1]))
    for h, w in level_sizes(grid, level)[1:]:
        block = (torch.arange(h, device=analysis.device)[:, None] * width
                 + torch.arange(w, device=analysis.device)).flatten()
        forward = batched_kron(analysis_1d(h), analysis_1d(w))  # [..., hw, hw] on the block, row-major
        inverse = batched_kron(synthesis_1d(h), synthesis_1d(w))
        # This level after the ones before: rows `block` of the analysis, columns `block` of the synthesis.
        analysis = analysis.index_copy(-2, block, forward @ analysis[..., block, :])
        synthesis = synthesis.index_copy(-1, block, synthesis[..., :, block] @ inverse)
    return analysis, synthesis


def quadrant_subbands(grid: tuple[int, int], level: int) -> torch.Tensor:
    """`[N]` band of every coefficient: 0 for the last LL, 1 + 3 j + (0, 1, 2) for LH, HL, HH of level j."""
    band = torch.zeros(grid, dtype=torch.long)
    for j, (h, w) in enumerate(level_sizes(grid, level)):
        band[: h // 2, w // 2: w] = 1 + 3 * j
        band[h // 2: h, : w // 2] = 2 + 3 * j
        band[h // 2: h, w // 2: w] = 3 + 3 * j
    return band.flatten()


def pywt_filters(wavelet: str) -> tuple[torch.Tensor, torch.Tensor]:
    """PyWavelets' (dec_lo, dec_hi) and (rec_lo, rec_hi) of a family, `[2, L]` each, float64."""
    import pywt

    wave = pywt.Wavelet(wavelet)
    return (torch.tensor([wave.dec_lo, wave.dec_hi], dtype=torch.float64),
            torch.tensor([wave.rec_lo, wave.rec_hi], dtype=torch.float64))


def quadrature_mirror(lowpass: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """An orthogonal filter bank from its analysis lowpass h `[..., L]`, PyWavelets' convention.

    dec_hi[i] = (-1)^(i+1) h[L-1-i], rec_lo = reversed h, rec_hi = reversed dec_hi: for every
    orthogonal PyWavelets family this gives back its four filters (the tests check it). Returns
    (analysis `[..., 2L]` = cat(dec_lo, dec_hi), synthesis `[..., 2L]` = cat(rec_lo, rec_hi)).
    """
    taps = lowpass.shape[-1]
    sign = (-1.0) ** (torch.arange(taps, device=lowpass.device) + 1)
    highpass = sign.to(lowpass.dtype) * lowpass.flip(-1)
    return torch.cat([lowpass, highpass], -1), torch.cat([lowpass.flip(-1), highpass.flip(-1)], -1)


@functools.lru_cache(maxsize=None)
def filters_reconstruct(wavelet: str, level: int, h: int, w: int, *, from_lowpass: bool = False) -> bool:
    """Every level must halve even sides, and the operator built from the family's filters must invert
    itself (`from_lowpass`: the orthogonal bank rebuilt from the lowpass alone)."""
    from fwformer.mixers.wavelet import is_inverse

    if h % 2**level or w % 2**level:
        return False
    dec, rec = pywt_filters(wavelet)
    if from_lowpass:
        dec, rec = quadrature_mirror(dec[0])
    dec, rec = dec.reshape(-1), rec.reshape(-1)
    taps = dec.numel() // 2
    analysis, synthesis = compose_operator(
        lambda n: place(placement(n, taps, synthesis=False).double(), dec),
        lambda n: place(placement(n, taps, synthesis=True).double(), rec),
        (h, w), level,
    )
    return is_inverse(analysis, synthesis)  # dmey is only approximately perfect-reconstruction
