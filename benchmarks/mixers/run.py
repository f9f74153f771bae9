"""One geometry's stages (speed, memory, the mixer alone, energy), then its ratios and goals."""
from __future__ import annotations

import gc
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

from benchmarks.common import CIFAR_SUBSET, median
from benchmarks.mixers.catalogue import BASELINE, BOUND, FIXED_BASIS, GOALS
from benchmarks.mixers.energy import load_cifar_subset, rate_one_energy, short_train_energy
from benchmarks.mixers.memory import cpu_memory, cuda_memory
from benchmarks.mixers.subjects import Geometry, IsolatedMixer, Subject, geometry_config, is_cifar_shaped
from benchmarks.mixers.timing import interleaved, paired_ratio
from fwformer.cli import ConfigError


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
    """The goals (`catalogue.GOALS`) judged for the best fixed-basis mixer (by training throughput)."""
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
