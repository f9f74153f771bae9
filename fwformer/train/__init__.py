"""Training, evaluation and checkpoints of one architecture; `python -m fwformer.train` is its command.

    result = train(cfg, out_dir="runs/d", report=callback)      # the search calls this
    python -m fwformer.train --config tiny data=digits --out runs/d

Modules: `loop` (`train()`: AdamW, the lr schedule `lr_at`, one epoch after another, the final
energy and latency), `command` (the command line: `build_parser`, `main`; `__main__` runs it),
`engine` (what the loop, the evaluation and the benchmarks share: autocast, threads and
determinism, seeding, `evaluate_model`, `inference_latency_ms`, the energy `measure`),
`checkpoint` (one file per run, written atomically) and `evaluation` (`evaluate_checkpoint`, what
`python -m fwformer.evaluate` runs).
"""
from fwformer.train.checkpoint import (CHECKPOINT_FILE, CONFIG_FILE, METRICS_FILE, checkpoint_path, load_checkpoint,
                                       rng_state, save_checkpoint, set_rng_state)
from fwformer.train.command import build_parser, main
from fwformer.train.engine import (autocast, evaluate_model, first_batches, inference_latency_ms, input_kind_of,
                                   measure, peak_memory_mb, seed_everything, torch_settings)
from fwformer.train.evaluation import evaluate_checkpoint
from fwformer.train.loop import NonFiniteLossError, lr_at, schedule_of, train

__all__ = [
    "CHECKPOINT_FILE", "CONFIG_FILE", "METRICS_FILE", "NonFiniteLossError", "autocast", "build_parser",
    "checkpoint_path", "evaluate_checkpoint", "evaluate_model", "first_batches", "inference_latency_ms",
    "input_kind_of", "load_checkpoint", "lr_at", "main", "measure", "peak_memory_mb", "rng_state",
    "save_checkpoint", "schedule_of", "seed_everything", "set_rng_state", "torch_settings", "train",
]
