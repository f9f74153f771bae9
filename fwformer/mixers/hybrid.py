"""`<a>+<b>`: mixers in parallel, their features summed before one output LIF.

Expresses e.g. `fft2d+dwt-haar` (two fixed bases) or `ssa+fft2d` (dynamic plus fixed).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard


class HybridMixer(Mixer):
    card = MixerCard(
        computes="Mixers in parallel, their features summed before one output LIF (`fft2d+dwt-haar`, `ssa+fft2d`, "
                 "`spectral+ssa`); a chip can run it if it can run every part.",
        paper="our design (FWformer names \"combinations\" of bases; the text available to us does not define them)",
        code="none (our design)",
        examples=("fft2d+dwt-haar", "ssa+fft2d", "hartley2d+wavefilter-haar"),
    )

    def __init__(self, parts: Sequence[Mixer], *, name: str, dim: int, grid: tuple[int, int],
                 num_heads: int = 1, **neuron):
        super().__init__(dim, grid, num_heads, **neuron)
        self.parts = nn.ModuleList(parts)
        self.mixer_name = name
        self.activity_products = any(p.activity_products for p in parts)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        total = self.parts[0].features(x)
        for part in self.parts[1:]:
            total = total + part.features(x)
        return total
