"""Per-T BatchNorm for the supernet: every BatchNorm held once per T choice.

The supernet runs the same weights at every T, and a spiking layer's input statistics change with
T (the firing of a LIF neuron depends on how many timesteps it integrates). BatchNorm *statistics*
are re-estimated for each scored path anyway (`recalibrate_batchnorm`), but the affine weights are
learned once for all T. With `batchnorm: per-T` every BatchNorm of the supernet (patch splitter,
MLPs, candidate mixers) is replaced by one copy per T, all starting from the same initial values;
a training step trains the copies of its path's T, and a sub-network at T inherits those. This is
the per-T normalisation the issue names, in the manner of switchable BatchNorm (Yu et al.,
"Slimmable Neural Networks", ICLR 2019: one BatchNorm per width), here one per T (an
interpretation: the papers switch by width, not by timesteps).
"""
from __future__ import annotations

import copy
import re
from typing import Optional

from torch import nn

BATCHNORM = ("shared", "per-T")
#: The state key of one T's copy: the BatchNorm's own key, the T's index, the tensor's name.
COPY_KEY = re.compile(r"^(.*)\.per_T\.(\d+)\.([^.]+)$")


class PerTBatchNorm(nn.Module):
    """A BatchNorm held once per T choice; `index` (set by the supernet) picks the copy that runs."""

    def __init__(self, bn: nn.Module, copies: int):
        super().__init__()
        self.per_T = nn.ModuleList(copy.deepcopy(bn) for _ in range(copies))
        self.index = 0

    def forward(self, x):
        return self.per_T[self.index](x)

    def __getattr__(self, name: str):
        """The active copy's attribute when the wrapper has none: code that reads a BatchNorm's
        `weight`, `bias`, `running_mean` or `eps` (SDSA's padding value) reads the path's T's."""
        try:
            return super().__getattr__(name)
        except AttributeError:
            copies = self.__dict__["_modules"].get("per_T")
            if copies is None:
                raise
            return getattr(copies[self.__dict__.get("index", 0)], name)


def split_by_T(model: nn.Module, copies: int) -> list[PerTBatchNorm]:
    """Replace every BatchNorm inside `model` by a `PerTBatchNorm` of `copies` copies; the new modules."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    out = []
    for name, bn in found:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        wrapped = PerTBatchNorm(bn, copies)
        setattr(parent, attr, wrapped)
        out.append(wrapped)
    return out


def standalone_key(key: str, T_index: int) -> Optional[str]:
    """The stand-alone model's name of supernet state `key` at T index `T_index`; None for another
    T's copy; `key` itself when it is not a per-T copy."""
    m = COPY_KEY.match(key)
    if m is None:
        return key
    return f"{m.group(1)}.{m.group(3)}" if int(m.group(2)) == T_index else None

