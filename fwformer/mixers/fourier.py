"""`fft1d` and `fft2d`: FWformer's fixed Fourier (triangular) bases as token mixers.

FWformer (Wang et al., arXiv 2403.18228) replaces Spikformer's dynamic attention bases (q k^T)
with fixed ones. Here the spike-form transform is one fixed real basis product on the input
spikes, then BN over channels and the output LIF: spikes `[T, B, N, D]` in, the same shape out.

Which basis: the Hartley basis cas(t) = cos(t) + sin(t), scaled by 1/sqrt(N).
- The real part of the DFT (FNet's choice) is a cosine basis whose rows k and N-k coincide:
  it has rank N/2 + 1, so half of what the tokens carry (every odd, sine-like pattern) is lost
  before the neuron sees it. The Hartley basis holds cosines and sines in one real matrix of the
  same size and cost, is orthogonal and its own inverse, and loses nothing.
- On real input it is the DFT read out as Re - Im: `H x = (fft(x).real - fft(x).imag) / sqrt(N)`
  (and with `fft2` for the 2-D basis cas(2 pi (k m / H + l n / W))), which the tests check.
- The 1/sqrt(N) keeps the product's scale independent of the grid, so bf16 autocast and BN's
  running statistics see the same range on every geometry.

Why a dense N x N product, not an FFT or a separable H and W pass: the input is spikes, so
every multiply is a synaptic accumulate priced at the input's firing rate (0.9 pJ in the field's
convention), whereas a fast transform's later stages act on real values (4.6 pJ MACs). On token
grids of this field (N = 64 to 256) the dense product is also one GEMM on the accelerator. The
basis is a buffer built once, never per forward, and not saved in checkpoints.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from fwformer.energy_ops import record_product
from fwformer.mixers.base import Mixer
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


class FourierMixer(Mixer):
    """A fixed `[N, N]` basis applied along the tokens, then BN over channels."""

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **neuron):
        super().__init__(dim, grid, num_heads, **neuron)
        self.register_buffer("basis", self.make_basis(self.grid), persistent=False)
        self.bn = nn.BatchNorm1d(dim)

    @staticmethod
    def make_basis(grid: tuple[int, int]) -> torch.Tensor:
        raise NotImplementedError

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The basis product alone: `[T, B, N, D]` -> `[T, B, N, D]` (real)."""
        t, b, n, d = x.shape
        y = torch.matmul(self.basis.to(x.dtype), x.reshape(t * b, n, d))  # [T*B, N, D]
        record_product(self, "basis", flops=t * b * n * n * d, operand=x)
        return y.reshape(t, b, n, d)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        y = self.transform(x)
        return self.bn(y.reshape(-1, self.dim)).reshape(y.shape)


@register("fft1d")
class Fourier1dMixer(FourierMixer):
    """Hartley basis along the row-major token sequence (FWformer's 1D-FFT)."""

    @staticmethod
    def make_basis(grid: tuple[int, int]) -> torch.Tensor:
        return hartley_basis(grid[0] * grid[1])


@register("fft2d")
class Fourier2dMixer(FourierMixer):
    """2-D Hartley basis over the H x W token grid (FWformer's 2D-FFT)."""

    @staticmethod
    def make_basis(grid: tuple[int, int]) -> torch.Tensor:
        return hartley_basis_2d(*grid)
