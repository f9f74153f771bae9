"""The synaptic-operation pass: FLOPs, input kind and firing rate of every priced call.

Every `nn.Conv1d/2d/3d` and `nn.Linear` call, and every product a mixer reports through
`fwformer.energy.record_product` (SSA's q k^T and (q k^T) v, basis products, wavelet
transforms), is recorded with:

- its FLOPs from shapes (multiply-accumulates; bias ignored): Linear prod(leading dims) x in x out,
  conv output numel x in/groups x kernel area. Tensors are `[T, B, ...]` and layers run on all T at
  once, so FLOPs include T, except for a layer fed a static image repeated over T, which runs once
  (`fwformer.energy.static_input`);
- the nature of its input: spikes when it holds only integers (binary spikes, Spikformer's
  integer-valued residual stream, event frames of spike counts, and signed spikes in {-1, 0, +1}
  such as SWformer's ternary neurons emit: a -1 is a subtraction, an accumulate like a +1), else
  real values;
- for spike inputs, the sum of the input's magnitudes, so the firing rate (mean |spike count|,
  the fraction of ones for binary spikes) is measured, not assumed: SOPs = mean |x| x FLOPs.

The reductions stay on the device until the end of the pass (one transfer, not one per call).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

PRICED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def layer_flops(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    kernel = 1
    for k in module.kernel_size:
        kernel *= k
    return output.numel() * (module.in_channels // module.groups) * kernel


@dataclass
class OpRow:
    """One layer or product, summed over the pass and split by the nature of its input."""

    name: str
    op: str
    kind: str  # MAC (real-valued input) or AC (spike input)
    flops: int = 0
    acs: float = 0.0  # firing rate x FLOPs, summed over calls (AC rows)
    spikes: float = 0.0  # sum of the input's magnitudes (AC rows)
    elements: int = 0  # input elements (AC rows)

    @property
    def firing_rate(self) -> float:
        return self.spikes / self.elements if self.elements else 0.0


class SopMeter:
    """Collects one record per priced call (module hook or reported product)."""

    def __init__(self, names: dict[nn.Module, str]):
        self.names = names
        self.calls: list[tuple[str, str, int, int]] = []  # name, op, flops, numel
        self.stats: list[torch.Tensor] = []  # per call: [is_spike, sum of values]

    def _record(self, name: str, op: str, flops: int, x: torch.Tensor) -> None:
        is_spike = (x == x.round()).all() if x.is_floating_point() else torch.ones((), dtype=torch.bool, device=x.device)
        total = x.abs().sum(dtype=torch.float64)
        self.calls.append((name, op, int(flops), x.numel()))
        self.stats.append(torch.stack([is_spike.to(torch.float64), total]))

    def hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        self._record(self.names[module], type(module).__name__, layer_flops(module, output), inputs[0].detach())

    def on_product(self, module: nn.Module, tag: str, flops: int, operand: torch.Tensor) -> None:
        owner = self.names.get(module, type(module).__name__)
        self._record(f"{owner}.{tag}", "product", flops, operand)

    def rows(self, rate_one: bool) -> list[OpRow]:
        """Calls summed per layer and input kind, in call order; at rate 1 every spike input fires."""
        stats = torch.stack(self.stats).cpu().tolist() if self.stats else []
        out: dict[tuple[str, str], OpRow] = {}
        for (name, op, flops, numel), (is_spike, total) in zip(self.calls, stats):
            kind = "AC" if is_spike else "MAC"
            row = out.setdefault((name, kind), OpRow(name, op, kind))
            row.flops += flops
            if kind == "AC":
                spikes = float(numel) if rate_one else total
                # spikes x (FLOPs per input element): exact in floating point for Linear layers.
                row.acs += spikes * (flops / numel) if numel else 0.0
                row.spikes += spikes
                row.elements += numel
        return list(out.values())


def random_spikes(generator: torch.Generator):
    """A forward hook that replaces a neuron's output with fixed random 0/1 spikes of its shape.

    Used at firing rate 1 to tell real-valued tensors from spikes: all-ones spikes would make the
    head's mean an integer, which would pass for spikes.
    """

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        spikes = torch.rand(output.shape, generator=generator) < 0.5
        return spikes.to(device=output.device, dtype=output.dtype)

    return hook


def all_spikes(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
    """A forward hook that makes a neuron fire at every step: firing rate 1 for counters that count spikes."""
    return torch.ones_like(output)
