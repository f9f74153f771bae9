"""What the league trains: one model per dataset, mixer, block convention and seed, and the rows over seeds."""
from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks.common import CIFAR_SUBSET

#: One name per registered family (fixed names are their own family; a wavelet family by its haar
#: member), the references first.
MIXERS = ["ssa", "identity", "fft1d", "fft2d", "dwt-haar", "dwtc", "hartley1d", "hartley2d", "wavefilter-haar",
          "wavefilter-combo", "wavefilter-learned-haar", "wavspa-haar", "adawavspa-haar", "sdsa", "sdsa3", "qkta",
          "qkca", "axial", "gsap", "fatm", "spectral", "hyena2d", "sepconv", "dwc3", "maxpool"]
#: Mixers whose reference code builds membrane-shortcut blocks (the site's mixer reference).
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
