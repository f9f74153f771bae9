"""fwformer: spiking vision transformers with per-block token mixers, and their energy meter.

The heavy parts (torch, spikingjelly, pytorch-wavelets) load when a submodule is imported.
"""
import logging

__version__ = "0.1.0"

# spikingjelly registers Triton ops at import; on machines without Triton (every CPU install)
# torch logs "Triton not available" twice per process, which reads like an error and is not one.
logging.getLogger("torch._library.triton").setLevel(logging.ERROR)
