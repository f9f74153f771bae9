"""Energy models priced by spikingjelly's own profilers (`spikingjelly.activation_based.op_counter`).

We call its public profilers rather than re-implementing them, so a figure under `simple` or
`lemaire` is the one spikingjelly gives for the same model and batch, with one documented change:
a layer fed a static image repeated over T runs once while the profiler watches (the field's
convention, `fwformer.energy.static_input`). What spikingjelly counts differently from the
synaptic-operation convention is listed in the energy guide (`docs/guides/energy.md`).
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from typing import Any, Iterable, Optional

import torch
from torch import nn

from fwformer.cli import ConfigError
from fwformer.energy.report import PJ_TO_MJ, LayerEnergy
from fwformer.energy.sop import PRICED, all_spikes
from fwformer.energy.static_input import RunOnce
from fwformer.layers import is_neuron


def _run(model: nn.Module, inputs: Iterable[torch.Tensor], profiler: Any, run_once: RunOnce, rate_one: bool) -> None:
    """Forward every input under `profiler`; its hooks are registered before the run-once hooks."""
    from fwformer.layers import fresh_state, reset_state

    neurons = [m for m in model.modules() if is_neuron(m)]
    handles = [m.register_forward_hook(all_spikes) for m in neurons] if rate_one else []
    try:
        with run_once.pre_hooks(), profiler, run_once.post_hooks(), fresh_state(model):
            for x in inputs:
                model(x)
                reset_state(model)
    finally:
        for h in handles:
            h.remove()


# ------------------------------------------------------------------------------------------ simple


def _exclusive(totals: dict[str, float]) -> dict[str, float]:
    """Scope totals (each op counted in every enclosing scope) -> what each scope does itself."""
    out = dict(totals)
    for scope, value in totals.items():
        pieces = scope.split(".") if scope else []
        for cut in range(len(pieces) - 1, -1, -1):  # the nearest enclosing scope that was recorded
            parent = ".".join(pieces[:cut])
            if parent in totals:
                out[parent] -= value
                break
    return out


def _relative(scope: str, root: str) -> Optional[str]:
    if scope == root:
        return ""
    return scope[len(root) + 1:] if scope.startswith(root + ".") else None


def price_simple(model: nn.Module, inputs: list[torch.Tensor], images: int, run_once: RunOnce, rate_one: bool,
                 *, e_mac_pj: float, e_ac_pj: float, e_memory_pj_per_byte: float) -> dict[str, Any]:
    """spikingjelly's `SimpleEnergyProfiler` (what `estimate_simple_energy` runs) on every input."""
    from spikingjelly.activation_based.op_counter import (SimpleEnergyConfig, SimpleEnergyCostConfig,
                                                           SimpleEnergyProfiler)

    costs = SimpleEnergyCostConfig(e_mac_pj=e_mac_pj, e_ac_pj=e_ac_pj, e_memory_pj_per_byte=e_memory_pj_per_byte)
    profiler = SimpleEnergyProfiler(config=SimpleEnergyConfig(cost_config=costs))
    profiler.bind_model(model)
    _run(model, inputs, profiler, run_once, rate_one)
    report = profiler.get_report()

    # Per scope: each counter records an op in every scope that encloses it, plus "Global".
    root = type(model).__name__
    metrics: dict[str, dict[str, float]] = {}
    for key, counter in (("macs", profiler.mac_counter), ("acs", profiler.ac_counter)):
        metrics[key] = {}
        for scope, ops in counter.get_counts().items():
            rel = _relative(scope, root)
            if rel is not None:
                metrics[key][rel] = float(sum(ops.values()))
    metrics["memory_bytes"] = {}
    for scope, values in profiler.memory_counter.get_counts().items():
        rel = _relative(scope, root)
        if rel is not None:
            metrics["memory_bytes"][rel] = float(sum(values.values()))
    exclusive = {key: _exclusive(values) for key, values in metrics.items()}
    modules = dict(model.named_modules())
    rows: dict[str, dict[str, float]] = defaultdict(lambda: dict(macs=0.0, acs=0.0, memory_bytes=0.0))
    for key, values in exclusive.items():
        for scope, value in values.items():
            if value:
                rows[scope][key] += value
    order = {name: i for i, name in enumerate(modules) if name}  # model order; the root's own ops last
    layers = []
    for scope, r in sorted(rows.items(), key=lambda kv: order.get(kv[0], len(order))):
        kind = "+".join(k for k, key in (("MAC", "macs"), ("AC", "acs"), ("memory", "memory_bytes")) if r[key])
        if not kind:
            continue
        energy = (e_mac_pj * r["macs"] + e_ac_pj * r["acs"] + e_memory_pj_per_byte * r["memory_bytes"]) * PJ_TO_MJ
        op = type(modules[scope]).__name__ if scope in modules else "?"
        layers.append(LayerEnergy(scope or "model", op, kind, None, None,
                                  r["macs"] / images, r["acs"] / images, energy / images, r["memory_bytes"] / images))
    counts = {k: v / images for k, v in report.counts.items()}
    return dict(
        energy_mj=report.energy_total_pj * PJ_TO_MJ / images, macs=counts["mac"], acs=counts["ac"],
        memory_bytes=counts["memory_access_bytes"], layers=layers, counts=counts,
        breakdown_mj={k.removesuffix("_pj"): v * PJ_TO_MJ / images for k, v in report.breakdown_pj.items()},
        costs=dict(e_mac_pj=e_mac_pj, e_ac_pj=e_ac_pj, e_memory_pj_per_byte=e_memory_pj_per_byte),
        warnings=list(report.warnings),
    )


