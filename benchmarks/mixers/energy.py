"""Energy of a mixer's model: at firing rate 1, and at rates measured after a short training."""
from __future__ import annotations

import time
from typing import Callable

from benchmarks.common import CIFAR_SUBSET
from fwformer.cli import ConfigError
from fwformer.layers import fresh_state
from fwformer.train import evaluate_model

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


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
        with fresh_state(model):
            loss = F.cross_entropy(model(train_x[idx]), train_y[idx])
            loss.backward()
        opt.step()
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
    from fwformer.model import build_model, count_parameters
    from fwformer.train import input_kind_of

    input_kind = input_kind_of(dataset_info(cfg.data).event)
    model = build_model(cfg)
    models = energy_under_every_model(model, None, cfg, input_kind=input_kind)
    return dict(models["sop"], models=models, params=count_parameters(model))
