"""Spiking neurons from spikingjelly, with the Spikformer constants by default, and the one
contract for their state.

State: spikingjelly neurons keep their membrane potential between calls (its contract, what its
users expect): `model(x)` alone does not reset. Whoever runs batches resets the network before
them and after each (`fresh_state`, `reset_state`); every public entry point that runs a model
does (training, evaluation, latency, the energy meter, BN recalibration, supernet scoring, the
summary, the benchmarks), so calling one twice on the same input gives the same result.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from spikingjelly.activation_based import functional, neuron, surrogate
from torch import nn

#: spikingjelly's two neuron bases: `BaseNode` (its production neurons, LIF among them) and
#: `SimpleBaseNode` (neurons written as Python charge/fire/reset equations, such as `SignedIFNode`).
NEURON_TYPES = (neuron.BaseNode, neuron.SimpleBaseNode)


def is_neuron(module: nn.Module) -> bool:
    return isinstance(module, NEURON_TYPES)


def reset_state(model: nn.Module) -> None:
    """Clear every neuron's membrane state, so the next batch starts from rest."""
    functional.reset_net(model)


@contextmanager
def fresh_state(model: nn.Module) -> Iterator[nn.Module]:
    """Reset on entry and on exit: what runs inside starts from rest whatever ran before, and
    leaves no state behind (also on error). Loops inside still reset after every batch."""
    reset_state(model)
    try:
        yield model
    finally:
        reset_state(model)


def make_lif(*, tau: float = 2.0, v_threshold: float = 1.0, alpha: float = 4.0) -> neuron.LIFNode:
    """Multi-step LIF: hard reset to 0, detached reset, sigmoid surrogate.

    spikingjelly asserts `isinstance(tau, float)`, so YAML integers are converted here.
    """
    return neuron.LIFNode(
        tau=float(tau),
        v_threshold=float(v_threshold),
        v_reset=0.0,
        detach_reset=True,
        surrogate_function=surrogate.Sigmoid(alpha=float(alpha)),
        step_mode="m",
    )


class SignedIFNode(neuron.SimpleBaseNode):
    """An integrate-and-fire neuron with ternary spikes {-1, 0, +1} and two thresholds.

    SWformer's `MultiStepNegIFNode` (bic-L/Spiking-Wavelet-Transformer, `neuron.py`): no leak,
    V <- V + X; +1 when V >= v_threshold, -1 when V <= -(v_threshold_neg + 1e-3); a hard reset to
    0 after either spike; sigmoid surrogate on both sides; the reset is not detached (its
    default). spikingjelly's own `TernaryIFNode` has one symmetric threshold, which cannot express
    SWformer's (+1.0, -0.5), hence this subclass of spikingjelly's equation-level base.
    """

    INHIBIT = 1e-3  # the reference's margin below the negative threshold

    def __init__(self, v_threshold: float = 0.5, v_threshold_neg: float = 0.5, *, alpha: float = 4.0):
        super().__init__(v_threshold=float(v_threshold), v_reset=0.0,
                         surrogate_function=surrogate.Sigmoid(alpha=float(alpha)), detach_reset=False, step_mode="m")
        self.v_threshold_neg = float(v_threshold_neg)

    def neuronal_charge(self, x: torch.Tensor) -> None:
        self.v = self.v + x

    def neuronal_fire(self) -> torch.Tensor:
        positive = self.surrogate_function(self.v - self.v_threshold)
        negative = self.surrogate_function(-(self.v + self.v_threshold_neg + self.INHIBIT))
        return positive - negative

    def neuronal_reset(self, spike: torch.Tensor) -> None:
        spike = spike.detach() if self.detach_reset else spike
        self.v = (1.0 - spike.abs()) * self.v  # hard reset to 0 after a spike of either sign

    def extra_repr(self) -> str:
        return f"v_threshold={self.v_threshold}, v_threshold_neg={self.v_threshold_neg}, step_mode={self.step_mode}"
