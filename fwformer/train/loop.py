"""Train one architecture: the loop that the command line and the search both call.

    result = train(cfg, out_dir="runs/d", report=callback)      # from Python (the search)
    python -m fwformer.train --config tiny data=digits --out runs/d  # from the shell (`command.py`)

AdamW (weight decay on weights only), linear warm-up then cosine to `min_lr` and optional cooldown
epochs at `min_lr` (per step, or per epoch as timm's), label smoothing, optional mixup/cutmix (off
from `mixup_off_epoch`) and random erasing after it, gradient clipping, bf16 autocast on CUDA,
neuron state reset after every batch (the Spikformer recipe, `docs/guides/reproducing.md`).
Seeded; deterministic on the CPU.
After every epoch: validation accuracy, a checkpoint (model, optimizer, epoch, RNG states,
resolved config) when there is an `out_dir`, and `report(metrics)`, which may stop training
by returning True. At the end: the energy meter on validation batches, inference latency,
parameters. `train()` never logs to MLflow; the command line does when a tracking URI is configured.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F

from fwformer.cli import ConfigError
from fwformer.config import EXECUTION_KEYS, Config, check_train_config, resolve_device
from fwformer.layers import reset_state
from fwformer.train.engine import (autocast, evaluate_model, first_batches, inference_latency_ms, input_kind_of,
                                   measure, peak_memory_mb, seed_everything, torch_settings)

__all__ = ["NonFiniteLossError", "lr_at", "schedule_of", "train"]

Report = Callable[[dict[str, Any]], Optional[bool]]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite."""


def lr_at(step: int, *, lr: float, min_lr: float, warmup: int, total: int, warmup_lr: Optional[float] = None,
          warmup_prefix: bool = True, steps_per_update: int = 1) -> float:
    """Learning rate at optimizer step `step` (0-based): a pure function of the step.

    The lr changes every `steps_per_update` steps (1: every step; the steps of an epoch: once per
    epoch, as timm's schedulers with `t_in_epochs`); `warmup` and `total` count such updates u.
    - warm-up, u < warmup: linear from `warmup_lr` (timm: warmup_lr + u * (lr - warmup_lr) / warmup),
      or, with warmup_lr None, lr * (u + 1) / warmup (reaching lr on its last update);
    - cosine from lr to min_lr, ending at update `total`: timed from the end of the warm-up
      (warmup_prefix) or from update 0 with the warm-up replacing its first updates (timm's default,
      warmup_prefix=False, so the cosine has already left lr when the warm-up ends);
    - min_lr from update `total` on: the cooldown epochs of timm's schedule.
    """
    u = step // steps_per_update
    if u < warmup:
        if warmup_lr is None:
            return lr * (u + 1) / warmup
        return warmup_lr + u * (lr - warmup_lr) / warmup
    start = warmup if warmup_prefix else 0
    if total <= start:
        return lr
    progress = min(1.0, (u - start) / (total - start))
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def schedule_of(tc: Any, steps_per_epoch: int) -> dict[str, Any]:
    """`lr_at`'s keyword arguments for a TrainConfig, with `steps_per_epoch` optimizer steps per epoch."""
    common = dict(lr=tc.lr, min_lr=tc.min_lr, warmup_lr=tc.warmup_lr, warmup_prefix=tc.warmup_prefix)
    if tc.lr_per_epoch:
        return dict(common, warmup=int(tc.warmup_epochs), total=tc.epochs, steps_per_update=steps_per_epoch)
    return dict(common, warmup=round(tc.warmup_epochs * steps_per_epoch), total=tc.epochs * steps_per_epoch)


