"""`hartley1d` and `hartley2d`: a fixed Hartley basis along the tokens. Our design, not FWformer's.

FWformer's `fft1d` / `fft2d` (`fourier.py`) keep the real part of the DFT: a cosine basis whose
rows k and N-k coincide, of rank N/2 + 1, so half of what the tokens carry (every odd, sine-like
pattern) is lost before the neuron sees it. The Hartley basis cas(t) = cos(t) + sin(t), scaled by
1/sqrt(N), holds cosines and sines in one real matrix of the same size and cost, is orthogonal and
its own inverse, and loses nothing. On real input it is the DFT read out as Re - Im:
`H x = (fft(x).real - fft(x).imag) / sqrt(N)` (and with `fft2` for the 2-D basis
cas(2 pi (k m / H + l n / W))), which the tests check.

Otherwise as FWformer's mixers: basis product on the spikes, BN over channels, output LIF; spikes
`[T, B, N, D]` in, the same shape out. Keeping both lets a search say which basis works better.
"""
from __future__ import annotations

import math

import torch

from fwformer.mixers.basis import BasisMixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register


def hartley_basis(n: int) -> torch.Tensor:
    """`[n, n]` orthonormal 1-D Hartley basis: cas(2 pi k m / n) / sqrt(n)."""
    k = torch.arange(n, dtype=torch.float64)
    angle = 2 * math.pi * torch.outer(k, k) / n
    return ((torch.cos(angle) + torch.sin(angle)) / math.sqrt(n)).float()


def hartley_basis_2d(h: int, w: int) -> torch.Tensor:
    """`[h*w, h*w]` orthonormal 2-D Hartley basis over a row-major grid: cas(2 pi (k m / h + l n / w))."""
    rows = torch.arange(h, dtype=torch.float64).repeat_interleave(w)  # token -> grid row
    cols = torch.arange(w, dtype=torch.float64).repeat(h)  # token -> grid column
    angle = 2 * math.pi * (torch.outer(rows, rows) / h + torch.outer(cols, cols) / w)
    return ((torch.cos(angle) + torch.sin(angle)) / math.sqrt(h * w)).float()


HARTLEY_CARD = MixerCard(
    computes="`H x`: the orthonormal Hartley basis `cas = cos + sin` along the row-major tokens (`hartley1d`) or "
             "over the grid (`hartley2d`), coefficients out, then BN. It keeps the sine half that `Re(F)` drops "
             "(rank N instead of N/2 + 1) at the same cost.",
    paper="our design",
    code="none (our design); the basis equals the DFT read out as Re - Im, which the tests check",
)


@register("hartley1d")
class Hartley1dMixer(BasisMixer):
    """Hartley basis along the row-major token sequence."""

    card = HARTLEY_CARD

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.set_fixed_basis(hartley_basis(self.num_tokens))


@register("hartley2d")
class Hartley2dMixer(BasisMixer):
    """2-D Hartley basis over the H x W token grid."""

    card = HARTLEY_CARD

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.set_fixed_basis(hartley_basis_2d(*self.grid))
