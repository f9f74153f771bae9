"""`ssa`: Spikformer's spiking self-attention (Zhou et al., ICLR 2023).

q, k, v = LIF(BN(Linear(x))); per head, attention = (q k^T) v * 0.125 with no softmax;
merged heads -> LIF(threshold 0.5) -> Linear -> BN -> output LIF. Spikes `[T, B, N, D]` in and out.
The two spike products are reported to the energy meter with their operands.
"""
from __future__ import annotations

import torch

from fwformer.energy_ops import record_product
from fwformer.layers import LinearBN
from fwformer.mixers.base import Mixer
from fwformer.mixers.registry import register


@register("ssa")
class SpikingSelfAttention(Mixer):
    scale = 0.125

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **neuron):
        super().__init__(dim, grid, num_heads, **neuron)
        if dim % num_heads:
            raise ValueError(f"ssa needs dim divisible by num_heads, but got dim={dim}, num_heads={num_heads}")
        self.q, self.k, self.v = LinearBN(dim, dim), LinearBN(dim, dim), LinearBN(dim, dim)
        self.q_lif, self.k_lif, self.v_lif = self.lif(), self.lif(), self.lif()
        self.attn_lif = self.lif(v_threshold=0.5)
        self.proj = LinearBN(dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape
        return x.reshape(t, b, n, self.num_heads, d // self.num_heads).transpose(2, 3)  # [T, B, h, N, d/h]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape
        q = self._heads(self.q_lif(self.q(x)))
        k = self._heads(self.k_lif(self.k(x)))
        v = self._heads(self.v_lif(self.v(x)))
        head_dim = d // self.num_heads
        attn = q @ k.transpose(-2, -1)  # [T, B, h, N, N]
        record_product(self, "qk", flops=t * b * self.num_heads * n * n * head_dim, operand=q)
        out = (attn @ v) * self.scale  # [T, B, h, N, d/h]
        record_product(self, "attn_v", flops=t * b * self.num_heads * n * n * head_dim, operand=v)
        out = out.transpose(2, 3).reshape(t, b, n, d)
        return self.proj(self.attn_lif(out))
