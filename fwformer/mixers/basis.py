"""A fixed basis along the tokens: FWformer's "basis instead of attention" (arXiv 2403.18228).

SSA mixes tokens with a dynamic `[N, N]` basis computed from q and k; FWformer's hypothesis is that
a fixed basis (Fourier or wavelet) can take its place. A `BasisMixer` multiplies the input spikes
`[T, B, N, D]` by an `[N, N]` basis along the tokens, applies BN over channels, and the output LIF
(in `Mixer.forward`) turns the result into spikes of the same shape.

Why a dense `[N, N]` product and not an FFT or a filter bank: the input is spikes, so every
multiply is a synaptic accumulate priced at the input's firing rate (0.9 pJ in the field's
convention), whereas a fast transform's later stages act on real values (4.6 pJ MACs). On token
grids of this field (N = 64 to 256) the dense product is also one GEMM on the accelerator.
Subclasses that are fast transforms by nature (wavelets) may report the filter bank instead
(`record_costs`). A fixed basis is a buffer built once, never per forward, and not saved in
checkpoints.
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.energy import record_product
from fwformer.mixers.base import Mixer


class BasisMixer(Mixer):
    """`basis() [N, N] @ x` along the tokens, then BN over channels."""

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        self.bn = nn.BatchNorm1d(dim)

    def set_fixed_basis(self, basis: torch.Tensor) -> None:
        self.register_buffer("fixed_basis", basis.float(), persistent=False)

    def basis(self) -> torch.Tensor:
        return self.fixed_basis

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        """The basis product alone: `[T, B, N, D]` -> `[T, B, N, D]` (real)."""
        t, b, n, d = x.shape
        y = torch.matmul(self.basis().to(x.dtype), x.reshape(t * b, n, d))  # [T*B, N, D]
        self.record_costs(x, y)
        return y.reshape(t, b, n, d)

    def record_costs(self, x: torch.Tensor, y: torch.Tensor) -> None:
        t, b, n, d = x.shape
        record_product(self, "basis", flops=t * b * n * n * d, operand=x)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        y = self.transform(x)
        return self.bn(y.reshape(-1, self.dim)).reshape(y.shape)