# ----------------------------------------------------------------------------------------- lemaire

# Modules Lemaire's formulas leave out that cost nothing in the synaptic-operation convention
# either: BatchNorm folds into the preceding layer at inference; pooling, dropout and identity do
# no multiply-accumulate.
LEMAIRE_OMITS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
                 nn.Dropout, nn.Identity)


def lemaire_unpriceable(model: nn.Module) -> list[tuple[str, str]]:
    """(layer, why) for every module whose work Lemaire et al.'s formulas cannot price."""
    from spikingjelly.activation_based.neuron import IFNode, LIFNode

    inside_neurons = {c for m in model.modules() if is_neuron(m) for c in m.modules() if c is not m}
    out = []
    for name, module in model.named_modules():
        if module in inside_neurons or isinstance(module, (*PRICED, IFNode, LIFNode, *LEMAIRE_OMITS)):
            continue
        if is_neuron(module):
            out.append((name, f"a {type(module).__name__} neuron (the formulas cover IF and LIF)"))
        elif not any(module.children()):
            out.append((name, f"a {type(module).__name__} module (the formulas cover Conv, Linear, IF and LIF)"))
        elif any(True for _ in module.parameters(recurse=False)):
            out.append((name, f"{type(module).__name__} uses its own parameters outside any Conv/Linear module"))
    return out


def check_lemaire(model: nn.Module, products: list[str]) -> None:
    """A ConfigError naming the first layer Lemaire's model cannot price, and why."""
    problems = lemaire_unpriceable(model)
    problems += [(name, "a product the mixer reports (an attention map, a basis or a filter bank applied to "
                        "spikes), which no Conv/Linear module performs") for name in products]
    if problems:
        name, why = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"energy.model=lemaire cannot price '{name}': {why}{more}; "
                          f"use energy.model=sop or simple for this architecture")


def single_images(x: torch.Tensor, input_kind: str) -> list[torch.Tensor]:
    """Lemaire sizes its buffers by the tensors of one inference: run one image at a time."""
    if input_kind == "frames":
        return [x[:, i:i + 1] for i in range(x.shape[1])]  # [T, 1, C, H, W]
    return [x[i:i + 1] for i in range(x.shape[0])]  # [1, C, H, W]


def price_lemaire(model: nn.Module, inputs: list[torch.Tensor], images: int, run_once: RunOnce, rate_one: bool,
                  *, input_kind: str) -> dict[str, Any]:
    """spikingjelly's `LemaireEnergyProfiler` (what `estimate_lemaire_energy` runs), one image at a time."""
    from spikingjelly.activation_based.op_counter import (LemaireEnergyConfig, LemaireEnergyCostConfig,
                                                           LemaireEnergyProfiler)

    # strict=False only lets the modules of LEMAIRE_OMITS through: `check_lemaire` has refused the rest.
    profiler = LemaireEnergyProfiler(config=LemaireEnergyConfig(strict=False))
    profiler.bind_model(model)
    singles = [one for x in inputs for one in single_images(x, input_kind)]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Lemaire formulas do not support", category=RuntimeWarning)
        _run(model, singles, profiler, run_once, rate_one)
    report = profiler.get_report()
    costs = LemaireEnergyCostConfig()
    counts = {k: float(v) / images for k, v in report.counts.items()}
    memory = sum(counts[k] for k in ("read_in_bytes", "write_out_bytes", "read_params_bytes",
                                     "read_potential_bytes", "write_potential_bytes"))
    return dict(
        energy_mj=report.total_pj * PJ_TO_MJ / images, macs=counts["mac"], acs=counts["ac"], memory_bytes=memory,
        layers=[], counts=counts,
        breakdown_mj={k.removesuffix("_pj"): v * PJ_TO_MJ / images for k, v in report.breakdown_pj.items()},
        costs=dict(e_add_pj=costs.e_add_pj, e_mul_pj=costs.e_mul_pj),
        warnings=list(report.warnings),
    )
