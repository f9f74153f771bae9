"""fwformer: spiking vision transformers with per-block token mixers, and their energy meter.

The heavy parts (torch, spikingjelly, pytorch-wavelets) load when a submodule is imported.
"""
__version__ = "0.1.0"
