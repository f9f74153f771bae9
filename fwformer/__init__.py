"""fwformer: spiking vision transformers with per-block token mixers, and their energy meter.

Packages and modules, from the bottom layer up; each imports only those before it (a test keeps it so):

    cli       ConfigError and exit code 2, checks of output paths and URLs, structured configs
    layers    spikingjelly neurons, their state and backend, time-distributed layers, the patch splitter
    energy    the energy meter, and `record_product`, by which a mixer reports a product to it
    mixers    the token mixers by name (`create_mixer`), one module per family
    config    the run's config: a preset or YAML file plus `key=value` overrides, validated
    model     the spiking transformer a config describes (`build_model`)
    supernet  a weight-sharing supernet over per-block mixers and T, for one-shot search
    data      datasets by name, their geometry, batches on the training device
    train     training, evaluation and checkpoints (`python -m fwformer.train`)
    evaluate  the command `python -m fwformer.evaluate`: a checkpoint on any data config
    summary   the command `python -m fwformer.summary`: size and theoretical energy of a config

The heavy parts (torch, spikingjelly, pytorch-wavelets) load when a submodule is imported.
"""
import logging

__version__ = "0.1.0"

#: The order of the layers, bottom first (read by the import-direction test).
LAYERS = ("cli", "layers", "energy", "mixers", "config", "model", "supernet", "data", "train", "evaluate", "summary")

# spikingjelly registers Triton ops at import; on machines without Triton (every CPU install)
# torch logs "Triton not available" twice per process, which reads like an error and is not one.
logging.getLogger("torch._library.triton").setLevel(logging.ERROR)
