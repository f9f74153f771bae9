"""Evaluate a trained model on any dataset config: accuracy and theoretical energy
(`python -m fwformer.evaluate`, `fwformer/evaluate.py`, is its command).

Overrides may change the data (`data.*`), the batch size, the device and the energy constants;
the architecture comes from the checkpoint, and the data must agree with it (channels, image
size, classes). Accuracies are fractions in [0, 1]; energy is mJ per image.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence, Union

from fwformer.cli import ConfigError
from fwformer.config import resolve_device
from fwformer.train.engine import evaluate_model, first_batches, input_kind_of, measure, torch_settings

__all__ = ["evaluate_checkpoint"]


def _check_overrides(overrides: Sequence[str]) -> None:
    """Only run-time sections may change: the architecture is the checkpoint's."""
    from fwformer.cli import split_override
    from fwformer.config import RUN_SECTIONS, is_run_key

    for item in overrides:
        key, _ = split_override(item)
        if not is_run_key(key):
            raise ConfigError(f"evaluate cannot override '{key}' (the architecture comes from the checkpoint); "
                              f"allowed: keys of the sections {', '.join(RUN_SECTIONS)}, e.g. data=NAME, "
                              f"data.split=all, train.batch_size=64, energy.e_ac_pj=0.9")


def evaluate_checkpoint(checkpoint: Union[str, Path], overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Accuracy and energy of a trained model on the validation set of a (possibly new) data config."""
    from fwformer.config import check_train_config, load_config
    from fwformer.data import build_datasets, make_loader, with_data_geometry
    from fwformer.energy import check_priceable
    from fwformer.model import build_model
    from fwformer.train.checkpoint import load_checkpoint

    _check_overrides(overrides)
    state = load_checkpoint(checkpoint)
    cfg = with_data_geometry(load_config(state["config"], overrides, check=False))
    check_train_config(cfg.train)
    device = resolve_device(cfg.train.device)
    with torch_settings(cfg.train, device):
        _, val_ds, info = build_datasets(cfg, normalization=state.get("normalization"))
        model = build_model(cfg)
        model.load_state_dict(state["model"])
        model.to(device)
        input_kind = input_kind_of(info.event)
        check_priceable(model, cfg.energy.model, input_kind=input_kind)  # before the evaluation, not after
        loader = make_loader(val_ds, cfg, train=False, device=device)
        result = evaluate_model(model, loader, device=device, amp=cfg.train.amp)
        report = measure(model, first_batches(loader, cfg.train.energy_batches), cfg, input_kind=input_kind)
    return {
        "accuracy": result["acc"],
        "loss": result["loss"],
        "num_samples": result["n"],
        "energy_mj": report.energy_mj,
        "energy_model": report.energy_model,
        "macs": report.macs,
        "acs": report.acs,
        "mean_firing_rate": report.mean_firing_rate,
        "dataset": info.name,
        "split": cfg.data.split,
        "checkpoint": str(checkpoint),
        "trained_epochs": int(state["epoch"]),
    }
