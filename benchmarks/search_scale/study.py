"""The benchmark's study: `fw_pareto`'s search space on a dataset where a CPU trial is affordable.

The space (mixers, wavelets, levels, T, depth) is read from `studies/fw_pareto.yaml` itself, so the
benchmark follows that file; data, model and training are the quickstart's (digits, `tiny`, 6
epochs). The early-stopping rule keeps fw_pareto's shape scaled to 6 epochs: fw_pareto gave no
verdict before epoch 10 of 50 when this was measured, here none before epoch 2 of 6, and needs 5
rivals; `tpe+early-stop-energy-g1` gives verdicts from epoch 1 of 6, the fraction fw_pareto now uses
(8 of 50) because it won (BENCHMARKS.md).
"""
from __future__ import annotations

from typing import Any, Sequence

from benchmarks.common import REPO

DATASETS = {"digits": "quickstart"}  # dataset -> the study whose data and training the benchmark uses
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
    from search.study import load_study

    return load_study(DATASETS[dataset], [*overrides(trials), *extra])
