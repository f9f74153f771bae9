"""Running one mixer under the energy meter, as a block would: the meter names its rows
`mixer.<layer>` (shared by the mixer tests)."""
from __future__ import annotations

from torch import nn


class Holder(nn.Module):
    def __init__(self, mixer):
        super().__init__()
        self.mixer = mixer

    def forward(self, x):
        return self.mixer(x)
