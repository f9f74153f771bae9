"""Evaluate a trained model on any dataset config: accuracy and theoretical energy.

    python -m fwformer.evaluate --checkpoint runs/d                         # its own validation set
    python -m fwformer.evaluate --checkpoint runs/c data=npz data.path=test.npz data.split=all --json

Overrides may change the data (`data.*`), the batch size, the device and the energy constants;
the architecture comes from the checkpoint, and the data must agree with it (channels, image
size, classes). Accuracies are fractions in [0, 1]; energy is mJ per image. The evaluation itself
is `fwformer.train.evaluate_checkpoint`.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional, Sequence

from fwformer.cli import exit_on_user_error
from fwformer.train import evaluate_checkpoint

__all__ = ["build_parser", "main"]


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
