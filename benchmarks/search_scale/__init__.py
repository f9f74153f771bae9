"""One-shot and early stopping against per-trial TPE at the size of `fw_pareto` (`python -m benchmarks.search_scale`).

    python -m benchmarks.search_scale run --seed 0 --cache C0.json --workdir W0 --raw seed0.json [--fidelity 30]
        [--dataset digits|cifar] [--jobs 2]
    python -m benchmarks.search_scale summarise benchmarks/results/search_scale_raw/*.json.gz
    python -m benchmarks.search_scale training-free benchmarks/results/search_scale_raw/*.json.gz
    python -m benchmarks.search_scale interference benchmarks/results/search_scale_raw/*.json.gz
    python -m benchmarks.search_scale noise benchmarks/results/search_scale_raw/*.json.gz \
        --cache benchmarks/results/search_scale_noise_replicas.json.gz
    python -m benchmarks.search_scale progress benchmarks/results/search_scale_raw/cifar_*.json.gz \
        --dataset cifar --seed 0 --cache benchmarks/results/search_scale_progress/cifar_seed0_tpe_cache.json

Every architecture is trained once, with its per-epoch curve and CPU cost (`benchmarks.common.CurveCache`),
and every strategy is replayed on those curves. Modules: `study` (fw_pareto's space on digits with
`tiny`, or on the shared CIFAR-10 subset with `cifar-small`), `strategies` (the per-trial search with
and without early stopping, the supernet strategy, confirmation in rounds, the random architectures
scored on each supernet), `fewshot` (the sub-supernets of the few-shot split by T), `summary` (the
result rows, the tables and the plot), `snasnet` (SNASNet's training-free score), `interference`
(what a few-shot split by one block could fix), `noise` (the same architectures trained again with
another seed: how well stand-alone accuracy ranks them itself, the ceiling of any score's tau),
`progress` (a baseline still being trained over several sessions, replayed from its committed curve
cache, against the one-shot runs at equal hypervolume) and `cli` (the commands).
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["build_parser", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:  # the command loads on first use
        return getattr(importlib.import_module("benchmarks.search_scale.cli"), name)
    raise AttributeError(f"module 'benchmarks.search_scale' has no attribute {name!r}")
