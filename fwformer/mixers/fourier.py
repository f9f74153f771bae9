"""`fft1d` and `fft2d`: FWformer's 1D-FFT and 2D-FFT mixers (Wang et al., arXiv 2403.18228).

FWformer replaces SSA's dynamic bases (from q and k) with fixed "triangular" (Fourier) bases and
calls the transform unparameterized; like FNet, whose sublayer it follows, it keeps the real part
of the DFT and passes the coefficients on (no inverse transform):

    fft1d:  y = Re(F_N x)                 DFT along the row-major token sequence (N = H W)
    fft2d:  y = Re((F_H (x) F_W) x)       2-D DFT over the H x W token grid

then BN over channels and the output LIF: spikes `[T, B, N, D]` in, the same shape out. Coefficient
k of the transform is token k of the output; the residual adds it to token k of the input.

Interpretation (the public text available to us does not say it): the axes of "2D" (the token
grid here, not tokens x channels as in FNet: FWformer's fixed basis takes the place of SSA's
token-by-token attention map, which does not mix channels), where BN and the LIF sit, and the
scale. The basis is scaled by 1/sqrt(N) (torch.fft's `norm="ortho"`), which the BN after it
cancels; it keeps the product in the same range on every grid for bf16 and BN's statistics.

Re(F) is the cosine basis: rows k and N-k coincide, so it has rank N/2 + 1 (1-D) and discards the
sine half of what the tokens carry. `hartley1d` / `hartley2d` (our design, `hartley.py`) keep it.
"""
from __future__ import annotations

import math

import torch

from fwformer.mixers.basis import BasisMixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register


def dft_real_basis(n: int) -> torch.Tensor:
    """`[n, n]` real part of the orthonormal DFT: cos(2 pi k m / n) / sqrt(n)."""
    k = torch.arange(n, dtype=torch.float64)
    return (torch.cos(2 * math.pi * torch.outer(k, k) / n) / math.sqrt(n)).float()


def dft_real_basis_2d(h: int, w: int) -> torch.Tensor:
    """`[h*w, h*w]` real part of the orthonormal 2-D DFT over a row-major grid: cos(2 pi (k m / h + l n / w))."""
    rows = torch.arange(h, dtype=torch.float64).repeat_interleave(w)  # token -> grid row
    cols = torch.arange(w, dtype=torch.float64).repeat(h)  # token -> grid column
    angle = 2 * math.pi * (torch.outer(rows, rows) / h + torch.outer(cols, cols) / w)
    return (torch.cos(angle) / math.sqrt(h * w)).float()


@register("fft1d")
class Fourier1dMixer(BasisMixer):
    """Re(DFT) along the row-major token sequence (FWformer's 1D-FFT)."""

    card = MixerCard(
        computes="`Re(F_N) x`: the real part of the orthonormal DFT along the row-major token sequence "
                 "(N = H W), coefficients out (coefficient k is token k), then BN over channels.",
        paper="FWformer's 1D-FFT (Wang et al., arXiv 2403.18228)",
        code="none published for FWformer",
        interpretation="The public text names the transform only: the axis (the tokens, in place of SSA's "
                       "attention map; channels are not mixed), the real part (as FNet), no inverse, the "
                       "1/sqrt(N) scale and BN then the output LIF after it are ours.",
        shortcut="spike",
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.set_fixed_basis(dft_real_basis(self.num_tokens))


@register("fft2d")
class Fourier2dMixer(BasisMixer):
    """Re(2-D DFT) over the H x W token grid (FWformer's 2D-FFT)."""

    card = MixerCard(
        computes="`Re(F_H (x) F_W) x`: the real part of the orthonormal 2-D DFT over the H x W token grid, "
                 "coefficients out, then BN over channels.",
        paper="FWformer's 2D-FFT (Wang et al., arXiv 2403.18228)",
        code="none published for FWformer",
        interpretation="\"2-D\" is the H x W token grid here, not tokens x channels as in FNet: the fixed basis "
                       "takes the place of SSA's token-by-token attention map. Real part, no inverse, scale and "
                       "the BN/LIF placement as `fft1d`.",
        shortcut="spike",
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.set_fixed_basis(dft_real_basis_2d(*self.grid))
