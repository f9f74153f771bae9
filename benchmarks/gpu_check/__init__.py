"""The GPU check in one command, for a device machine lent for a few minutes
(`python -m benchmarks.gpu_check`; the guide is docs/gpu-check.md).

    python -m benchmarks.gpu_check prepare                 # here: wheels and the CIFAR-10 subset into .device/
    python -m benchmarks.gpu_check --out DIR               # there: every step, within 8 minutes
    python -m benchmarks.gpu_check --dry-run --out DIR     # anywhere: every step on the CPU at tiny sizes

The steps, in order, each a process of its own with its own time box (`plan.BOXES`):

    tests          pytest -m gpu, and the model tests with CUDA as the default device
    mixers_fp32    benchmarks.mixers on CUDA at Spikformer-4-384, its real batch, fp32
    mixers_bf16    the same under bf16 autocast
    neurons        spikingjelly's LIF backends and torch.compile: exact against the Torch path? how much faster?
    training       2 epochs of 4-384 on the CIFAR-10 subset, ssa and the fastest fixed mixer, alone then two at
                   once; the epoch time fw_pareto's budget should use
    mixers_events  FWformer's mixers at the Spikformer-2-256 event geometry, if time allows

Each writes `DIR/<n>_<step>.json` as it finishes (the mixers steps: the mixers benchmark's usual JSON)
and `DIR/summary.json` is rewritten after every step: status (pass, fail, timeout, skipped: why),
seconds, the last lines of a failure. A step that fails or times out costs only itself. The dry run
skips the CUDA-only steps with "skipped: no CUDA" and runs the others at tiny sizes, in under a minute;
a test runs it, so the check cannot rot.

Modules, one job each: `plan` (the steps and their boxes), `runner` (time boxes, records, summary),
`headlines` (one line per step), `tests_step`, `neurons` and `training` (the steps that are not an
existing command), `cuda_default` (the pytest plugin that moves the model tests to CUDA), `prepare`,
`files`, `cli`.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["STEPS", "build_parser", "main"]

_MODULE_OF = {"STEPS": "plan", "build_parser": "cli", "main": "cli"}


def __getattr__(name: str) -> Any:
    if name in _MODULE_OF:  # loaded on first use: a step's module (`-m benchmarks.gpu_check.neurons`) stays light
        return getattr(importlib.import_module(f"benchmarks.gpu_check.{_MODULE_OF[name]}"), name)
    raise AttributeError(f"module 'benchmarks.gpu_check' has no attribute {name!r}")
