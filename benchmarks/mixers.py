"""Every mixer side by side on one model geometry: speed, memory and energy against SSA and identity.

    python -m benchmarks.mixers [--device cpu|cuda] [--geometry NAME ...] [--json FILE]
                                [--repeats N] [--quick] [--energy-only] [--energy-steps N]
                                [--energy-checkpoints STEP ...]

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
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from benchmarks.common import (
    CIFAR_SUBSET, REPO, fmt, machine_info, median, quartiles, time_per_call, usable_cores,
    write_json,
)
from fwformer.engine import evaluate_model, reset_state
from fwformer.errors import ConfigError, closest, exit_on_user_error

#: FWformer's mixers (fft1d, fft2d, dwt-, dwtc), our variants of them (hartley*, wavefilter*), WavSpA's
#: wavelet-space attention (wavspa-, adawavspa-), a hybrid, and the two references (README "Mixers").
MIXERS = ["ssa", "fft1d", "fft2d", "dwt-haar", "dwt-db2", "dwtc", "hartley1d", "hartley2d", "wavefilter-haar",
          "wavefilter-db2", "wavefilter-combo", "wavefilter-learned-db2", "wavspa-haar", "adawavspa-db2",
          "fft2d+dwt-haar", "identity"]
BASELINE, BOUND = "ssa", "identity"
#: Mixers that compute with a fixed (or learned-filter) basis instead of q k^T: the goal's candidates.
FIXED_BASIS = ["fft1d", "fft2d", "dwt-haar", "dwt-db2", "dwtc", "hartley1d", "hartley2d", "wavefilter-haar",
               "wavefilter-db2", "wavefilter-combo", "wavefilter-learned-db2", "fft2d+dwt-haar"]

# FWformer's claims against Spikformer (REFERENCE.md), as ratios to SSA.
CLAIMS = {
    "train": (1.09, 1.51),  # training speed +9% to +51%
    "infer": (1.19, 1.70),  # inference speed +19% to +70%
    "memory": (0.74, 0.96),  # GPU memory -26% to -4%
    "energy": (0.75, 0.80),  # theoretical energy -25% to -20%
}
# FWformer's CIFAR-10 energy table (REFERENCE.md): 2D-FFT 0.393 mJ, SSA 0.523 mJ per image.
PUBLISHED_FFT2D_VS_SSA = 0.393 / 0.523
# The issue's goals at Spikformer-4-384 geometry, for the best fixed-basis mixer.
GOALS = dict(train_vs_ssa=1.5, infer_vs_ssa=1.7, vs_identity=0.9, energy_vs_ssa=0.75)

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class Geometry:
    name: str
    preset: str
    overrides: tuple[str, ...]
    batch: dict[str, int]  # device type -> batch size for the speed and memory figures
    description: str
    repeats: dict[str, int] = field(default_factory=lambda: {"cpu": 15, "cuda": 20})
    energy_steps: dict[str, int] = field(default_factory=lambda: {"cpu": 60, "cuda": 300})
    energy_batch: dict[str, int] = field(default_factory=lambda: {"cpu": 16, "cuda": 128})


GEOMETRIES = {
    g.name: g
    for g in [
        Geometry("small", "spikformer-4-384", ("embed_dim=128", "num_heads=8"), {"cpu": 16, "cuda": 256},
                 "4 blocks, D 128, 8 heads, T 4, 32x32 CIFAR input, 8x8 grid (quick on CPU)"),
        Geometry("spikformer-4-384", "spikformer-4-384", (), {"cpu": 4, "cuda": 128},
                 "Spikformer-4-384 on CIFAR: 4 blocks, D 384, 12 heads, T 4, 32x32 input, 8x8 grid",
                 repeats={"cpu": 9, "cuda": 20}, energy_steps={"cpu": 120, "cuda": 300},
                 energy_batch={"cpu": 8, "cuda": 128}),
        Geometry("spikformer-2-256", "spikformer-2-256", (), {"cpu": 2, "cuda": 16},
                 "Spikformer-2-256 on event frames: 2 blocks, D 256, 16 heads, T 16, 2x128x128 frames, 8x8 grid",
                 repeats={"cpu": 9, "cuda": 20}),
    ]
}


def geometry_config(geometry: Geometry, mixer: str):
    from fwformer.config import load_config

    return load_config(geometry.preset, [*geometry.overrides, f"mixers=[{mixer}]"])


def is_cifar_shaped(cfg) -> bool:
    return (cfg.img_size, cfg.in_channels) == (32, 3)


def make_batch(cfg, batch: int, device: str, seed: int = 0):
    """A fixed input batch of the geometry: normalised-image noise, or sparse event frames."""
    import torch

    g = torch.Generator().manual_seed(seed)
    if cfg.data.name in ("dvs128_gesture", "cifar10_dvs") or cfg.in_channels == 2:
        x = (torch.rand(cfg.T, batch, cfg.in_channels, cfg.img_size, cfg.img_size, generator=g) < 0.05).float()
    else:
        x = torch.randn(batch, cfg.in_channels, cfg.img_size, cfg.img_size, generator=g)
    y = torch.randint(0, cfg.num_classes, (batch,), generator=g)
    return x.to(device), y.to(device)


def autocast(device: str, amp: bool):
    import torch

    from fwformer.engine import autocast as engine_autocast

    return engine_autocast(torch.device(device), amp)


class Subject:
    """One model (every block one mixer) with its optimizer and a fixed batch."""

    def __init__(self, geometry: Geometry, mixer: str, batch: int, device: str, amp: bool, seed: int = 0):
        import torch

        from fwformer.model import build_model, count_parameters

        self.mixer = mixer
        self.cfg = geometry_config(geometry, mixer)
        torch.manual_seed(seed)
        self.model = build_model(self.cfg).to(device)
        self.params = count_parameters(self.model)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=self.cfg.train.lr,
                                     weight_decay=self.cfg.train.weight_decay)
        self.x, self.y = make_batch(self.cfg, batch, device, seed)
        self.batch = batch
        self.device = device
        self.amp = amp

    def train_step(self) -> None:
        import torch.nn.functional as F

        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        with autocast(self.device, self.amp):
            loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        reset_state(self.model)

    def infer_step(self) -> None:
        import torch

        self.model.eval()
        with torch.no_grad(), autocast(self.device, self.amp):
            self.model(self.x)
        reset_state(self.model)

    def state_bytes(self) -> int:
        """Parameters, buffers and optimizer state: what the model holds between steps."""
        import torch

        total = sum(t.numel() * t.element_size() for t in self.model.parameters())
        total += sum(t.numel() * t.element_size() for t in self.model.buffers())
        for state in self.opt.state.values():
            total += sum(v.numel() * v.element_size() for v in state.values() if torch.is_tensor(v))
        return total


class IsolatedMixer:
    """One block's mixer alone on random spikes `[T, B, N, D]`."""

    def __init__(self, cfg, mixer: str, batch: int, device: str, amp: bool, rate: float = 0.15, seed: int = 0):
        import torch

        from fwformer.model import make_mixer

        torch.manual_seed(seed)
        self.module = make_mixer(cfg, mixer).to(device)
        n = cfg.grid[0] * cfg.grid[1]
        g = torch.Generator().manual_seed(seed)
        self.x = (torch.rand(cfg.T, batch, n, cfg.embed_dim, generator=g) < rate).float().to(device)
        self.grad = torch.randn(cfg.T, batch, n, cfg.embed_dim, generator=g).to(device)
        self.device = device
        self.amp = amp
        self.shape = [cfg.T, batch, n, cfg.embed_dim]

    def train_step(self) -> None:
        x = self.x.detach().requires_grad_(True)
        self.module.train()
        with autocast(self.device, self.amp):
            out = self.module(x)
        out.backward(self.grad.to(out.dtype))
        reset_state(self.module)

    def infer_step(self) -> None:
        import torch

        self.module.eval()
        with torch.no_grad(), autocast(self.device, self.amp):
            self.module(self.x)
        reset_state(self.module)


