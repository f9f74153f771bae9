"""The benchmark's study: `fw_pareto`'s search space on a dataset where a CPU trial is affordable.

The space (mixers, wavelets, levels, T, depth) is read from `studies/fw_pareto.yaml` itself, so the
benchmark follows that file; data, model and training are the quickstart's (digits, `tiny`, 6
epochs). The early-stopping rule keeps fw_pareto's shape scaled to 6 epochs: fw_pareto gave no
verdict before epoch 10 of 50 when this was measured, here none before epoch 2 of 6, and needs 5
rivals; `tpe+early-stop-energy-g1` gives verdicts from epoch 1 of 6, the fraction fw_pareto now uses
(8 of 50) because it won (the benchmark pages, docs/benchmarks/).
"""
from __future__ import annotations

from typing import Any, Sequence

from benchmarks.common import CIFAR_SUBSET, REPO

#: dataset -> (the study whose search settings the benchmark uses, overrides that set its data, model and
#: training). `cifar`: the shared CIFAR-10 subset (stratified 20% validation) with `cifar-small`'s model
#: and training (D 64, crop and flip, 6 epochs, lr 2e-3), at the space's depth 4.
DATASETS = {
    "digits": ("quickstart", ()),
    "cifar": ("quickstart", ("base=cifar-small", "data.name=npz", f"data.path={CIFAR_SUBSET}", "train.lr=2e-3")),
}
SPACE_KEYS = ("depth", "mixers", "wavelets", "levels", "T")
EARLY_STOP = {"grace_epochs": 2, "min_trials": 5}


def fw_pareto_space() -> dict[str, Any]:
    from omegaconf import OmegaConf

    space = OmegaConf.to_container(OmegaConf.load(REPO / "studies" / "fw_pareto.yaml").space)
    return {k: space[k] for k in SPACE_KEYS if k in space}


def _value(v: Any) -> str:
    return "[" + ",".join(str(x) for x in v) + "]" if isinstance(v, list) else str(v)


def overrides(trials: int) -> list[str]:
    space = [f"space.{k}={_value(v)}" for k, v in fw_pareto_space().items()]
    stop = [f"search.early_stop.{k}={v}" for k, v in EARLY_STOP.items()]
    return [*space, "search.early_stop.enabled=true", *stop, f"search.trials={trials}", "search.strategy=supernet",
            "train.num_threads=1", "train.device=cpu"]


def scale_study(dataset: str, trials: int, extra: Sequence[str] = ()) -> Any:
    """The benchmark's study; `extra` overrides after the benchmark's own (`noise`: another train.seed)."""
    from fwformer.cli import ConfigError
    from search.study import load_study

    name, data = DATASETS[dataset]
    if dataset == "cifar" and not CIFAR_SUBSET.is_file():
        raise ConfigError(f"--dataset cifar needs the CIFAR-10 subset at {CIFAR_SUBSET} (the repository's ../shared/data)")
    return load_study(name, [*data, *overrides(trials), *extra])
