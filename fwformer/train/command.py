"""The command `python -m fwformer.train --config X [key=value ...] --out DIR`: check everything, load the
data, then `train()` into DIR, logging to MLflow when a tracking URI is given (`--tracking-uri` or
`$MLFLOW_TRACKING_URI`); one summary line at the end. Bad input is one `error:` line and exit code 2.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
from typing import Any, Optional, Sequence

from fwformer.cli import ConfigError, exit_on_user_error
from fwformer.config import check_train_config, resolve_device
from fwformer.train.loop import train

__all__ = ["build_parser", "main"]


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in d.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m fwformer.train",
                                description="Train one architecture and write DIR/metrics.json, the checkpoint and the config.")
    p.add_argument("--config", required=True, help="a preset name (e.g. tiny, spikformer-4-384) or a YAML file")
    p.add_argument("overrides", nargs="*", help="key=value overrides, e.g. data=digits train.epochs=5 mixers=fft2d")
    p.add_argument("--out", required=True, help="run folder (created; must be new or empty unless --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--tracking-uri", default=None, help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI; none: no MLflow)")
    p.add_argument("--experiment", default="fwformer-train", help="MLflow experiment name")
    p.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    return p


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    from fwformer.cli import check_output_folder, check_tracking_uri
    from fwformer.config import config_to_dict, load_config
    from fwformer.data import build_datasets, with_data_geometry
    from fwformer.train.checkpoint import CHECKPOINT_FILE

    args = build_parser().parse_args(argv)
    # Everything is checked, and the data is loaded, before the run folder is created.
    cfg = with_data_geometry(load_config(args.config, args.overrides, check=False))
    check_train_config(cfg.train)
    resolve_device(cfg.train.device)
    out = Path(args.out)
    if args.resume and not (out / CHECKPOINT_FILE).is_file():
        raise ConfigError(f"--resume needs '{out / CHECKPOINT_FILE}', which does not exist")
    if not args.resume and out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out '{out}' already exists and is not empty; choose a new folder or pass --resume")
    check_output_folder(out, "--out")
    tracking_uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if tracking_uri:
        check_tracking_uri(tracking_uri, "--tracking-uri" if args.tracking_uri else "MLFLOW_TRACKING_URI")
    datasets = build_datasets(cfg)

    if not tracking_uri:
        result = train(cfg, out_dir=out, resume=args.resume, progress=not args.quiet, datasets=datasets)
    else:
        import mlflow

        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_experiment(args.experiment)
        with mlflow.start_run(run_name=cfg.name):
            mlflow.log_params({k: str(v)[:500] for k, v in _flatten(config_to_dict(cfg)).items()})
            mlflow.set_tag("energy_model", cfg.energy.model)  # which model priced energy_mj

            def log_epoch(metrics: dict[str, Any]) -> bool:
                mlflow.log_metrics({k: float(v) for k, v in metrics.items() if k != "epoch"}, step=metrics["epoch"])
                return False

            result = train(cfg, out_dir=out, resume=args.resume, progress=not args.quiet, report=log_epoch,
                           datasets=datasets)
            mlflow.log_metrics({f"final_{k}": float(v) for k, v in result.items()
                                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)})
            mlflow.log_artifacts(str(out))
    on = " on the official test set" if cfg.data.split == "test" else ""
    print(f"val_acc {100 * result['val_acc']:.2f}%{on} (best {100 * result['best_val_acc']:.2f}% at epoch "
          f"{result['best_epoch']})  energy {result['energy_mj']:.4g} mJ/image  "
          f"params {result['params']}  epochs {result['epochs']}  {result['train_time_s']:.1f}s training  -> {out}")
    return result