# --------------------------------------------------------------------------------------- timing


def calls_for(fn: Callable[[], None], device: str, min_time: float, cap: int = 200) -> int:
    """How many back-to-back calls make one measurement last at least `min_time` seconds."""
    once, _ = time_per_call(fn, 1, device)
    return max(1, min(cap, math.ceil(min_time / max(once, 1e-6))))


def interleaved(subjects: dict[str, Any], kinds: tuple[str, ...], repeats: int, device: str, min_time: float,
                warmup: int, log: Callable[[str], None]) -> dict[str, dict[str, dict[str, list[float]]]]:
    """Seconds per call of `<kind>_step` for every subject, `repeats` rounds, rotated order.

    Returns times[subject][kind][clock] = one value per round, clock `wall` or `cpu`.
    """
    names = list(subjects)
    calls: dict[tuple[str, str], int] = {}
    for name in names:
        for kind in kinds:
            fn = getattr(subjects[name], f"{kind}_step")
            for _ in range(warmup):
                fn()
            calls[name, kind] = calls_for(fn, device, min_time)
    times = {n: {k: {"wall": [], "cpu": []} for k in kinds} for n in names}
    step = max(1, repeats // 5)
    for r in range(repeats):
        order = names[r % len(names):] + names[:r % len(names)]
        for kind in kinds:
            for name in order:
                wall, cpu = time_per_call(getattr(subjects[name], f"{kind}_step"), calls[name, kind], device)
                times[name][kind]["wall"].append(wall)
                times[name][kind]["cpu"].append(cpu)
        if (r + 1) % step == 0 or r + 1 == repeats:
            log(f"    round {r + 1}/{repeats} done")
    return times


def paired_ratio(times: dict, name: str, ref: str, kind: str, clock: str) -> tuple:
    """Median and quartiles over rounds of (ref time / name time) = name's speed relative to ref."""
    if ref not in times or name not in times:
        return None, None
    ratios = [a / b for a, b in zip(times[ref][kind][clock], times[name][kind][clock]) if b > 0]
    return median(ratios), quartiles(ratios)


# --------------------------------------------------------------------------------------- memory


def _rss_kb() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                out[key] = int(value.split()[0])
    return out


def memory_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs in a fresh process: the CPU peak-RSS increase of one training step (see module doc)."""
    import torch

    torch.set_num_threads(int(spec["threads"]))
    subject = Subject(GEOMETRIES[spec["geometry"]], spec["mixer"], int(spec["batch"]), "cpu", amp=False)
    subject.train_step()  # warm-up: allocates AdamW state and one-time caches
    subject.opt.zero_grad(set_to_none=True)
    gc.collect()
    before = _rss_kb()["VmRSS"]
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident set (Linux >= 4.0)
    subject.train_step()
    peak = _rss_kb()["VmHWM"]
    return dict(step_mb=(peak - before) / 1024, state_mb=subject.state_bytes() / 2**20,
                rss_before_mb=before / 1024, rss_peak_mb=peak / 1024)


def cpu_memory(geometry: Geometry, mixer: str, batch: int, threads: int) -> dict[str, Any]:
    spec = dict(geometry=geometry.name, mixer=mixer, batch=batch, threads=threads)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", PYTHONWARNINGS="ignore")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.mixers", "--memory-child", json.dumps(spec)],
                          cwd=REPO, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return dict(error=f"memory child failed (exit {proc.returncode}): {tail}")
    out = json.loads(lines[-1])
    out["memory_mb"] = out["step_mb"] + out["state_mb"]
    out["method"] = "cpu: VmHWM - VmRSS around one training step in a fresh child (+ model/optimizer state)"
    return out


def cuda_memory(subject: Subject) -> dict[str, Any]:
    import torch

    subject.opt.zero_grad(set_to_none=True)
    gc.collect()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    subject.train_step()
    torch.cuda.synchronize()
    step = torch.cuda.max_memory_allocated() - before
    state = subject.state_bytes()
    return dict(step_mb=step / 2**20, state_mb=state / 2**20, memory_mb=(step + state) / 2**20,
                method="cuda: max_memory_allocated - memory_allocated around one training step (+ model/optimizer state)")


# --------------------------------------------------------------------------------------- energy


def load_cifar_subset(device: str, val_images: int, seed: int = 0):
    """The shared CIFAR-10 subset, split by a fixed permutation: (train x, train y, val x, val y)."""
    import numpy as np
    import torch

    with np.load(CIFAR_SUBSET) as z:
        images, labels = np.asarray(z["images"]), np.asarray(z["labels"]).astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    x = torch.from_numpy(images[order]).float().div_(255.0)
    mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    x = ((x - mean) / std).to(device)
    y = torch.from_numpy(labels[order]).to(device)
    return x[val_images:], y[val_images:], x[:val_images], y[:val_images]


def energy_under_every_model(model, batches, cfg, *, input_kind: str) -> dict[str, dict]:
    """The model's energy under each energy model (`fwformer.energy.ENERGY_MODELS`), on `batches`
    (None: firing rate 1). A model that cannot price the architecture gives {"error": why}."""
    from fwformer.energy import ENERGY_MODELS, measure_energy

    ec = cfg.energy
    out: dict[str, dict] = {}
    for name in ENERGY_MODELS:
        start = time.perf_counter()
        try:
            report = measure_energy(model, batches, input_kind=input_kind, energy_model=name, e_mac_pj=ec.e_mac_pj,
                                    e_ac_pj=ec.e_ac_pj, e_memory_pj_per_byte=ec.e_memory_pj_per_byte)
        except ConfigError as err:  # e.g. lemaire on a mixer product: the reason is the figure
            out[name] = dict(energy_model=name, error=str(err))
            continue
        out[name] = dict(
            energy_model=name, energy_mj=report.energy_mj, macs=report.macs, acs=report.acs,
            memory_bytes=report.memory_bytes, breakdown_mj=report.breakdown_mj,
            mixer_energy_mj=sum(report.by_mixer.values()) if report.by_part else None,
            by_kind=energy_by_kind(report) if report.by_part else None, mean_firing_rate=report.mean_firing_rate,
            repeated_layers=report.repeated_layers, seconds=time.perf_counter() - start,
        )
    return out


def short_train_energy(cfg, data, *, steps: int, batch: int, eval_batch: int, device: str, seed: int = 0,
                       checkpoints: tuple[int, ...] = (), log: Callable[[str], None] = lambda msg: None) -> dict:
    """Train `steps` AdamW steps on the subset, then measure energy on the held-out images under every
    energy model. At each step of `checkpoints` the firing rates (synaptic-operation pass) and the
    `sop` energy are measured on the same held-out images, to show how far the rates have settled."""
    import torch
    import torch.nn.functional as F

    from fwformer.energy import measure_energy
    from fwformer.model import build_model, count_parameters

    train_x, train_y, val_x, val_y = data
    torch.manual_seed(seed)
    model = build_model(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    g = torch.Generator().manual_seed(seed)
    batches = [(val_x[i:i + eval_batch], val_y[i:i + eval_batch]) for i in range(0, len(val_y), eval_batch)]
    losses, history = [], []
    train_s = 0.0
    for step in range(1, steps + 1):
        model.train()
        start = time.perf_counter()
        idx = torch.randint(0, len(train_y), (batch,), generator=g).to(device)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
        loss.backward()
        opt.step()
        reset_state(model)
        losses.append(loss.item())
        train_s += time.perf_counter() - start
        if step in checkpoints and step != steps:
            sop = measure_energy(model, batches, input_kind="static")
            tail = losses[-max(1, step // 4):]
            history.append(dict(step=step, mean_firing_rate=sop.mean_firing_rate, energy_mj=sop.energy_mj,
                                firing_rates=sop.firing_rates, train_loss=sum(tail) / len(tail)))
            log(f"      step {step}: mean firing rate {sop.mean_firing_rate:.4f}, sop {sop.energy_mj:.4f} mJ, "
                f"train loss {history[-1]['train_loss']:.3f}")
    models = energy_under_every_model(model, batches, cfg, input_kind="static")
    sop = measure_energy(model, batches, input_kind="static")
    tail = losses[-max(1, len(losses) // 4):]
    history.append(dict(step=steps, mean_firing_rate=sop.mean_firing_rate, energy_mj=sop.energy_mj,
                        firing_rates=sop.firing_rates, train_loss=sum(tail) / len(tail) if tail else None))
    model.eval()
    with torch.no_grad():
        correct = round(evaluate_model(model, batches, device=torch.device(device))["acc"] * len(val_y))
    return dict(models["sop"], models=models, rate_history=history, params=count_parameters(model),
                steps=steps, batch=batch, val_images=len(val_y), val_acc=correct / len(val_y),
                first_loss=losses[0] if losses else None, last_loss=sum(tail) / len(tail) if tail else None,
                train_s=train_s)


def energy_by_kind(report) -> dict[str, float]:
    """mJ per image summed over the model's parts: sps, mixers, mlps, head (and what else a model prices)."""
    out: dict[str, float] = {}
    for part, totals in report.by_part.items():
        pieces = part.split(".")
        if pieces[0] == "blocks":
            kind = pieces[2] + "s" if len(pieces) == 3 else "residuals"
        else:
            kind = pieces[0]
        out[kind] = out.get(kind, 0.0) + totals["energy_mj"]
    return out


def rate_one_energy(cfg) -> dict:
    """Energy at firing rate 1 under every energy model; the top-level keys are the `sop` figures."""
    from fwformer.data import dataset_info
    from fwformer.engine import input_kind_of
    from fwformer.model import build_model, count_parameters

    input_kind = input_kind_of(dataset_info(cfg.data).event)
    model = build_model(cfg)
    models = energy_under_every_model(model, None, cfg, input_kind=input_kind)
    return dict(models["sop"], models=models, params=count_parameters(model))


# --------------------------------------------------------------------------------------- driver


@dataclass
class Options:
    device: str
    repeats: Optional[int]  # None: the geometry's default for the device
    clock: str
    threads: int
    min_time: float
    warmup: int
    amp: bool
    memory: bool
    energy: bool
    isolated: bool
    batch: Optional[int]
    energy_steps: Optional[int]
    quick: bool
    speed: bool = True  # the whole-model timing stage; off with --energy-only
    energy_checkpoints: tuple[int, ...] = ()  # training steps at which firing rates are also measured


def available_mixers(names: list[str], grid: tuple[int, int], notes: list[str]) -> list[str]:
    from fwformer.mixers import check_mixer

    out = []
    for name in names:
        try:
            check_mixer(name, grid)
        except ConfigError as err:
            notes.append(f"mixer '{name}' skipped: {err}")
            continue
        out.append(name)
    return out


def bench_geometry(geometry: Geometry, mixers: list[str], opts: Options, log: Callable[[str], None],
                   save: Callable[[dict], None] = lambda result: None) -> dict:
    """Every figure of one geometry; `save(result)` is called after each stage (partial results survive)."""
    import torch

    device_type = "cuda" if opts.device.startswith("cuda") else "cpu"
    batch = opts.batch or geometry.batch[device_type]
    repeats = opts.repeats or geometry.repeats[device_type]
    notes: list[str] = []
    base_cfg = geometry_config(geometry, BASELINE)
    mixers = available_mixers(mixers, base_cfg.grid, notes)
    for note in notes:
        log(f"  note: {note}")
    result: dict[str, Any] = dict(
        geometry=geometry.name, description=geometry.description, device=opts.device, batch=batch,
        amp=opts.amp, repeats=repeats, clock=opts.clock, threads=opts.threads,
        config=dict(T=base_cfg.T, embed_dim=base_cfg.embed_dim, depth=base_cfg.depth, num_heads=base_cfg.num_heads,
                    img_size=base_cfg.img_size, in_channels=base_cfg.in_channels, grid=list(base_cfg.grid),
                    mlp_ratio=base_cfg.mlp_ratio),
        mixers={m: {} for m in mixers}, notes=notes,
    )
    rows = result["mixers"]

    # Whole model: training and inference throughput, interleaved (skipped by --energy-only).
    subjects: dict[str, Subject] = {}
    if opts.speed:
        log(f"  whole model, batch {batch}: building {len(mixers)} models")
        subjects = {m: Subject(geometry, m, batch, opts.device, opts.amp) for m in mixers}
        for m, s in subjects.items():
            rows[m]["params"] = s.params
        times = interleaved(subjects, ("train", "infer"), repeats, opts.device, opts.min_time, opts.warmup, log)
        for m in mixers:
            for kind in ("train", "infer"):
                for clock in ("wall", "cpu"):
                    # Headline keys use the chosen clock; the other clock's figures sit beside them.
                    sfx = "" if clock == opts.clock else f"_{clock}"
                    per_call = times[m][kind][clock]
                    rows[m][f"{kind}_ips{sfx}"] = batch / median(per_call)
                    rows[m][f"{kind}_ips_rounds{sfx}"] = [batch / t for t in per_call]
                    rows[m][f"{kind}_vs_ssa{sfx}"], rows[m][f"{kind}_vs_ssa_iqr{sfx}"] = paired_ratio(
                        times, m, BASELINE, kind, clock)
                    rows[m][f"{kind}_vs_identity{sfx}"], _ = paired_ratio(times, m, BOUND, kind, clock)
        save(result)

    # Peak training memory.
    if opts.memory:
        log("  memory")
        for m in mixers:
            if device_type == "cuda":
                rows[m]["memory"] = cuda_memory(subjects[m])
            elif os.path.exists("/proc/self/clear_refs"):
                rows[m]["memory"] = cpu_memory(geometry, m, batch, opts.threads)
            else:
                rows[m]["memory"] = dict(error="needs Linux /proc/self/clear_refs")
            mem = rows[m]["memory"]
            log(f"    {m}: " + (f"{mem['memory_mb']:.1f} MB" if "memory_mb" in mem else mem["error"]))
        save(result)
    del subjects
    gc.collect()
    if device_type == "cuda":
        torch.cuda.empty_cache()

    # The mixer alone.
    if opts.isolated:
        log(f"  mixer in isolation on [T={base_cfg.T}, B={batch}, N={base_cfg.grid[0] * base_cfg.grid[1]}, "
            f"D={base_cfg.embed_dim}] spikes")
        alone = {m: IsolatedMixer(base_cfg, m, batch, opts.device, opts.amp) for m in mixers}
        iso = interleaved(alone, ("train", "infer"), repeats, opts.device, opts.min_time, opts.warmup, log)
        for m in mixers:
            rows[m]["isolated"] = dict(shape=alone[m].shape)
            for clock in ("wall", "cpu"):
                sfx = "" if clock == opts.clock else f"_{clock}"
                rows[m]["isolated"].update({
                    f"train_ms{sfx}": 1e3 * median(iso[m]["train"][clock]),
                    f"infer_ms{sfx}": 1e3 * median(iso[m]["infer"][clock]),
                    f"train_vs_ssa{sfx}": paired_ratio(iso, m, BASELINE, "train", clock)[0],
                    f"infer_vs_ssa{sfx}": paired_ratio(iso, m, BASELINE, "infer", clock)[0],
                })
        del alone
        save(result)

    # Energy.
    if opts.energy:
        log("  energy at firing rate 1, every energy model")
        for m in mixers:
            rows[m]["energy_rate1"] = rate_one_energy(geometry_config(geometry, m))
            rows[m].setdefault("params", rows[m]["energy_rate1"]["params"])
            log(f"    {m}: " + ", ".join(f"{k} {v['energy_mj']:.4f} mJ" if "energy_mj" in v else f"{k} -"
                                      for k, v in rows[m]["energy_rate1"]["models"].items()))
        save(result)
        if not is_cifar_shaped(base_cfg):
            notes.append("energy at measured firing rates skipped: the geometry's input is not CIFAR-shaped "
                         "(32x32x3); only the firing-rate-1 bound is reported")
        elif opts.energy_steps == 0:
            notes.append("energy at measured firing rates skipped (--energy-steps 0): firing rate 1 only")
        elif not CIFAR_SUBSET.is_file():
            notes.append(f"energy at measured firing rates skipped: {CIFAR_SUBSET} is absent")
            log(f"  note: {notes[-1]}")
        else:
            steps = opts.energy_steps if opts.energy_steps is not None else geometry.energy_steps[device_type]
            ebatch = geometry.energy_batch[device_type]
            val = 128 if device_type == "cpu" else 1000
            data = load_cifar_subset(opts.device, val)
            log(f"  energy at measured firing rates: {steps} training steps of {ebatch} CIFAR-10 images, "
                f"rates on {val} held-out images")
            for m in mixers:
                log(f"    {m}: training {steps} steps")
                try:
                    rows[m]["energy"] = short_train_energy(geometry_config(geometry, m), data, steps=steps,
                                                           batch=ebatch, eval_batch=32, device=opts.device,
                                                           checkpoints=tuple(opts.energy_checkpoints), log=log)
                    rows[m].setdefault("params", rows[m]["energy"]["params"])
                except Exception as err:  # noqa: BLE001 - one mixer's failure must not lose the others' figures
                    notes.append(f"energy of '{m}' failed: {type(err).__name__}: {err}")
                    log(f"    {m}: {notes[-1]}")
                    continue
                e = rows[m]["energy"]
                if e["mean_firing_rate"] < 0.01:
                    # BN running statistics still near their initial values after too few steps: the
                    # blocks are silent and only the first convolution (MACs on pixels) costs energy.
                    notes.append(f"'{m}' is nearly silent after {steps} training steps (mean firing rate "
                                 f"{e['mean_firing_rate']:.4f}); its measured-rate energy is not meaningful; "
                                 f"raise --energy-steps")
                log(f"    {m}: {e['energy_mj']:.4f} mJ, mean rate {e['mean_firing_rate']:.3f}, "
                    f"loss {e['first_loss']:.2f}->{e['last_loss']:.2f}, val acc {e['val_acc']:.2f}; "
                    + ", ".join(f"{k} {v['energy_mj']:.4f} mJ" if "energy_mj" in v else f"{k} -"
                                for k, v in e["models"].items()))
                save(result)
    add_ratios(rows)
    result["goals"] = judge_goals(result) if geometry.name == "spikformer-4-384" else None
    return result


def _get(row: dict, path: str) -> Optional[float]:
    value: Any = row
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def add_ratios(rows: dict[str, dict]) -> None:
    """Memory and energy as ratios to SSA (lower is better); speed ratios are already paired.

    `energy_vs_ssa` and `energy_rate1_vs_ssa` are the `sop` model's; `energy_vs_ssa_by_model` and
    `energy_rate1_vs_ssa_by_model` hold every energy model's (None where a model cannot price one of the two).
    """
    ref = rows.get(BASELINE, {})
    for row in rows.values():
        for key, path in (("memory_vs_ssa", "memory.memory_mb"), ("energy_vs_ssa", "energy.energy_mj"),
                          ("energy_rate1_vs_ssa", "energy_rate1.energy_mj")):
            a, b = _get(row, path), _get(ref, path)
            row[key] = a / b if a is not None and b else None
        for key, section in (("energy_vs_ssa_by_model", "energy"), ("energy_rate1_vs_ssa_by_model", "energy_rate1")):
            models = _get(row, f"{section}.models") or {}
            ratios = {}
            for name in models:
                a, b = _get(row, f"{section}.models.{name}.energy_mj"), _get(ref, f"{section}.models.{name}.energy_mj")
                ratios[name] = a / b if a is not None and b else None
            if ratios:
                row[key] = ratios


def judge_goals(result: dict) -> dict:
    """The issue's goals for the best fixed-basis mixer (by training throughput)."""
    rows = result["mixers"]
    candidates = [m for m in FIXED_BASIS if m in rows]
    if not candidates or BASELINE not in rows:
        return dict(note="no fixed-basis mixer or no SSA measured")
    verdict: dict[str, Any] = {"device": result["device"]}
    for goal, key, want, higher in (
        ("train_vs_ssa", "train_vs_ssa", GOALS["train_vs_ssa"], True),
        ("infer_vs_ssa", "infer_vs_ssa", GOALS["infer_vs_ssa"], True),
        ("train_vs_identity", "train_vs_identity", GOALS["vs_identity"], True),
        ("infer_vs_identity", "infer_vs_identity", GOALS["vs_identity"], True),
        ("energy_vs_ssa", "energy_vs_ssa", GOALS["energy_vs_ssa"], False),
        ("energy_rate1_vs_ssa", "energy_rate1_vs_ssa", GOALS["energy_vs_ssa"], False),
    ):
        values = {m: rows[m].get(key) for m in candidates if rows[m].get(key) is not None}
        if not values:
            verdict[goal] = dict(target=want, best=None, met=None)
            continue
        best = max(values, key=values.get) if higher else min(values, key=values.get)
        verdict[goal] = dict(target=want, best=best, value=values[best],
                             met=values[best] >= want if higher else values[best] <= want,
                             per_mixer=values)
    return verdict


# --------------------------------------------------------------------------------------- output


def table(result: dict) -> str:
    rows = result["mixers"]
    lines = [f"== {result['geometry']} ({result['description']}), device {result['device']}, batch {result['batch']}, "
             f"{result['threads']} threads, {result['clock']} clock, medians of {result['repeats']} interleaved rounds =="]
    head = (f"{'mixer':<16}{'params':>8} {'train img/s':>11} {'xSSA':>5} {'/id':>5} {'infer img/s':>11} {'xSSA':>5} "
            f"{'/id':>5} {'mem MB':>8} {'xSSA':>5} {'mJ':>7} {'xSSA':>5} {'mJ@1':>7} {'xSSA':>5} "
            f"{'mix f+b ms':>10} {'xSSA':>6}")
    lines += [head, "-" * len(head)]
    for m, r in rows.items():
        iso = r.get("isolated", {})
        lines.append(
            f"{m:<16}{fmt(r.get('params', 0) / 1e6, '.2f') + 'M':>8} {fmt(r.get('train_ips'), '.1f'):>11} "
            f"{fmt(r.get('train_vs_ssa'), '.2f'):>5} {fmt(r.get('train_vs_identity'), '.2f'):>5} "
            f"{fmt(r.get('infer_ips'), '.1f'):>11} {fmt(r.get('infer_vs_ssa'), '.2f'):>5} "
            f"{fmt(r.get('infer_vs_identity'), '.2f'):>5} {fmt(_get(r, 'memory.memory_mb'), '.1f'):>8} "
            f"{fmt(r.get('memory_vs_ssa'), '.2f'):>5} {fmt(_get(r, 'energy.energy_mj'), '.4f'):>7} "
            f"{fmt(r.get('energy_vs_ssa'), '.2f'):>5} {fmt(_get(r, 'energy_rate1.energy_mj'), '.4f'):>7} "
            f"{fmt(r.get('energy_rate1_vs_ssa'), '.2f'):>5} {fmt(iso.get('train_ms'), '.2f'):>10} "
            f"{fmt(iso.get('train_vs_ssa'), '.2f'):>6}"
        )
    lines.append("xSSA: speed ratio (higher = faster) or memory/energy ratio (lower = less); /id: fraction of the "
                 "identity bound; mJ: measured firing rates after short training; mJ@1: firing rate 1; "
                 "mix f+b: the mixer alone, forward + backward")
    lines.append("FWformer claims vs SSA: train x1.09-1.51, infer x1.19-1.70, memory x0.74-0.96, energy x0.75-0.80")
    models = next((list(_get(r, "energy_rate1.models")) for r in rows.values() if _get(r, "energy_rate1.models")), [])
    if models:
        lines.append("energy by model, mJ per image (xSSA), measured rates | firing rate 1:")
        for m, r in rows.items():
            cells = []
            for section in ("energy", "energy_rate1"):
                ratios = f"{section}_vs_ssa_by_model"
                for name in models:
                    e = _get(r, f"{section}.models.{name}.energy_mj")
                    x = (r.get(ratios) or {}).get(name)
                    cells.append(f"{name} {fmt(e, '.4f')} ({fmt(x, '.2f')})")
            lines.append(f"  {m:<22} " + "  ".join(cells))
        lines.append(f"  FWformer published (CIFAR-10, its sop convention): 2D-FFT / SSA = 0.393 / 0.523 mJ = "
                     f"{PUBLISHED_FFT2D_VS_SSA:.2f}")
    for note in result["notes"]:
        lines.append(f"note: {note}")
    goals = result.get("goals")
    if goals and "note" not in goals:
        lines.append("goals (best fixed-basis mixer):")
        for key, g in goals.items():
            if key == "device" or g.get("best") is None:
                continue
            lines.append(f"  {key:<20} target {g['target']:.2f}  best {g['best']} {g['value']:.2f}  "
                         f"{'MET' if g['met'] else 'MISSED'}")
    return "\n".join(lines)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.mixers", description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default=None, help="cpu or cuda[:N] (default: cuda when available, else cpu)")
    p.add_argument("--geometry", nargs="+", default=None, metavar="NAME",
                   help=f"geometries to run (default: all; --quick: small): {', '.join(GEOMETRIES)}")
    p.add_argument("--mixers", nargs="+", default=None, metavar="NAME", help=f"default: {' '.join(MIXERS)}")
    p.add_argument("--json", default=None, metavar="FILE", help="write every figure and the machine info here")
    p.add_argument("--repeats", type=int, default=None,
                   help="interleaved rounds (default per geometry: CPU small 15, spikformer-4-384 9, "
                        "spikformer-2-256 9; CUDA 20; --quick 5)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="clock of the headline speed figures: wall time, or this process's CPU time (robust on a "
                        "shared CPU; use with --threads 1); both are recorded in the JSON")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: usable cores)")
    p.add_argument("--batch", type=int, default=None, help="override every geometry's batch size")
    p.add_argument("--min-time", type=float, default=None,
                   help="seconds each timed measurement lasts at least (default 0.1)")
    p.add_argument("--warmup", type=int, default=1,
                   help="untimed calls per model before the rounds (plus the one that sizes a measurement)")
    p.add_argument("--energy-steps", type=int, default=None,
                   help="training steps before measuring firing rates (0: firing rate 1 only)")
    p.add_argument("--energy-checkpoints", type=int, nargs="+", default=(), metavar="STEP",
                   help="training steps at which the firing rates are also measured (how far they have settled)")
    p.add_argument("--energy-only", action="store_true",
                   help="only the energy figures (no speed, memory or isolated-mixer timing); any subset of mixers")
    p.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA (as training uses)")
    p.add_argument("--no-memory", action="store_true")
    p.add_argument("--no-energy", action="store_true")
    p.add_argument("--no-isolated", action="store_true")
    p.add_argument("--quick", action="store_true", help="small geometry, 5 rounds")
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


