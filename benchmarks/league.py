"""A league table of token-mixer families: the same mixer in every block, trained the same way.

    python -m benchmarks.league [--datasets digits cifar] [--seeds 0 1 2] [--mixers NAME ...]
                                [--workers 2] [--json FILE] [--plot FILE]

Per dataset, mixer and seed, `fwformer.train.train` trains one model of the dataset's preset with
every block set to that mixer: `tiny` on scikit-learn's digits (offline), `cifar-small` on the
CIFAR-10 subset in `../shared/data` (skipped with a note when absent). Training settings are the
preset's, the seed sets both the initialisation and the data order (`train.seed`); the validation
split is the dataset's stratified 20 % (seed 0 for every run, so every mixer is judged on the same
images). Reported: validation accuracy (mean and standard deviation over the seeds) and energy per
image at the measured firing rates (`energy.model: sop`). Mixers whose papers build membrane-shortcut
blocks are also trained with `shortcut: membrane` (rows marked so), since that is the convention
their reference code uses; every other row uses the spike convention (Spikformer's).

Runs are independent: `--workers` processes train them side by side, one torch thread each, and the
JSON is rewritten after every finished run, which a later call with the same `--json` resumes from.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Optional

from benchmarks.common import CIFAR_SUBSET, REPO, check_outputs, machine_info, write_json
from fwformer.errors import ConfigError, exit_on_user_error

#: One name per registered family (fixed names are their own family; a wavelet family by its haar
#: member), the references first.
MIXERS = ["ssa", "identity", "fft1d", "fft2d", "dwt-haar", "dwtc", "hartley1d", "hartley2d", "wavefilter-haar",
          "wavefilter-combo", "wavefilter-learned-haar", "wavspa-haar", "adawavspa-haar", "sdsa", "sdsa3", "qkta",
          "qkca", "axial", "gsap", "fatm", "spectral", "hyena2d", "sepconv", "dwc3", "maxpool"]
#: Mixers whose reference code builds membrane-shortcut blocks (README "Mixers").
MEMBRANE_NATIVE = ["sdsa", "sdsa3", "sepconv", "fatm", "gsap", "dwc3"]

DATASETS = {
    "digits": ("tiny", ["data=digits", "train.epochs=6", "train.batch_size=64", "train.lr=5e-3",
                        "train.warmup_epochs=1"]),
    "cifar": ("cifar-small", ["data=npz", f"data.path={CIFAR_SUBSET}"]),
}
SEEDS = (0, 1, 2)


def run_key(dataset: str, mixer: str, shortcut: str, seed: int) -> str:
    return f"{dataset}/{mixer}/{shortcut}/{seed}"


def train_one(dataset: str, mixer: str, shortcut: str, seed: int) -> dict[str, Any]:
    """One training run in this (worker) process; returns its figures."""
    import torch

    from fwformer.config import load_config
    from fwformer.train import train

    preset, overrides = DATASETS[dataset]
    cfg = load_config(preset, [*overrides, f"mixers=[{mixer}]", f"shortcut={shortcut}", f"train.seed={seed}",
                               "train.device=cpu", "train.amp=false", "train.num_threads=1"])
    torch.set_num_threads(1)
    start = time.process_time()
    result = train(cfg, progress=False)
    return dict(dataset=dataset, mixer=mixer, shortcut=shortcut, seed=seed, val_acc=result["val_acc"],
                best_val_acc=result.get("best_val_acc"), energy_mj=result["energy_mj"], params=result["params"],
                mean_firing_rate=result.get("mean_firing_rate"), cpu_s=time.process_time() - start)


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (dataset, mixer, shortcut): accuracy mean/std over seeds, energy mean."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["dataset"], r["mixer"], r["shortcut"]), []).append(r)
    rows = []
    for (dataset, mixer, shortcut), rs in groups.items():
        accs = [r["val_acc"] for r in rs]
        rows.append(dict(dataset=dataset, mixer=mixer, shortcut=shortcut, seeds=len(rs),
                         acc_mean=statistics.fmean(accs), acc_std=statistics.stdev(accs) if len(accs) > 1 else 0.0,
                         energy_mj=statistics.fmean(r["energy_mj"] for r in rs), params=rs[0]["params"]))
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        mine = sorted((r for r in rows if r["dataset"] == dataset), key=lambda r: -r["acc_mean"])
        lines += [f"== {dataset} ==", f"{'mixer':<26}{'block':>9}{'seeds':>6}{'acc %':>8}{'+-':>6}{'energy uJ':>11}"
                                     f"{'params':>9}"]
        for r in mine:
            lines.append(f"{r['mixer']:<26}{r['shortcut']:>9}{r['seeds']:>6}{100 * r['acc_mean']:>8.1f}"
                         f"{100 * r['acc_std']:>6.1f}{1e3 * r['energy_mj']:>11.3f}{r['params'] / 1e3:>8.1f}k")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """Accuracy against energy, one panel per dataset, error bars over seeds; Okabe-Ito colours by kind."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from fwformer.mixers import create_mixer

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig = Figure(figsize=(6.5 * len(datasets), 5.6))
    FigureCanvasAgg(fig)
    colours = {"attention (products of spikes)": "#D55E00", "fixed or learned weights only": "#0072B2",
               "membrane-shortcut block": "#009E73"}
    for i, dataset in enumerate(datasets):
        ax = fig.add_subplot(1, len(datasets), i + 1)
        mine = [r for r in rows if r["dataset"] == dataset]
        for r in mine:
            dynamic = create_mixer(r["mixer"], dim=8, grid=(8, 8), num_heads=2).activity_products
            kind = "membrane-shortcut block" if r["shortcut"] == "membrane" else (
                "attention (products of spikes)" if dynamic else "fixed or learned weights only")
            ax.errorbar(1e3 * r["energy_mj"], 100 * r["acc_mean"], yerr=100 * r["acc_std"], fmt="o", ms=5,
                        color=colours[kind], ecolor=colours[kind], capsize=2, label=kind)
            label = r["mixer"] + (" (m)" if r["shortcut"] == "membrane" else "")
            ax.annotate(label, (1e3 * r["energy_mj"], 100 * r["acc_mean"]), textcoords="offset points",
                        xytext=(4, 3), fontsize=7)
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), fontsize=8, loc="best")
        ax.margins(x=0.15, y=0.1)  # room for the labels of the outermost points
        ax.set_xlabel("energy per image (µJ, sop convention, measured firing rates)")
        ax.set_ylabel("validation accuracy (%), mean ± std over seeds")
        preset = DATASETS[dataset][0]
        ax.set_title(f"{dataset}: {preset}, every block the same mixer")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=130)


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.league", description=__doc__.split("\n\n")[0])
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), help=f"among: {', '.join(DATASETS)}")
    p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    p.add_argument("--mixers", nargs="+", default=None, help="default: one per registered family")
    p.add_argument("--no-membrane", action="store_true", help="skip the membrane-shortcut rows")
    p.add_argument("--workers", type=int, default=2, help="training processes side by side (one thread each)")
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "league.json"))
    p.add_argument("--plot", default=str(REPO / "benchmarks" / "results" / "league.png"))
    return p.parse_args(argv)


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> dict:
    import json

    from fwformer.mixers import check_mixer

    args = parse_args(argv)
    check_outputs({"--json": args.json, "--plot": args.plot})
    for name in args.datasets:
        if name not in DATASETS:
            raise ConfigError(f"--datasets: unknown dataset '{name}'; expected among: {', '.join(DATASETS)}")
    mixers = args.mixers or MIXERS
    for name in mixers:
        check_mixer(name, grid=(8, 8))
    if args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, but got {args.workers}")
    notes = []
    datasets = list(args.datasets)
    if "cifar" in datasets and not CIFAR_SUBSET.is_file():
        notes.append(f"cifar skipped: {CIFAR_SUBSET} is absent")
        datasets.remove("cifar")
    path = Path(args.json)
    payload = json.loads(path.read_text()) if path.is_file() else {}
    done = {run_key(r["dataset"], r["mixer"], r["shortcut"], r["seed"]): r for r in payload.get("runs", [])}
    jobs = [(d, m, sc, s) for d in datasets for m in mixers
            for sc in (["spike"] + (["membrane"] if m in MEMBRANE_NATIVE and not args.no_membrane else []))
            for s in args.seeds if run_key(d, m, sc, s) not in done]
    payload.update(benchmark="league", command="python -m benchmarks.league " + " ".join(sys.argv[1:] if argv is None
                                                                                          else argv),
                   machine=machine_info("cpu"), notes=notes, datasets={d: DATASETS[d] for d in datasets})

    def save() -> None:
        payload["runs"] = sorted(done.values(), key=lambda r: run_key(r["dataset"], r["mixer"], r["shortcut"],
                                                                      r["seed"]))
        payload["rows"] = summarise(payload["runs"])
        write_json(path, payload)

    print(f"{len(jobs)} runs to train ({len(done)} already in {path})", file=sys.stderr, flush=True)
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = {pool.submit(train_one, *job): job for job in jobs}
        for i, future in enumerate(as_completed(futures), 1):
            job = futures[future]
            try:
                r = future.result()
            except Exception as err:  # noqa: BLE001 - one failed run is a note, not the end of the league
                notes.append(f"{run_key(*job)} failed: {type(err).__name__}: {err}")
                print(f"[{i}/{len(jobs)}] {run_key(*job)}: FAILED {err}", file=sys.stderr, flush=True)
                continue
            done[run_key(*job)] = r
            print(f"[{i}/{len(jobs)}] {run_key(*job)}: acc {r['val_acc']:.3f}, {1e3 * r['energy_mj']:.3f} uJ, "
                  f"{r['cpu_s']:.0f} CPU-s", file=sys.stderr, flush=True)
            save()
    save()
    print(table(payload["rows"]))
    plot(payload["rows"], Path(args.plot))
    print(f"wrote {path} and {args.plot}", file=sys.stderr)
    return payload


if __name__ == "__main__":
    main()
