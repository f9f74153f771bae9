"""What the one-shot strategy (`search.strategy: supernet`) buys and costs, on the quickstart space
(`python -m benchmarks.supernet`).

    python -m benchmarks.supernet --json benchmarks/results/supernet.json
    python -m benchmarks.supernet --report benchmarks/results/supernet_*.json    # the pages' tables

1. Rank fidelity (`fidelity`): `--fidelity N` architectures drawn uniformly from the space are
   trained stand-alone (the study's training) and scored by each supernet (`--supernet-epochs` x
   `--sampling`) with inherited weights after BN recalibration; Kendall's tau between the two, for
   accuracy and energy.
2. Cost to a front (`cost`): the per-trial search (`--trial-sampler`, `search.trials` distinct
   architectures) over `--seeds` seeds, against the supernet strategy (supernet training +
   candidates scored + the best k trained stand-alone), each charged the process CPU-seconds its
   work took. Target: 95% of the best hypervolume any per-trial run reached, under the study's
   reference point and under a "range" reference (the worst accuracy and energy measured here).
3. What weight sharing costs (`cost.sharing_cost`): stand-alone accuracy of the confirmed
   architectures against the per-trial front at the same or lower energy, and inherited against
   stand-alone accuracy.

Everything runs in this process with one torch thread, so CPU-seconds count the work and not the
machine's other jobs. Stand-alone results are cached by canonical key (`--cache`, a
`benchmarks.common.CurveCache`) with the CPU they cost; an architecture met again is charged that
cost again (a search would train it). `training` (the supernets trained once and costed across
processes, and their scorers) is shared with `benchmarks.search_scale`; `tables` prints the pages'
tables; `cli` is the command.
"""
from __future__ import annotations

import importlib
from typing import Any

from benchmarks.supernet.training import scorer_of, train_supernets, trained_once

__all__ = ["build_parser", "main", "scorer_of", "train_supernets", "trained_once"]


def __getattr__(name: str) -> Any:
    if name in ("build_parser", "main"):  # the command loads on first use
        return getattr(importlib.import_module("benchmarks.supernet.cli"), name)
    raise AttributeError(f"module 'benchmarks.supernet' has no attribute {name!r}")