@exit_on_user_error
def main(argv: Optional[list[str]] = None) -> dict:
    args = parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(json.loads(args.memory_child))))
        return {}
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device} needs CUDA, but torch {torch.__version__} sees no GPU; use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise ConfigError(f"--device must be cpu or cuda[:N], but got '{device}'")
    if args.clock == "cpu" and device.startswith("cuda"):
        raise ConfigError("--clock cpu measures this process's CPU time, which says nothing about GPU work; "
                          "use --clock wall with --device cuda")
    geometries = args.geometry or (["small"] if args.quick else list(GEOMETRIES))
    for name in geometries:
        if name not in GEOMETRIES:
            raise ConfigError(f"unknown geometry '{name}'{closest(name, GEOMETRIES)}; expected one of: "
                              f"{', '.join(GEOMETRIES)}")
    mixers = args.mixers or MIXERS
    # The ratios need SSA and identity in the same run; an energy-only run may measure any subset
    # (e.g. one long training per process), its ratios then taken from another run.
    if not args.energy_only and (BASELINE not in mixers or BOUND not in mixers):
        raise ConfigError(f"--mixers must include '{BASELINE}' and '{BOUND}' (the ratios' references), "
                          f"but got: {' '.join(mixers)}")
    if args.energy_steps is not None and args.energy_steps < 0:
        raise ConfigError(f"--energy-steps must be >= 0 (0: firing rate 1 only), but got {args.energy_steps}")
    for flag, value in (("--repeats", args.repeats), ("--threads", args.threads), ("--batch", args.batch),
                        ("--energy-checkpoints", min(args.energy_checkpoints, default=None))):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} must be >= 1, but got {value}")
    threads = args.threads or usable_cores()
    torch.set_num_threads(threads)
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True
    opts = Options(
        device=device, repeats=args.repeats or (5 if args.quick else None), clock=args.clock, threads=threads,
        min_time=args.min_time if args.min_time is not None else 0.1,
        warmup=args.warmup, amp=args.amp, memory=not (args.no_memory or args.energy_only),
        energy=not args.no_energy, isolated=not (args.no_isolated or args.energy_only), batch=args.batch,
        energy_steps=args.energy_steps,
        quick=args.quick, speed=not args.energy_only, energy_checkpoints=tuple(args.energy_checkpoints),
    )

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    payload: dict[str, Any] = dict(
        benchmark="mixers", command="python -m benchmarks.mixers " + " ".join(sys.argv[1:] if argv is None else argv),
        machine=machine_info(device), options=vars(opts), claims=CLAIMS, goals=GOALS, geometries={},
    )
    for name in geometries:
        log(f"geometry {name}")
        start = time.perf_counter()
        def save(partial: dict, name: str = name) -> None:
            payload["geometries"][name] = partial
            if args.json:
                write_json(args.json, payload)

        result = bench_geometry(GEOMETRIES[name], list(mixers), opts, log, save)
        result["wall_s"] = time.perf_counter() - start
        payload["geometries"][name] = result
        print(table(result), flush=True)
        print(flush=True)
        if args.json:  # written after every geometry so a long run keeps what it measured
            write_json(args.json, payload)
    payload["machine"]["load_average_end"] = list(os.getloadavg())
    if args.json:
        log(f"wrote {write_json(args.json, payload)}")
    return payload


if __name__ == "__main__":
    main()
