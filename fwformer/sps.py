"""Spiking patch splitting (Spikformer): conv stages to D channels on an H x W token grid.

Stage widths are D/2**(S-1) ... D/2, D; the last `pools` stages end in a maxpool. Then a
relative position embedding (conv-BN-LIF) is added. `[T, B, C, H, W]` in, `[T, B, N, D]` out.
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.layers import ConvBN, MaxPool
from fwformer.neurons import make_lif


class SpikingPatchSplitting(nn.Module):
    def __init__(self, in_channels: int, embed_dim: int, stages: int = 4, pools: int = 2, *,
                 tau: float = 2.0, surrogate_alpha: float = 4.0):
        super().__init__()
        widths = [embed_dim // 2 ** (stages - 1 - i) for i in range(stages)]
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, width in enumerate(widths):
            layers += [ConvBN(c_in, width), make_lif(tau=tau, alpha=surrogate_alpha)]
            if i >= stages - pools:
                layers.append(MaxPool())
            c_in = width
        self.stages = nn.Sequential(*layers)
        self.rpe = ConvBN(embed_dim, embed_dim)
        self.rpe_lif = make_lif(tau=tau, alpha=surrogate_alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(x)  # [T, B, D, H', W']
        x = x + self.rpe_lif(self.rpe(x))
        return x.flatten(3).transpose(2, 3).contiguous()  # [T, B, N = H'W', D], row-major tokens
