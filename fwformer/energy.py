"""Theoretical inference energy of a spiking network: the field's 45 nm convention.

Every `nn.Conv1d/2d/3d` and `nn.Linear` call, and every product a mixer reports through
`fwformer.energy_ops.record_product` (SSA's q k^T and (q k^T) v, basis products, wavelet
transforms), is priced by the nature of its input:

- FLOPs are the call's multiply-accumulates from shapes: Linear prod(leading dims) x in x out,
  conv output numel x in/groups x kernel area; bias ignored. Tensors are `[T, B, ...]` and
  layers run on all T at once, so FLOPs already include T; everything is reported per image.
- a real-valued input (the image into the first conv, the head's mean over tokens and time,
  a transform's coefficients) costs MACs = FLOPs;
- a spike input, i.e. only non-negative integers (binary spikes, Spikformer's integer-valued
  residual stream, event frames of spike counts), costs synaptic operations priced as ACs:
  SOPs = firing_rate x T x FLOPs-per-step, where the firing rate is the input's mean spike
  count (the fraction of ones for binary spikes).

Energy = E_MAC x MACs + E_AC x ACs with E_MAC = 4.6 pJ and E_AC = 0.9 pJ (45 nm, 32-bit
float), in mJ per image. BatchNorm is folded into the preceding layer and costs nothing;
LIF neurons, pooling, residual additions and means are not counted.

With `batches=None` the network is assumed to fire at rate 1: every spike input is priced
at rate 1. The one forward that finds the layers and the nature of their inputs runs on a
fixed non-integer image of the model's input shape (from `model.cfg`; 0/1 frames when
`cfg.data` names an event dataset), with every spiking neuron's output replaced by a fixed
random 0/1 pattern. A zero image (or a silent untrained network) would not do: every tensor
would be zero, so the image, the head's mean and a transform's coefficients would all pass
for spikes. On measured batches an all-zero input does count as silent spikes (rate 0).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Optional

import torch
from spikingjelly.activation_based.neuron import BaseNode
from torch import nn

from fwformer.energy_ops import listening
from fwformer.engine import reset_state

__all__ = ["EnergyReport", "LayerEnergy", "measure_energy", "part_of"]

_PRICED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)
_PJ_TO_MJ = 1e-9


@dataclass
class LayerEnergy:
    """One priced layer or mixer product, per image."""

    name: str  # module name, or `<mixer module>.<tag>` for a reported product
    op: str  # Linear, Conv2d, ..., or product
    kind: str  # MAC (real-valued input) or AC (spike input)
    flops: float
    firing_rate: Optional[float]  # mean spike count of the input; None for MAC rows
    macs: float
    acs: float
    energy_mj: float

    @property
    def part(self) -> str:
        return part_of(self.name)


@dataclass
class EnergyReport:
    energy_mj: float
    macs: float
    acs: float
    layers: list[LayerEnergy]
    mean_firing_rate: float  # ACs / FLOPs of the spike inputs: the FLOP-weighted mean rate
    rate_one: bool  # True when rates were assumed to be 1 instead of measured
    images: int
    e_mac_pj: float = 4.6
    e_ac_pj: float = 0.9
    mixer_parts: list[str] = field(default_factory=list)  # every `blocks.<i>.mixer`, costly or not

    @property
    def flops(self) -> float:
        return sum(row.flops for row in self.layers)

    @property
    def firing_rates(self) -> dict[str, float]:
        return {row.name: row.firing_rate for row in self.layers if row.firing_rate is not None}

    @property
    def by_part(self) -> dict[str, dict[str, float]]:
        """`sps`, `blocks.<i>.mixer`, `blocks.<i>.mlp`, `head`, ... -> macs, acs, energy_mj."""
        parts: dict[str, dict[str, float]] = {p: dict(macs=0.0, acs=0.0, energy_mj=0.0) for p in self.mixer_parts}
        for row in self.layers:
            totals = parts.setdefault(row.part, dict(macs=0.0, acs=0.0, energy_mj=0.0))
            totals["macs"] += row.macs
            totals["acs"] += row.acs
            totals["energy_mj"] += row.energy_mj
        return dict(sorted(parts.items(), key=lambda kv: _part_order(kv[0])))

    @property
    def by_block(self) -> dict[str, float]:
        """`sps`, `blocks.<i>` (mixer + MLP), `head` -> mJ per image."""
        out: dict[str, float] = {}
        for part, totals in self.by_part.items():
            key = ".".join(part.split(".")[:2]) if part.startswith("blocks.") else part
            out[key] = out.get(key, 0.0) + totals["energy_mj"]
        return out

    @property
    def by_mixer(self) -> dict[str, float]:
        """`blocks.<i>.mixer` -> mJ per image (0 for a mixer that computes nothing, e.g. identity)."""
        return {p: t["energy_mj"] for p, t in self.by_part.items() if _MIXER_PART.fullmatch(p)}

    def to_dict(self) -> dict[str, Any]:
        return dict(
            energy_mj=self.energy_mj, macs=self.macs, acs=self.acs, flops=self.flops,
            mean_firing_rate=self.mean_firing_rate, rate_one=self.rate_one, images=self.images,
            e_mac_pj=self.e_mac_pj, e_ac_pj=self.e_ac_pj,
            layers=[asdict(row) | {"part": row.part} for row in self.layers],
            by_part=self.by_part, by_block=self.by_block, by_mixer=self.by_mixer,
            firing_rates=self.firing_rates,
        )


_MIXER_PART = re.compile(r"blocks\.\d+\.mixer")


def part_of(name: str) -> str:
    """`blocks.3.mixer.q.linear` -> `blocks.3.mixer`; `sps.rpe.conv` -> `sps`; `head` -> `head`."""
    pieces = name.split(".")
    if pieces[0] == "blocks" and len(pieces) >= 3:
        return ".".join(pieces[:3])
    return pieces[0]


def _part_order(part: str) -> tuple:
    pieces = part.split(".")
    if pieces[0] == "sps":
        return (0,)
    if pieces[0] == "blocks" and len(pieces) == 3 and pieces[1].isdigit():
        return (1, int(pieces[1]), pieces[2] != "mixer", pieces[2])
    return (3 if pieces[0] == "head" else 2, part)


def _flops(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    kernel = 1
    for k in module.kernel_size:
        kernel *= k
    return output.numel() * (module.in_channels // module.groups) * kernel


class _Meter:
    """Collects one record per priced call; its reductions stay on the device until `totals()`."""

    def __init__(self, names: dict[nn.Module, str]):
        self.names = names
        self.calls: list[tuple[str, str, int, int]] = []  # name, op, flops, numel
        self.stats: list[torch.Tensor] = []  # per call: [is_spike, sum of values]

    def _record(self, name: str, op: str, flops: int, x: torch.Tensor) -> None:
        if x.is_floating_point():
            is_spike = ((x >= 0) & (x == x.round())).all()
        else:
            is_spike = (x >= 0).all()
        total = x.sum(dtype=torch.float64)
        self.calls.append((name, op, int(flops), x.numel()))
        self.stats.append(torch.stack([is_spike.to(torch.float64), total]))

    def hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        self._record(self.names[module], type(module).__name__, _flops(module, output), inputs[0].detach())

    def on_product(self, module: nn.Module, tag: str, flops: int, operand: torch.Tensor) -> None:
        owner = self.names.get(module, type(module).__name__)
        self._record(f"{owner}.{tag}", "product", flops, operand)

    def totals(self, rate_one: bool) -> list[list]:
        """[name, op, kind, flops, acs, spikes, elements] summed per layer and kind, in call order."""
        stats = torch.stack(self.stats).cpu().tolist() if self.stats else []
        out: dict[tuple[str, str], list] = {}
        for (name, op, flops, numel), (is_spike, total) in zip(self.calls, stats):
            kind = "AC" if is_spike else "MAC"
            row = out.setdefault((name, kind), [name, op, kind, 0, 0.0, 0.0, 0.0])
            row[3] += flops
            if kind == "AC":
                rate = 1.0 if rate_one else total / numel
                row[4] += rate * flops  # ACs of this call
                row[5] += numel * rate
                row[6] += numel
        return list(out.values())


def _split_batch(item: Any) -> tuple[torch.Tensor, int]:
    """The input tensor and its batch size: (x, y) pairs count len(y); `[T, B, ...]` frames B."""
    if isinstance(item, (tuple, list)):
        x = item[0]
        if len(item) > 1 and torch.is_tensor(item[1]) and item[1].dim() >= 1:
            return x, item[1].shape[0]
    else:
        x = item
    return x, x.shape[1] if x.dim() == 5 else x.shape[0]


def _is_event_model(cfg: Any) -> bool:
    """Whether `cfg.data` names an event dataset (its frames are spike counts, priced as ACs)."""
    data = getattr(cfg, "data", None)
    if data is None:
        return False
    from fwformer.data import dataset_info  # no loading: the dataset's geometry only
    from fwformer.errors import ConfigError

    try:
        return bool(dataset_info(data).event)
    except ConfigError:  # a dataset the data package does not know: treat the input as images
        return False


def _rate_one_input(model: nn.Module, generator: torch.Generator) -> torch.Tensor:
    cfg = getattr(model, "cfg", None)
    if cfg is None or None in (getattr(cfg, "in_channels", None), getattr(cfg, "img_size", None)):
        raise ValueError("measure_energy(batches=None) needs model.cfg with in_channels and img_size; "
                         "pass batches of inputs instead")
    shape = (1, cfg.in_channels, cfg.img_size, cfg.img_size)
    if _is_event_model(cfg):
        return (torch.rand((cfg.T, *shape), generator=generator) < 0.5).float()  # [T, 1, C, H, W] events
    # Uniform in [0.05, 0.95): never an integer, so the first conv is recognised as real-valued.
    return 0.05 + 0.9 * torch.rand(shape, generator=generator)


def _random_spikes(generator: torch.Generator):
    """A forward hook that replaces a neuron's output with fixed random 0/1 spikes of its shape."""

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> torch.Tensor:
        spikes = torch.rand(output.shape, generator=generator) < 0.5
        return spikes.to(device=output.device, dtype=output.dtype)

    return hook


