"""Spikformer's spiking self-attention (Zhou et al., ICLR 2023), shared by `ssa` and the WavSpA mixers.

On spikes `[T, B, M, D]` (M tokens):

    q, k, v = LIF(BN(Linear(x)))                     split into heads: [T, B, h, M, D/h]
    a       = (q k^T) v * scale                       no softmax
    out     = BN(Linear(LIF_0.5(merge heads(a))))     real values [T, B, M, D]

`AttentionOptions` holds what differs between the reference models (ZK-Zhou/spikformer):
`cifar10/model.py` uses scale 0.125 and q, k, v Linear layers with bias (the defaults here);
`cifar10dvs/model.py` uses scale 0.25 and q, k, v without bias. The config carries them as its
`ssa` section (`fwformer.config.SSAConfig`).

The layers are attached to the owning module by `add_attention_layers` (so `ssa` keeps its
parameter names: `q`, `k`, `v`, `q_lif`, ..., `proj`), and `attend` runs them; the two spike
products, which no Linear performs, are reported to the energy meter with their operands.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from fwformer.energy import record_product
from fwformer.layers import LinearBN


@dataclass(frozen=True)
class AttentionOptions:
    scale: float = 0.125  # Spikformer CIFAR; its event model uses 0.25
    qkv_bias: bool = True  # Spikformer CIFAR; its event model has q, k, v without bias


def check_heads(name: str, dim: int, num_heads: int) -> None:
    if num_heads < 1 or dim % num_heads:
        raise ValueError(f"{name} needs dim divisible by num_heads, but got dim={dim}, num_heads={num_heads}")


def add_attention_layers(module: nn.Module, dim: int, qkv_bias: bool, lif: Callable[..., nn.Module]) -> None:
    """q, k, v (Linear-BN), their LIFs, the attention LIF (threshold 0.5) and proj (Linear-BN) on `module`."""
    module.q = LinearBN(dim, dim, bias=qkv_bias)
    module.k = LinearBN(dim, dim, bias=qkv_bias)
    module.v = LinearBN(dim, dim, bias=qkv_bias)
    module.q_lif, module.k_lif, module.v_lif = lif(), lif(), lif()
    module.attn_lif = lif(v_threshold=0.5)
    module.proj = LinearBN(dim, dim)


def attend(module: nn.Module, x: torch.Tensor, num_heads: int, scale: float) -> torch.Tensor:
    """The layers of `add_attention_layers` on spikes `[T, B, M, D]` -> real `[T, B, M, D]`."""
    t, b, m, d = x.shape
    head_dim = d // num_heads

    def heads(y: torch.Tensor) -> torch.Tensor:
        return y.reshape(t, b, m, num_heads, head_dim).transpose(2, 3)  # [T, B, h, M, D/h]

    q = heads(module.q_lif(module.q(x)))
    k = heads(module.k_lif(module.k(x)))
    v = heads(module.v_lif(module.v(x)))
    attn = q @ k.transpose(-2, -1)  # [T, B, h, M, M]
    record_product(module, "qk", flops=t * b * num_heads * m * m * head_dim, operand=q)
    out = (attn @ v) * scale  # [T, B, h, M, D/h]
    record_product(module, "attn_v", flops=t * b * num_heads * m * m * head_dim, operand=v)
    out = out.transpose(2, 3).reshape(t, b, m, d)
    return module.proj(module.attn_lif(out))


class SpikingAttention(nn.Module):
    """SSA as a stand-alone part (WavSpA runs one per group of coefficient tokens)."""

    def __init__(self, dim: int, num_heads: int, options: AttentionOptions, lif: Callable[..., nn.Module]):
        super().__init__()
        check_heads("spiking attention", dim, num_heads)
        self.num_heads = num_heads
        self.scale = float(options.scale)
        add_attention_layers(self, dim, options.qkv_bias, lif)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return attend(self, x, self.num_heads, self.scale)

    def extra_repr(self) -> str:
        return f"heads={self.num_heads}, scale={self.scale}"
