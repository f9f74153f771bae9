"""LIF neurons from spikingjelly, with the Spikformer constants by default."""
from __future__ import annotations

from spikingjelly.activation_based import neuron, surrogate


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