def mixing_in_epoch(tc: Any, epoch: int) -> bool:
    """Whether mixup/cutmix run in `epoch` (0-based); off from `mixup_off_epoch` on, as timm's
    `if mixup_off_epoch and epoch >= mixup_off_epoch` in its train_one_epoch."""
    on = tc.mixup > 0 or tc.cutmix > 0
    return on and (tc.mixup_off_epoch is None or epoch < tc.mixup_off_epoch)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices and kernels only; biases and norm scales are left alone (timm, nanoGPT).

    A model with `lr_scale(name)` (a supernet's candidate mixers) gets its scaled parameters in groups
    of their own, whose `lr_scale` multiplies the schedule's learning rate at every step; the groups
    at scale 1 come first, as they always were (a checkpoint's optimizer state loads into them)."""
    scale_of = getattr(model, "lr_scale", None)
    groups: dict[tuple[bool, float], list] = {(True, 1.0): [], (False, 1.0): []}  # (decayed, lr scale)
    for name, p in model.named_parameters():
        if p.requires_grad:
            groups.setdefault((p.dim() >= 2, float(scale_of(name)) if scale_of else 1.0), []).append(p)
    return [{"params": params, "weight_decay": weight_decay if decayed else 0.0,
             **({"lr_scale": scale} if scale != 1.0 else {})}
            for (decayed, scale), params in groups.items() if params or scale == 1.0]


def _config_diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = []
    for key in sorted(set(a) | set(b)):
        name = f"{prefix}{key}"
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            keys += _config_diff(va, vb, name + ".")
        elif va != vb and name not in EXECUTION_KEYS:
            keys.append(f"{name} ({vb!r} in the checkpoint, {va!r} now)")
    return keys


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def train(cfg: Config, *, out_dir: Optional[os.PathLike | str] = None, report: Optional[Report] = None,
          resume: bool = False, progress: bool = True, datasets: Optional[tuple] = None,
          model_factory: Optional[Callable[[Config], torch.nn.Module]] = None) -> dict[str, Any]:
    """Train `cfg` for `train.epochs + train.cooldown_epochs` epochs and return its metrics (module docstring).

    out_dir: where the checkpoint (after every epoch), `config.yaml` and `metrics.json` go; None
        keeps everything in memory. resume: continue from `out_dir/checkpoint.pt` when it exists.
    report: called with each epoch's metrics (epoch, train_loss, train_acc, val_acc, val_loss,
        images_per_s, peak_mem_mb, mean_firing_rate, lr, epoch_time_s); returning True stops.
    datasets: `(train_ds, val_ds, info)` from `build_datasets(cfg)` when the caller built them.
    model_factory: builds the model from `cfg` instead of `build_model` (the search's supernet).
    """
    check_train_config(cfg.train)
    device = resolve_device(cfg.train.device)
    if resume and out_dir is None:
        raise ConfigError("resume=True needs an out_dir holding the checkpoint to resume")
    with torch_settings(cfg.train, device):
        run = _setup(cfg, device, Path(out_dir) if out_dir is not None else None, resume=resume, progress=progress,
                     datasets=datasets, model_factory=model_factory)
        stopped_early = False
        for epoch in range(run.start_epoch, run.epochs):
            metrics = _train_epoch(run, epoch)
            run.history.append(metrics)
            _save_checkpoint(run, epoch)
            if progress:
                _log_epoch(metrics, run.epochs)
            if report is not None and report(dict(metrics)):
                stopped_early = True
                break
        return _finish(run, stopped_early)


@dataclass
class _Run:
    """Everything one training run holds between its setup, its epochs and its finish."""

    cfg: Config
    device: torch.device
    amp: bool
    out: Optional[Path]
    show: bool  # progress bars (on a terminal only)
    train_ds: Any
    val_ds: Any
    info: Any
    train_loader: Any
    val_loader: Any
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    input_kind: str
    steps_per_epoch: int
    schedule: dict[str, Any]
    epochs: int
    erase: Optional[Callable[[torch.Tensor], torch.Tensor]]
    sync_every: int
    start_epoch: int = 0
    history: list = field(default_factory=list)
    train_time: float = 0.0


def _setup(cfg: Config, device: torch.device, out: Optional[Path], *, resume: bool, progress: bool,
           datasets: Optional[tuple], model_factory: Optional[Callable[[Config], torch.nn.Module]]) -> _Run:
    """Data, model, optimizer and schedule; the checkpoint's state when resuming; `config.yaml`."""
    from fwformer.config import config_to_dict, save_config
    from fwformer.data import build_datasets, make_loader, with_data_geometry
    from fwformer.data.augment import build_erasing
    from fwformer.energy import check_priceable
    from fwformer.model import build_model
    from fwformer.train.checkpoint import CHECKPOINT_FILE, CONFIG_FILE, load_checkpoint, set_rng_state

    tc = cfg.train
    cfg = with_data_geometry(cfg)
    train_ds, val_ds, info = datasets if datasets is not None else build_datasets(cfg)
    train_loader = make_loader(train_ds, cfg, train=True, device=device)
    val_loader = make_loader(val_ds, cfg, train=False, device=device)
    seed_everything(tc.seed)
    model = (model_factory or build_model)(cfg).to(device)
    reset_state(model)  # a model handed over by a factory starts from rest too
    input_kind = input_kind_of(info.event)  # what the energy meter is fed: static images or event frames
    check_priceable(model, cfg.energy.model, input_kind=input_kind)  # before training, not after
    steps_per_epoch = min(len(train_loader), tc.max_steps_per_epoch or len(train_loader))
    run = _Run(
        cfg=cfg, device=device, amp=tc.amp and device.type == "cuda", out=out, show=progress and sys.stderr.isatty(),
        train_ds=train_ds, val_ds=val_ds, info=info, train_loader=train_loader, val_loader=val_loader, model=model,
        optimizer=torch.optim.AdamW(param_groups(model, tc.weight_decay), lr=tc.lr, betas=(0.9, 0.999)),
        input_kind=input_kind, steps_per_epoch=steps_per_epoch, schedule=schedule_of(tc, steps_per_epoch),
        epochs=tc.epochs + tc.cooldown_epochs,  # timm's convention: the cooldown comes after `epochs`
        erase=build_erasing(cfg.data),
        # On the GPU, reading the loss every step would stall the pipeline; the CPU loses nothing.
        sync_every=1 if device.type == "cpu" else 20,
    )
    if resume and (out / CHECKPOINT_FILE).is_file():
        state = load_checkpoint(out, map_location=device)
        changed = _config_diff(config_to_dict(cfg), state["config"])
        if changed:
            raise ConfigError(f"cannot resume '{out}': the config differs from the checkpoint's in {', '.join(changed)}")
        model.load_state_dict(state["model"])
        run.optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        run.start_epoch, run.history, run.train_time = (int(state["epoch"]), list(state["history"]),
                                                        float(state["train_time_s"]))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / CONFIG_FILE)
    return run


def _train_epoch(run: _Run, epoch: int) -> dict[str, Any]:
    """One epoch of optimizer steps, then validation: the epoch's metrics."""
    from tqdm import tqdm

    from fwformer.data.augment import mix_batch

    cfg, tc, model, device = run.cfg, run.cfg.train, run.model, run.device
    model.train()
    mixing = mixing_in_epoch(tc, epoch)
    run.train_loader.set_epoch(epoch)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    own_loss = getattr(model, "training_loss", None)

    def criterion(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), target, label_smoothing=tc.label_smoothing)

    bar = tqdm(total=run.steps_per_epoch, desc=f"epoch {epoch + 1}/{run.epochs}", disable=not run.show, leave=False,
               dynamic_ncols=True)
    start = time.perf_counter()
    for step, (x, y) in enumerate(islice(iter(run.train_loader), run.steps_per_epoch)):
        lr = lr_at(epoch * run.steps_per_epoch + step, **run.schedule)
        for group in run.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        if mixing:
            x, target = mix_batch(x, y, cfg.num_classes, mixup=tc.mixup, cutmix=tc.cutmix)
        else:
            target = y
        if run.erase is not None:  # after normalisation and mixing, as timm's loader does
            x = run.erase(x)
        with autocast(device, run.amp):
            logits = model(x)  # [B, classes]; x is [B, C, H, W] or [T, B, C, H, W]
            # A model may form its own loss from the labels' (a supernet's in-place distillation).
            loss = own_loss(x, logits, target, criterion) if own_loss else criterion(logits, target)
        loss.backward()
        if tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        run.optimizer.step()
        run.optimizer.zero_grad(set_to_none=True)
        reset_state(model)  # no membrane state survives into the next batch

        loss_sum += loss.detach() * y.shape[0]
        correct += (logits.detach().argmax(dim=1) == y).sum()
        seen += y.shape[0]
        if (step + 1) % run.sync_every == 0 or step + 1 == run.steps_per_epoch:
            value = loss.item()
            if not math.isfinite(value):
                bar.close()
                raise NonFiniteLossError(
                    f"training loss is {value} at epoch {epoch + 1}, step {step + 1} (lr {lr:.3g}); "
                    f"lower train.lr, lengthen train.warmup_epochs or set train.grad_clip"
                )
            elapsed = time.perf_counter() - start
            bar.set_postfix(loss=f"{loss_sum.item() / seen:.3f}", acc=f"{correct.item() / seen:.3f}",
                            img_s=f"{seen / max(elapsed, 1e-9):.0f}", refresh=False)
            bar.update((step + 1) - bar.n)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    epoch_time = time.perf_counter() - start
    bar.close()
    run.train_time += epoch_time

    val = evaluate_model(model, run.val_loader, device=device, amp=run.amp)
    first_val = next(iter(run.val_loader))[0]
    return {
        "epoch": epoch + 1,
        "train_loss": loss_sum.item() / seen,
        "train_acc": correct.item() / seen,
        "val_acc": val["acc"],
        "val_loss": val["loss"],
        "images_per_s": seen / epoch_time,
        "peak_mem_mb": peak_memory_mb(device),
        "mean_firing_rate": measure(model, [first_val], cfg, input_kind=run.input_kind,
                                    energy_model="sop").mean_firing_rate,
        "lr": lr,
        "epoch_time_s": epoch_time,
    }


