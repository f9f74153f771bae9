"""`measure_energy`: one model's energy per image at inference, under a chosen energy model."""
from __future__ import annotations

import math
from itertools import islice
from typing import Any, Iterable, Optional

import torch
from torch import nn

from fwformer.cli import ConfigError
from fwformer.energy.models import ENERGY_MODELS, sop_layers
from fwformer.energy.products import listening
from fwformer.energy.report import MIXER_PART, PJ_TO_MJ, EnergyReport
from fwformer.energy.sop import PRICED, SopMeter, random_spikes
from fwformer.energy.static_input import RunOnce
from fwformer.layers import is_neuron

INPUT_KINDS = ("static", "frames")


def check_energy_options(energy_model: str, *, e_mac_pj: float = 4.6, e_ac_pj: float = 0.9,
                         e_memory_pj_per_byte: float = 24.96, prefix: str = "energy.") -> None:
    """A one-line ConfigError for an unknown model name or a cost that is negative or not finite."""
    if energy_model not in ENERGY_MODELS:
        raise ConfigError(f"unknown {prefix}model '{energy_model}'; expected one of: {', '.join(ENERGY_MODELS)}")
    for key, value in (("e_mac_pj", e_mac_pj), ("e_ac_pj", e_ac_pj), ("e_memory_pj_per_byte", e_memory_pj_per_byte)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ConfigError(f"{prefix}{key} must be a finite number >= 0, but got {value}")


def _check_input_kind(input_kind: str) -> None:
    if input_kind not in INPUT_KINDS:
        raise ValueError(f"input_kind must be one of {', '.join(INPUT_KINDS)} (static: an image the model repeats "
                         f"over T; frames: T event frames), but got {input_kind!r}")


def _split_batch(item: Any) -> tuple[torch.Tensor, int]:
    """The input tensor and its batch size: (x, y) pairs count len(y); `[T, B, ...]` frames B."""
    if isinstance(item, (tuple, list)):
        x = item[0]
        if len(item) > 1 and torch.is_tensor(item[1]) and item[1].dim() >= 1:
            return x, item[1].shape[0]
    else:
        x = item
    return x, x.shape[1] if x.dim() == 5 else x.shape[0]


def _rate_one_input(model: nn.Module, input_kind: str, generator: torch.Generator) -> torch.Tensor:
    cfg = getattr(model, "cfg", None)
    if cfg is None or None in (getattr(cfg, "in_channels", None), getattr(cfg, "img_size", None)):
        raise ValueError("measure_energy(batches=None) needs model.cfg with in_channels and img_size; "
                         "pass batches of inputs instead")
    shape = (1, cfg.in_channels, cfg.img_size, cfg.img_size)
    if input_kind == "frames":
        return (torch.rand((cfg.T, *shape), generator=generator) < 0.5).float()  # [T, 1, C, H, W] events
    # Uniform in [0.05, 0.95): never an integer, so the first layer is recognised as real-valued.
    return 0.05 + 0.9 * torch.rand(shape, generator=generator)


class _InferenceMode:
    """Eval mode under no_grad for the measurement; every module's mode restored afterwards."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.modes = {m: m.training for m in model.modules()}

    def __enter__(self):
        self.model.eval()
        self.no_grad = torch.no_grad()
        self.no_grad.__enter__()

    def __exit__(self, *exc):
        self.no_grad.__exit__(*exc)
        for module, training in self.modes.items():
            module.training = training


def measure_energy(model: nn.Module, batches: Optional[Iterable[Any]] = None, *, input_kind: str,
                   energy_model: str = "sop", e_mac_pj: float = 4.6, e_ac_pj: float = 0.9,
                   e_memory_pj_per_byte: float = 24.96, max_batches: Optional[int] = None) -> EnergyReport:
    """Energy per image of `model` at inference under `energy_model`, on `batches` or at firing rate 1.

    input_kind: what the caller feeds the model, which the meter cannot know from values alone:
        `static`, an image `[B, C, H, W]` that the model repeats over its T steps (direct encoding;
        the layers fed the copies run once), or `frames`, `[T, B, C, H, W]` event frames (nothing
        repeated; spike counts priced as synaptic operations at their measured rate).
    batches: input tensors or `(x, y)` pairs; rates are averaged over all of them, weighted by
        elements. None: every neuron fires at every step (firing rate 1) on one synthetic input of
        `model.cfg`'s shape.
    Runs in eval mode under `no_grad`, then restores every module's mode and removes its hooks,
    also on error. Costs: `e_mac_pj`, `e_ac_pj` (sop, simple), `e_memory_pj_per_byte` (simple).
    """
    _check_input_kind(input_kind)
    check_energy_options(energy_model, e_mac_pj=e_mac_pj, e_ac_pj=e_ac_pj, e_memory_pj_per_byte=e_memory_pj_per_byte,
                         prefix="energy ")
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"max_batches must be >= 1 or None, but got max_batches={max_batches}")
    if energy_model == "lemaire":
        from fwformer.energy.spikingjelly_models import check_lemaire

        check_lemaire(model, [])  # layers it cannot price, before any forward pass
    names = {module: name for name, module in model.named_modules()}
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    rate_one = batches is None
    generator = torch.Generator().manual_seed(0)
    items = [(_rate_one_input(model, input_kind, generator), 1)] if rate_one else \
        [_split_batch(item) for item in islice(batches, max_batches)]
    if not items:
        raise ValueError("measure_energy got no batches to measure")
    inputs = [x.to(device) for x, _ in items]
    images = sum(int(b) for _, b in items)
    layers_to_watch = {m: n for m, n in names.items() if isinstance(m, PRICED)}

    with _InferenceMode(model):
        sop, run_once = _sop_pass(model, inputs, names, layers_to_watch, input_kind, rate_one, generator)
        rows = sop.rows(rate_one)
        spike_flops = sum(r.flops for r in rows if r.kind == "AC")
        common = dict(
            rate_one=rate_one, images=images, input_kind=input_kind,
            flops=sum(r.flops for r in rows) / images,
            mean_firing_rate=sum(r.acs for r in rows if r.kind == "AC") / spike_flops if spike_flops else 0.0,
            firing_rates={r.name: r.firing_rate for r in rows if r.kind == "AC"},
            repeated_layers=sorted(run_once.found),
            mixer_parts=[name for name in names.values() if MIXER_PART.fullmatch(name)],
        )
        if energy_model == "sop":
            layers = sop_layers(rows, images, e_mac_pj, e_ac_pj)
            macs, acs = sum(r.macs for r in layers), sum(r.acs for r in layers)
            return EnergyReport(
                energy_model="sop", energy_mj=(e_mac_pj * macs + e_ac_pj * acs) * PJ_TO_MJ, macs=macs, acs=acs,
                layers=layers, costs=dict(e_mac_pj=e_mac_pj, e_ac_pj=e_ac_pj),
                breakdown_mj=dict(mac=e_mac_pj * macs * PJ_TO_MJ, ac=e_ac_pj * acs * PJ_TO_MJ),
                counts=dict(macs=macs, acs=acs), **common,
            )
        known = RunOnce(layers_to_watch, known=dict(run_once.found))
        if energy_model == "simple":
            from fwformer.energy.spikingjelly_models import price_simple

            priced = price_simple(model, inputs, images, known, rate_one, e_mac_pj=e_mac_pj, e_ac_pj=e_ac_pj,
                                  e_memory_pj_per_byte=e_memory_pj_per_byte)
        else:
            from fwformer.energy.spikingjelly_models import check_lemaire, price_lemaire

            check_lemaire(model, list(dict.fromkeys(r.name for r in rows if r.op == "product" and r.flops)))
            priced = price_lemaire(model, inputs, images, known, rate_one, input_kind=input_kind)
    priced.pop("warnings", None)
    return EnergyReport(energy_model=energy_model, **priced, **common)


def check_priceable(model: nn.Module, energy_model: str, *, input_kind: str) -> None:
    """A ConfigError now, before training, when `energy_model` cannot price a layer of `model`.

    Only `lemaire` can refuse (products of activations, modules outside its formulas); it is
    found on one synthetic input at firing rate 1 (needs `model.cfg`), a fraction of one step.
    """
    check_energy_options(energy_model, prefix="energy.")
    if energy_model != "lemaire":
        return
    from fwformer.energy.spikingjelly_models import check_lemaire

    check_lemaire(model, [])
    report = measure_energy(model, None, input_kind=input_kind, energy_model="sop")
    check_lemaire(model, list(dict.fromkeys(r.name for r in report.layers if r.op == "product" and r.flops)))


def _sop_pass(model, inputs, names, layers_to_watch, input_kind, rate_one, generator):
    from fwformer.layers import fresh_state, reset_state

    meter = SopMeter(names)
    run_once = RunOnce(layers_to_watch)
    handles = []
    try:
        with run_once.pre_hooks():
            handles += [m.register_forward_hook(meter.hook) for m in layers_to_watch]
            if rate_one:
                handles += [m.register_forward_hook(random_spikes(generator)) for m in model.modules() if is_neuron(m)]
            with run_once.post_hooks(), listening(meter), fresh_state(model):
                for x in inputs:
                    run_once.image = x.detach() if input_kind == "static" else None
                    model(x)
                    reset_state(model)
    finally:
        for handle in handles:
            handle.remove()
    return meter, run_once
