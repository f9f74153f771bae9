"""Resident memory of a search's trial workers against the same training run alone
(`python -m benchmarks.worker_memory`).

    python -m benchmarks.worker_memory [--study quickstart] [--trials 4] [--epochs 3] [--json FILE]

Runs `python -m search.run --study STUDY` (shrunk to `--trials` trials of `--epochs` epochs, two at a
time) in a scratch folder and samples, every 0.2 s, every process of its session from
`/proc/PID/smaps_rollup`: RSS (what `ps` shows), PSS (shared pages divided among the processes
that map them: what the processes cost the machine together) and USS (private pages: what ending
the process frees). Trial workers are Ray's processes that ran a trial (`ray::ImplicitFunc`,
`ray::_Inner...`); the peak of each over the run is reported. Then one trial's training alone,
`python -m fwformer.train` with the same config in a fresh process, sampled the same way, and the
import cost of a worker's modules (ray.tune, torch, the trainable) in a bare interpreter.

Modules: `sampling` (smaps_rollup of every process of a session, sampled in a thread, and the import
cost of a bare interpreter) and `cli` (the command).
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["build_parser", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:  # the command loads on first use
        return getattr(importlib.import_module("benchmarks.worker_memory.cli"), name)
    raise AttributeError(f"module 'benchmarks.worker_memory' has no attribute {name!r}")