def _save_checkpoint(run: _Run, epoch: int) -> None:
    """Model, optimizer, epoch, RNG states, resolved config and history, after every epoch."""
    if run.out is None:
        return
    from fwformer.config import config_to_dict
    from fwformer.data import normalization_of
    from fwformer.train.checkpoint import CHECKPOINT_FILE, rng_state, save_checkpoint

    save_checkpoint(run.out / CHECKPOINT_FILE, {
        "model": run.model.state_dict(), "optimizer": run.optimizer.state_dict(), "epoch": epoch + 1,
        "rng": rng_state(), "config": config_to_dict(run.cfg), "history": run.history,
        "train_time_s": run.train_time, "normalization": normalization_of(run.train_ds),
    })


def _log_epoch(metrics: dict[str, Any], epochs: int) -> None:
    from tqdm import tqdm

    tqdm.write(f"epoch {metrics['epoch']}/{epochs}  loss {metrics['train_loss']:.4f}  "
               f"train {100 * metrics['train_acc']:.1f}%  val {100 * metrics['val_acc']:.2f}%  "
               f"{metrics['images_per_s']:.0f} img/s  {metrics['epoch_time_s']:.1f}s", file=sys.stderr)


def _finish(run: _Run, stopped_early: bool) -> dict[str, Any]:
    """Energy at the measured rates, latency and the run's summary; `metrics.json` when there is an out_dir."""
    from fwformer.model import count_parameters
    from fwformer.train.checkpoint import METRICS_FILE

    energy_batches = first_batches(run.val_loader, run.cfg.train.energy_batches)
    energy = measure(run.model, energy_batches, run.cfg, input_kind=run.input_kind)
    history = run.history
    last = history[-1]
    images = sum(h["images_per_s"] * h["epoch_time_s"] for h in history)
    best = max(history, key=lambda h: h["val_acc"])
    result = {
        "val_acc": last["val_acc"],
        # timm's script (the Spikformer reference) reports the best epoch's accuracy.
        "best_val_acc": best["val_acc"],
        "best_epoch": best["epoch"],
        "val_loss": last["val_loss"],
        "train_loss": last["train_loss"],
        "train_acc": last["train_acc"],
        "energy_mj": energy.energy_mj,
        "energy_model": energy.energy_model,
        "macs": energy.macs,
        "acs": energy.acs,
        "mean_firing_rate": energy.mean_firing_rate,
        "params": count_parameters(run.model),
        "epochs": len(history),
        "stopped_early": stopped_early,
        "train_time_s": run.train_time,
        "images_per_s": images / run.train_time if run.train_time > 0 else 0.0,
        "latency_ms": inference_latency_ms(run.model, energy_batches[0], device=run.device, amp=run.amp),
        "latency_batch_size": int(energy_batches[0].shape[-4]),
        "peak_mem_mb": max(h["peak_mem_mb"] for h in history),
        "dataset": run.info.name,
        "num_train": len(run.train_ds),
        "num_val": len(run.val_ds),
        "device": str(run.device),
        "history": history,
    }
    if run.out is not None:
        (run.out / METRICS_FILE).write_text(json.dumps(_json_safe(result), indent=2))
    return result
