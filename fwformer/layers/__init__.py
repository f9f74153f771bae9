"""The spiking building blocks below the mixers and the model.

Modules: `neurons` (spikingjelly neurons with the Spikformer constants, and the one contract for
their state: `reset_state`, `fresh_state`), `backend` (which implementation runs the LIF neurons:
the fastest one whose spikes equal the plain Torch path's), `time_distributed` (Linear/Conv +
BatchNorm and pooling applied to every timestep of `[T, B, ...]` at once) and `sps` (the spiking
patch splitter: `[T, B, C, H, W]` in, `[T, B, N, D]` out).
"""
from fwformer.layers.backend import (AUTO, BACKENDS, Candidate, Probe, available_backends, backend_candidate,
                                     compiled_candidate, fastest_exact, neuron_backend, probe, probe_input,
                                     probe_neuron_backends, select_neuron_backend, use_neuron_backend)
from fwformer.layers.neurons import NEURON_TYPES, SignedIFNode, fresh_state, is_neuron, make_lif, reset_state
from fwformer.layers.sps import SpikingPatchSplitting
from fwformer.layers.time_distributed import ConvBN, LinearBN, MaxPool

__all__ = [
    "AUTO", "BACKENDS", "NEURON_TYPES", "Candidate", "ConvBN", "LinearBN", "MaxPool", "Probe", "SignedIFNode",
    "SpikingPatchSplitting", "available_backends", "backend_candidate", "compiled_candidate", "fastest_exact",
    "fresh_state", "is_neuron", "make_lif", "neuron_backend", "probe", "probe_input", "probe_neuron_backends",
    "reset_state", "select_neuron_backend", "use_neuron_backend",
]
