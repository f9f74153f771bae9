"""Evaluate a trained model on any dataset config: accuracy and theoretical energy.

    python -m fwformer.evaluate --checkpoint runs/d                         # its own validation set
    python -m fwformer.evaluate --checkpoint runs/c data=npz data.path=test.npz data.split=all --json

Overrides may change the data (`data.*`), the batch size, the device and the energy constants;
the architecture comes from the checkpoint, and the data must agree with it (channels, image
size, classes). Accuracies are fractions in [0, 1]; energy is mJ per image.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from fwformer.engine import evaluate_model, first_batches, input_kind_of, measure, resolve_device, torch_settings
from fwformer.errors import ConfigError, exit_on_user_error

def _check_overrides(overrides: Sequence[str]) -> None:
    """Only run-time sections may change: the architecture is the checkpoint's."""
    from fwformer.config import RUN_SECTIONS, is_run_key
    from fwformer.structured import split_override

    for item in overrides:
        key, _ = split_override(item)
        if not is_run_key(key):
            raise ConfigError(f"evaluate cannot override '{key}' (the architecture comes from the checkpoint); "
                              f"allowed: keys of the sections {', '.join(RUN_SECTIONS)}, e.g. data=NAME, "
                              f"data.split=all, train.batch_size=64, energy.e_ac_pj=0.9")


def evaluate_checkpoint(checkpoint: Union[str, Path], overrides: Sequence[str] = ()) -> dict[str, Any]:
    """Accuracy and energy of a trained model on the validation set of a (possibly new) data config."""
    from fwformer.checkpoint import load_checkpoint
    from fwformer.config import load_config
    from fwformer.data import build_datasets, make_loader, with_data_geometry
    from fwformer.energy import check_priceable
    from fwformer.model import build_model
    from fwformer.config import check_train_config

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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fwformer.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a run folder written by fwformer.train, or its checkpoint.pt")
    p.add_argument("overrides", nargs="*", help="data overrides, e.g. data=npz data.path=test.npz data.split=all")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a summary line")
    return p


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    args = build_parser().parse_args(argv)
    result = evaluate_checkpoint(args.checkpoint, args.overrides)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"accuracy {100 * result['accuracy']:.2f}% ({result['num_samples']} {result['dataset']} images, "
              f"split {result['split']})  energy {result['energy_mj']:.4g} mJ/image ({result['energy_model']})  "
              f"firing rate {result['mean_firing_rate']:.3f}", file=sys.stdout)
    return result


if __name__ == "__main__":
    main()
