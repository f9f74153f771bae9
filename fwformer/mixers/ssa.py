"""`ssa`: Spikformer's spiking self-attention (Zhou et al., ICLR 2023).

q, k, v = LIF(BN(Linear(x))); per head, attention = (q k^T) v * scale with no softmax;
merged heads -> LIF(threshold 0.5) -> Linear -> BN -> output LIF. Spikes `[T, B, N, D]` in and out.
The scale and whether q, k, v have a bias come from the config's `ssa` section (defaults: the
CIFAR reference, 0.125 and with bias; the event presets use the reference event model's 0.25
and no bias). The two spike products are reported to the energy meter with their operands.
"""
from __future__ import annotations

import torch

from fwformer.mixers.attention import add_attention_layers, attend, check_heads
from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register


@register("ssa")
class SpikingSelfAttention(Mixer):
    activity_products = True  # q k^T and its product with v
    card = MixerCard(
        computes="Spikformer's spiking self-attention: q, k, v = LIF(BN(Linear(x))); per head `(q k^T) v * scale` "
                 "with no softmax; LIF (threshold 0.5), Linear, BN. The scale and whether q, k, v have a bias are "
                 "the config's `ssa` section (`ssa.scale`, `ssa.qkv_bias`).",
        paper="Spikformer (Zhou et al., ICLR 2023)",
        code="ZK-Zhou/spikformer, `cifar10/model.py`, `SSA` (the CIFAR model: scale 0.125, q/k/v with bias; "
             "`cifar10dvs/model.py`: 0.25, no bias)",
        shortcut="spike",
    )

    def __init__(self, dim: int, grid: tuple[int, int], num_heads: int = 1, **common):
        super().__init__(dim, grid, num_heads, **common)
        check_heads("ssa", dim, num_heads)
        self.scale = float(self.attention_options.scale)
        add_attention_layers(self, dim, self.attention_options.qkv_bias, self.lif)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return attend(self, x, self.num_heads, self.scale)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, heads={self.num_heads}, scale={self.scale}, qkv_bias={self.attention_options.qkv_bias}"
