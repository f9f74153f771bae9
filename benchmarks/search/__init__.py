"""Search efficiency of the samplers, and the overhead of the search machinery (`python -m benchmarks.search`).

    python -m benchmarks.search [--study quickstart] [--seeds 3] [--trials N] [--epochs E]
                                [--samplers tpe nsga2 random] [--json FILE] [--overhead-trials N]
                                [--no-efficiency] [--no-overhead]
    python -m benchmarks.search --report benchmarks/results/search_efficiency.json   # the pages' tables

Modules: `efficiency` (every sampler and seed on one cached landscape of real trainings: the trials
each needs to 90%, 95% and 99% of the best hypervolume), `overhead` (`python -m search.run` at 1 and
2 concurrent trials: the share of a trial's and of the command's time outside training and
evaluation), `tables` (the terminal summary and the pages' markdown tables) and `cli`.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["build_parser", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:  # the command loads on first use: `import benchmarks.search.efficiency` stays light
        return getattr(importlib.import_module("benchmarks.search.cli"), name)
    raise AttributeError(f"module 'benchmarks.search' has no attribute {name!r}")