def measure_energy(model: nn.Module, batches: Optional[Iterable[Any]] = None, *, e_mac_pj: float = 4.6,
                   e_ac_pj: float = 0.9, max_batches: Optional[int] = None) -> EnergyReport:
    """Energy per image of `model` at inference, measured on `batches` or at firing rate 1.

    `batches` yields input tensors or `(x, y)` pairs; rates are averaged over all of them,
    weighted by elements. Runs in eval mode under `no_grad`, then restores every module's
    mode and removes its hooks, also on error.
    """
    if max_batches is not None and max_batches < 1:
        raise ValueError(f"max_batches must be >= 1 or None, but got max_batches={max_batches}")
    names = {module: name for name, module in model.named_modules()}
    meter = _Meter(names)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    rate_one = batches is None
    if rate_one:
        generator = torch.Generator().manual_seed(0)
        batches = [_rate_one_input(model, generator)]
    modes = {module: module.training for module in model.modules()}
    handles = []
    images = 0
    try:
        handles += [m.register_forward_hook(meter.hook) for m in model.modules() if isinstance(m, _PRICED)]
        if rate_one:
            handles += [m.register_forward_hook(_random_spikes(generator)) for m in model.modules()
                        if isinstance(m, BaseNode)]
        model.eval()
        with torch.no_grad(), listening(meter):
            for i, item in enumerate(batches):
                if max_batches is not None and i >= max_batches:
                    break
                x, batch_size = _split_batch(item)
                model(x.to(device))
                reset_state(model)
                images += int(batch_size)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training
    if images == 0:
        raise ValueError("measure_energy got no batches to measure")

    layers, spike_flops = [], 0.0
    for name, op, kind, flops, acs, spikes, elements in meter.totals(rate_one):
        macs = float(flops) if kind == "MAC" else 0.0
        rate = (spikes / elements if elements else 0.0) if kind == "AC" else None
        if kind == "AC":
            spike_flops += flops
        energy = (e_mac_pj * macs + e_ac_pj * acs) * _PJ_TO_MJ / images
        layers.append(LayerEnergy(name, op, kind, flops / images, rate, macs / images, acs / images, energy))
    macs = sum(row.macs for row in layers)
    acs = sum(row.acs for row in layers)
    return EnergyReport(
        energy_mj=(e_mac_pj * macs + e_ac_pj * acs) * _PJ_TO_MJ, macs=macs, acs=acs, layers=layers,
        mean_firing_rate=acs * images / spike_flops if spike_flops else 0.0, rate_one=rate_one, images=images,
        e_mac_pj=e_mac_pj, e_ac_pj=e_ac_pj,
        mixer_parts=[name for name in names.values() if _MIXER_PART.fullmatch(name)],
    )
