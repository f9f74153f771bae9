"""Size and theoretical energy of a model: `python -m fwformer.summary PRESET_OR_YAML [key=value ...]`.

Prints parameters, the token grid, T, the mixer of every block, MACs, ACs, energy per image
under the config's energy model (`energy.model`: sop, simple, lemaire; `docs/guides/energy.md`) and a
per-part and per-layer breakdown. Without `--data` every spike input is assumed to fire at rate 1;
with `--data NAME` the rates are measured on a few validation batches of that dataset, on the
freshly built (untrained) weights. `--json` prints one JSON object instead.

    python -m fwformer.summary spikformer-4-384
    python -m fwformer.summary spikformer-4-384 mixers=fft2d --json
    python -m fwformer.summary spikformer-4-384 energy.model=simple
    python -m fwformer.summary tiny --data digits --batches 2
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Optional, Sequence

from fwformer.cli import ConfigError, exit_on_user_error
from fwformer.config import Config, load_config, validate

__all__ = ["build_parser", "format_summary", "main", "summarize"]


def summarize(cfg: Config, *, data: Optional[str] = None, batches: Optional[int] = None) -> dict[str, Any]:
    """Everything the summary shows, as one JSON-serialisable dict.

    `data` names a dataset whose validation batches (at most `batches`, default
    `cfg.train.energy_batches`) give measured firing rates; None assumes rate 1.
    """
    from fwformer.data import dataset_info
    from fwformer.energy import measure_energy
    from fwformer.model import build_model, count_parameters
    from fwformer.train import input_kind_of

    loader = None
    if data is not None:
        # Loading data is only needed here, and it pulls in the dataset libraries.
        from fwformer.data import build_datasets, make_loader, with_data_geometry

        cfg = with_data_geometry(cfg)
        validate(cfg)
        _, val_ds, data_info = build_datasets(cfg)
        loader = make_loader(val_ds, cfg, train=False, device="cpu")  # the model stays on the CPU
        batches = cfg.train.energy_batches if batches is None else batches
    else:
        data_info = dataset_info(cfg.data)  # static images or event frames: the geometry only, no loading
    import torch

    torch.manual_seed(cfg.train.seed)  # the same untrained weights, so measured rates repeat run to run
    model = build_model(cfg)
    ec = cfg.energy
    report = measure_energy(model, loader, input_kind=input_kind_of(data_info.event), energy_model=ec.model,
                            e_mac_pj=ec.e_mac_pj, e_ac_pj=ec.e_ac_pj, e_memory_pj_per_byte=ec.e_memory_pj_per_byte,
                            max_batches=batches if loader is not None else None)
    h, w = cfg.grid
    return {
        "name": cfg.name,
        "params": count_parameters(model),
        "mixers": cfg.block_mixers,
        "ssa": {"scale": cfg.ssa.scale, "qkv_bias": cfg.ssa.qkv_bias},  # for every block that attends
        "T": cfg.T,
        "grid": [h, w],
        "tokens": h * w,
        "embed_dim": cfg.embed_dim,
        "depth": cfg.depth,
        "data": data,
        "firing_rate": 1.0 if report.rate_one else report.mean_firing_rate,
        **report.to_dict(),
    }


def _ops(n: float) -> str:
    return f"{n / 1e9:.4f} G" if n >= 1e7 else f"{n / 1e6:.4f} M"


def _costs(info: dict[str, Any]) -> str:
    names = dict(e_mac_pj="E_MAC {} pJ", e_ac_pj="E_AC {} pJ", e_memory_pj_per_byte="memory {} pJ/byte",
                 e_add_pj="add {} pJ", e_mul_pj="multiply {} pJ")
    return ", ".join(names.get(k, k + " {}").format(v) for k, v in info["costs"].items())


def _fmt(value: Any, scale: float, spec: str) -> str:
    return "-" if value is None else format(value / scale, spec)


def format_summary(info: dict[str, Any]) -> str:
    h, w = info["grid"]
    if info["rate_one"]:
        rate = "1 (assumed; pass --data NAME to measure)"
    else:
        rate = f"{info['firing_rate']:.4f} (measured on {info['images']} {info['data']} images, untrained weights)"
    lines = [
        f"{info['name']}",
        f"  parameters   {info['params']:,} ({info['params'] / 1e6:.2f} M)",
        f"  tokens       {h} x {w} = {info['tokens']}, T = {info['T']}, dim {info['embed_dim']}, depth {info['depth']}",
        f"  mixers       {', '.join(info['mixers'])}",
        f"  ssa          scale {info['ssa']['scale']:g}, q/k/v bias {'on' if info['ssa']['qkv_bias'] else 'off'}",
        f"  firing rate  {rate}",
        f"  MACs         {_ops(info['macs'])}",
        f"  ACs          {_ops(info['acs'])}",
    ]
    if info["memory_bytes"]:
        lines.append(f"  memory       {info['memory_bytes'] / 2**20:.2f} MiB read and written per image")
    lines += [
        f"  energy       {info['energy_mj']:.4g} mJ per image, energy model {info['energy_model']} ({_costs(info)})",
        "  breakdown    " + ", ".join(f"{k} {v:.4g} mJ" for k, v in info["breakdown_mj"].items()),
        "",
    ]
    if info["repeated_layers"]:
        lines[-1:-1] = [f"  run once     {', '.join(info['repeated_layers'])} (fed the static image repeated over T)"]
    if not info["by_part"]:
        lines.append(f"(energy model {info['energy_model']} gives totals only, no per-part breakdown)")
        return "\n".join(lines)
    big = info["flops"] >= 1e8  # one unit per table: G for paper-sized models, M for toy ones
    unit, scale = ("G", 1e9) if big else ("M", 1e6)
    total = info["energy_mj"] or 1.0
    lines.append(f"{'part':<18}{'mixer':<14}{f'MACs ({unit})':>10}{f'ACs ({unit})':>10}{'energy (mJ)':>13}{'share':>8}")
    for part, t in info["by_part"].items():
        mixer = ""
        if part.startswith("blocks.") and part.endswith(".mixer"):
            mixer = info["mixers"][int(part.split(".")[1])]
        lines.append(f"{part:<18}{mixer:<14}{t['macs'] / scale:>10.4f}{t['acs'] / scale:>10.4f}"
                     f"{t['energy_mj']:>13.4g}{100 * t['energy_mj'] / total:>7.1f}%")
    lines += ["", f"{'layer':<34}{'kind':<10}{'FLOPs (M)':>11}{'rate':>8}{'MACs (M)':>10}{'ACs (M)':>10}"
                  f"{'mem (MiB)':>10}{'energy (mJ)':>13}"]
    for row in info["layers"]:
        rate = "-" if row["firing_rate"] is None else f"{row['firing_rate']:.4f}"
        lines.append(f"{row['name']:<34}{row['kind']:<10}{_fmt(row['flops'], 1e6, '>11.3f'):>11}{rate:>8}"
                     f"{row['macs'] / 1e6:>10.3f}{row['acs'] / 1e6:>10.3f}{row['memory_bytes'] / 2**20:>10.3f}"
                     f"{row['energy_mj']:>13.4g}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fwformer.summary", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="preset name (e.g. spikformer-4-384) or YAML file")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. mixers=fft2d T=2")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--data", metavar="NAME", help="measure firing rates on validation batches of this dataset")
    parser.add_argument("--batches", type=int, metavar="N",
                        help="validation batches to measure with --data (default: train.energy_batches)")
    return parser


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_intermixed_args(argv)
    if args.batches is not None and (args.data is None or args.batches < 1):
        raise ConfigError(f"--batches must be >= 1 and goes with --data NAME, but got --batches {args.batches}"
                          + ("" if args.data else " without --data"))
    overrides = list(args.overrides) + ([f"data={args.data}"] if args.data else [])
    # With --data the geometry may come from the dataset, so validation waits for it.
    cfg = load_config(args.config, overrides, check=args.data is None)
    info = summarize(cfg, data=args.data, batches=args.batches)
    print(json.dumps(info) if args.json else format_summary(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
