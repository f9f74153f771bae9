"""Spiking patch splitting (Spikformer): conv stages to D channels on an H x W token grid.

Stage widths are D/2**(S-1) ... D/2, D; the last `pools` stages end in a maxpool. Then a
relative position embedding (conv-BN) is added. `[T, B, C, H, W]` in, `[T, B, N, D]` out.

Two conventions, as the block's (`Config.shortcut`):
- spike (Spikformer): every stage is conv-BN-LIF(-maxpool), and the embedding adds
  LIF(BN(conv(x))) to the spikes x: the stream starts as spike counts;
- membrane (Spike-driven Transformer's `MS_SPS`, SWformer's `SPS`): the last stage is conv-BN
  (-maxpool) with no LIF, x_feat, and the embedding adds BN(conv(LIF(x_feat))) to it: the stream
  starts as real values.
"""
from __future__ import annotations

import torch
from torch import nn

from fwformer.layers.neurons import make_lif
from fwformer.layers.time_distributed import ConvBN, MaxPool


class SpikingPatchSplitting(nn.Module):
    def __init__(self, in_channels: int, embed_dim: int, stages: int = 4, pools: int = 2, *,
                 membrane: bool = False, tau: float = 2.0, surrogate_alpha: float = 4.0):
        super().__init__()
        self.membrane = membrane
        widths = [embed_dim // 2 ** (stages - 1 - i) for i in range(stages)]
        layers: list[nn.Module] = []
        c_in = in_channels
        for i, width in enumerate(widths):
            layers.append(ConvBN(c_in, width))
            if not (membrane and i == stages - 1):
                layers.append(make_lif(tau=tau, alpha=surrogate_alpha))
            if i >= stages - pools:
                layers.append(MaxPool())
            c_in = width
        self.stages = nn.Sequential(*layers)
        self.rpe = ConvBN(embed_dim, embed_dim)
        self.rpe_lif = make_lif(tau=tau, alpha=surrogate_alpha)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(x)  # [T, B, D, H', W']
        if self.membrane:
            x = x + self.rpe(self.rpe_lif(x))
        else:
            x = x + self.rpe_lif(self.rpe(x))
        return x.flatten(3).transpose(2, 3).contiguous()  # [T, B, N = H'W', D], row-major tokens
