"""`identity`: no token mixing. The ablation, and the speed bound a mixer can reach at all."""
from __future__ import annotations

import torch

from fwformer.mixers.base import Mixer
from fwformer.mixers.card import MixerCard
from fwformer.mixers.registry import register


@register("identity")
class IdentityMixer(Mixer):
    card = MixerCard(
        computes="Nothing: the input spikes are returned unchanged (no output LIF).",
        paper="none: the ablation, and the speed bound a mixer can reach",
        code="none",
    )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Returned unchanged: an output LIF would turn lone spikes into silence (tau 2 halves them).
        self.check_input(x)
        return x
