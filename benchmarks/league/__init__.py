"""A league table of token-mixer families: the same mixer in every block, trained the same way
(`python -m benchmarks.league`).

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

Modules: `runs` (the datasets, mixers and seeds; one training run; the rows over seeds), `figures`
(the terminal table and the accuracy-against-energy plot) and `cli` (the command).
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["build_parser", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:  # the command loads on first use
        return getattr(importlib.import_module("benchmarks.league.cli"), name)
    raise AttributeError(f"module 'benchmarks.league' has no attribute {name!r}")
