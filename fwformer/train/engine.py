"""What training, evaluation and benchmarks share: autocast, threads and determinism, seeding, and
running a model over batches with its neuron state reset before them and after every batch.

The training loop and the checkpoint evaluation both import this module and never each other. The
loops here own the spiking state: spikingjelly neurons keep their membrane potential between calls,
so whoever runs batches resets the network before them and after each (`fwformer.layers.neurons`).
The device a config names is `fwformer.config.resolve_device` (the data loaders need it too).
"""
from __future__ import annotations

import contextlib
import random
import resource
import time
from typing import Any, Iterable, Iterator, Optional

import torch
import torch.nn.functional as F

from fwformer.layers import fresh_state, reset_state

__all__ = ["autocast", "evaluate_model", "first_batches", "inference_latency_ms", "input_kind_of", "measure",
           "peak_memory_mb", "seed_everything", "torch_settings"]


def autocast(device: torch.device, amp: bool):
    """bf16 autocast on CUDA when `amp` (pytorch-wavelets fails under fp16); nothing on the CPU."""
    if amp and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def torch_settings(tc: Any, device: torch.device) -> Iterator[None]:
    """Threads and determinism of one run (`tc` a TrainConfig), restored afterwards: the search
    runs many trials in one worker process."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        if tc.num_threads:
            torch.set_num_threads(tc.num_threads)
        if device.type == "cpu" and tc.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def seed_everything(seed: int) -> None:
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


def peak_memory_mb(device: torch.device) -> float:
    """Peak CUDA memory allocated since the last reset, or the process's peak resident memory on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


@torch.no_grad()
def evaluate_model(model: torch.nn.Module, batches: Iterable, *, device: torch.device,
                   amp: bool = False) -> dict[str, float]:
    """Top-1 accuracy, mean cross-entropy and sample count of `model` on `(x, y)` batches."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=device)
    loss_sum = torch.zeros((), device=device)
    n = 0
    try:
        with fresh_state(model):
            for x, y in batches:
                with autocast(device, amp):
                    logits = model(x)
                reset_state(model)
                loss_sum += F.cross_entropy(logits.float(), y, reduction="sum")
                correct += (logits.argmax(dim=1) == y).sum()
                n += y.shape[0]
    finally:
        model.train(was_training)
    if n == 0:
        raise ValueError("evaluate_model got no batches")
    return {"acc": correct.item() / n, "loss": loss_sum.item() / n, "n": n}


@torch.no_grad()
def inference_latency_ms(model: torch.nn.Module, x: torch.Tensor, *, device: torch.device, amp: bool,
                         repeats: int = 3) -> float:
    """Median wall time of one forward pass on the batch `x`, in milliseconds."""
    was_training = model.training
    model.eval()
    times = []
    try:
        with fresh_state(model):
            for i in range(repeats + 1):  # the first pass warms up allocators and kernels
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                with autocast(device, amp):
                    model(x)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                reset_state(model)
                if i:
                    times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return 1000 * sorted(times)[len(times) // 2]


def first_batches(loader: Iterable, n: int) -> list[torch.Tensor]:
    """The inputs of the first `n` batches of `(x, y)` pairs."""
    from itertools import islice

    return [x for x, _ in islice(iter(loader), n)]


def measure(model: torch.nn.Module, batches: list[torch.Tensor], cfg: Any, *, input_kind: str,
            energy_model: Optional[str] = None) -> Any:
    """The energy meter's report on `batches` (input tensors) under the config's energy model and costs.

    input_kind: `static` (images the model repeats over T) or `frames` (event frames); the caller knows
    it from its dataset (`"frames" if info.event else "static"`). energy_model overrides `cfg.energy.model`
    (e.g. `sop` where only the firing rates are wanted: it is the cheapest pass).
    """
    from fwformer.energy import measure_energy

    ec = cfg.energy
    return measure_energy(model, batches, input_kind=input_kind, energy_model=energy_model or ec.model,
                          e_mac_pj=ec.e_mac_pj, e_ac_pj=ec.e_ac_pj, e_memory_pj_per_byte=ec.e_memory_pj_per_byte)


def input_kind_of(event: bool) -> str:
    """The energy meter's `input_kind` for a dataset: event frames, or static images repeated over T."""
    return "frames" if event else "static"
