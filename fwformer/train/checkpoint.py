"""One checkpoint file per run: model, optimizer, epoch, RNG states and the resolved config.

`DIR/checkpoint.pt` holds everything needed to resume training or to rebuild the model for
evaluation (the config's architecture and the input normalisation it was trained with).
Written atomically (temporary file, then rename), so an interrupted save never leaves a
half-written checkpoint behind. Loaded with `weights_only=True`: only tensors and plain data.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Union

import torch

from fwformer.cli import ConfigError

CHECKPOINT_FILE = "checkpoint.pt"
CONFIG_FILE = "config.yaml"
METRICS_FILE = "metrics.json"


def checkpoint_path(path: Union[str, Path]) -> Path:
    """`DIR/checkpoint.pt` for a run folder, or the file itself."""
    path = Path(path)
    return path / CHECKPOINT_FILE if path.is_dir() or not path.suffix else path


def save_checkpoint(path: Union[str, Path], state: dict[str, Any]) -> Path:
    path = checkpoint_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def load_checkpoint(path: Union[str, Path], map_location: Union[str, torch.device] = "cpu") -> dict[str, Any]:
    file = checkpoint_path(path)
    if not file.is_file():
        raise ConfigError(f"no checkpoint at '{file}'; pass a run folder written by `python -m fwformer.train --out DIR` "
                          f"or its {CHECKPOINT_FILE}")
    try:
        state = torch.load(file, map_location=map_location, weights_only=True)
    except Exception as err:
        raise ConfigError(f"cannot read checkpoint '{file}': {str(err).strip().splitlines()[0]}") from None
    missing = {"model", "config", "epoch"} - set(state)
    if missing:
        raise ConfigError(f"'{file}' is not an fwformer checkpoint (missing: {', '.join(sorted(missing))})")
    return state


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
