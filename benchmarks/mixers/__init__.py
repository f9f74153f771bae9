"""Every mixer side by side on one model geometry: speed, memory and energy against SSA and identity
(`python -m benchmarks.mixers`).

    python -m benchmarks.mixers [--device cpu|cuda] [--geometry NAME ...] [--json FILE]
                                [--repeats N] [--quick] [--energy-only] [--energy-steps N]
                                [--energy-checkpoints STEP ...]
    python -m benchmarks.mixers --report FILE.json ...     # the benchmark pages' tables of result files

For each geometry the same model is built once per mixer (every block set to that mixer), all in
one process, and measured in interleaved rounds: round r times every mixer once, in an order
rotated by r, so slow drifts of a shared machine hit every mixer alike. Ratios are paired: each
round's SSA (or identity) figure divides that same round's mixer figure, and the median over
rounds is reported, with the quartiles of the per-round ratios.

Per mixer:
- training throughput: images/s of forward + cross-entropy + backward + AdamW step;
- inference throughput: images/s of a forward under `no_grad` in eval mode;
- peak training memory: (the most memory one training step holds above what was held before it,
  gradients included) + (this model's parameters, buffers and AdamW state). On CUDA the step part
  is `torch.cuda.max_memory_allocated` minus `memory_allocated` before the step. On CPU it is the
  resident-set high-water mark (`VmHWM`, reset through `/proc/self/clear_refs`) minus the resident
  set before the step, in a fresh child process per mixer, after one warm-up step, with glibc's
  mmap threshold pinned at 64 KiB (`MALLOC_MMAP_THRESHOLD_`) so freed tensors leave the resident
  set instead of hiding in malloc's free lists;
- energy (mJ per image, `fwformer.energy.measure_energy`) under every energy model (`sop`, the
  field's convention, in the headline columns; `simple` and `lemaire` from spikingjelly beside it),
  with a static image's first layer counted once: at firing rates measured on held-out CIFAR-10
  images after training on the CIFAR-10 subset in `../shared/data` (CIFAR-shaped geometries only;
  skipped with a note when the file is absent; `--energy-checkpoints` also records the rates at
  earlier steps), and at firing rate 1 (every neuron fires every step; an upper bound that needs
  no data). `--energy-only` skips the timing stages;
- the mixer in isolation: one block's mixer, forward + backward (and forward alone) on random
  `[T, B, N, D]` spikes, since in the whole model the MLP and the patch splitter hide it.

Modules, one job each: `catalogue` (the mixers measured, the claims and goals), `subjects` (the
models and geometries), `timing`, `memory`, `energy`, `run` (one geometry's stages and ratios),
`table` (the terminal table), `markdown` (the pages' tables), `cli`.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["build_parser", "main"]


def __getattr__(name: str) -> Any:
    if name in __all__:  # the command loads on first use: `import benchmarks.mixers.subjects` stays light
        return getattr(importlib.import_module("benchmarks.mixers.cli"), name)
    raise AttributeError(f"module 'benchmarks.mixers' has no attribute {name!r}")
