"""What the energy meter returns: per-layer rows, totals, and their sums by part of the model.

Parts are `sps`, `blocks.<i>.mixer`, `blocks.<i>.mlp`, `blocks.<i>` (what a block does outside
its mixer and MLP, e.g. residual additions, when an energy model prices it), `head`, and
`model` (operations of the model's own forward, e.g. the means before the head).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

PJ_TO_MJ = 1e-9
MIXER_PART = re.compile(r"blocks\.\d+\.mixer")


@dataclass
class LayerEnergy:
    """One priced layer, mixer product or module scope, per image."""

    name: str  # module name, `<mixer module>.<tag>` for a reported product, `model` for the root
    op: str  # Linear, Conv2d, ..., product, or the module's class for an energy model's scope
    kind: str  # MAC (real-valued input), AC (spike input), or the mix an energy model charged
    flops: Optional[float]  # multiply-accumulates of the call; None where the model does not count them
    firing_rate: Optional[float]  # mean spike count of the input; None for MAC rows
    macs: float
    acs: float
    energy_mj: float
    memory_bytes: float = 0.0  # memory traffic charged to this row (memory-aware models)

    @property
    def part(self) -> str:
        return part_of(self.name)


@dataclass
class EnergyReport:
    """Energy per image under one energy model (`energy_model`), with its operation counts.

    `firing_rates`, `mean_firing_rate` and `flops` come from the synaptic-operation pass that every
    model runs first: they describe the network, whatever it is priced by.
    """

    energy_model: str
    energy_mj: float
    macs: float
    acs: float
    layers: list[LayerEnergy]
    mean_firing_rate: float  # ACs / FLOPs of the spike inputs in the synaptic-operation pass
    rate_one: bool  # True when rates were assumed to be 1 instead of measured
    images: int
    input_kind: str  # static (one image repeated over T) or frames (T event frames)
    flops: float  # per image, from the synaptic-operation pass
    firing_rates: dict[str, float]
    costs: dict[str, float]  # the model's constants, e.g. e_mac_pj, e_ac_pj, e_memory_pj_per_byte
    memory_bytes: float = 0.0
    breakdown_mj: dict[str, float] = field(default_factory=dict)  # e.g. mac, ac, memory
    counts: dict[str, float] = field(default_factory=dict)  # the model's own counts per image
    repeated_layers: list[str] = field(default_factory=list)  # layers fed the repeated static input: run once
    mixer_parts: list[str] = field(default_factory=list)  # every `blocks.<i>.mixer`, costly or not

    @property
    def by_part(self) -> dict[str, dict[str, float]]:
        """`sps`, `blocks.<i>.mixer`, `blocks.<i>.mlp`, `head`, ... -> macs, acs, memory_bytes, energy_mj.

        Empty when the energy model gives totals only (see `fwformer.energy.models`).
        """
        if not self.layers:
            return {}
        keys = ("macs", "acs", "memory_bytes", "energy_mj")
        parts: dict[str, dict[str, float]] = {p: dict.fromkeys(keys, 0.0) for p in self.mixer_parts}
        for row in self.layers:
            totals = parts.setdefault(row.part, dict.fromkeys(keys, 0.0))
            for key in keys:
                totals[key] += getattr(row, key)
        return dict(sorted(parts.items(), key=lambda kv: part_order(kv[0])))

    @property
    def by_block(self) -> dict[str, float]:
        """`sps`, `blocks.<i>` (mixer + MLP + the block's own operations), `head`, ... -> mJ per image."""
        out: dict[str, float] = {}
        for part, totals in self.by_part.items():
            key = ".".join(part.split(".")[:2]) if part.startswith("blocks.") else part
            out[key] = out.get(key, 0.0) + totals["energy_mj"]
        return out

    @property
    def by_mixer(self) -> dict[str, float]:
        """`blocks.<i>.mixer` -> mJ per image (0 for a mixer that computes nothing, e.g. identity)."""
        return {p: t["energy_mj"] for p, t in self.by_part.items() if MIXER_PART.fullmatch(p)}

    def to_dict(self) -> dict[str, Any]:
        return dict(
            energy_model=self.energy_model, energy_mj=self.energy_mj, macs=self.macs, acs=self.acs,
            memory_bytes=self.memory_bytes, flops=self.flops, mean_firing_rate=self.mean_firing_rate,
            rate_one=self.rate_one, images=self.images, input_kind=self.input_kind, costs=dict(self.costs),
            breakdown_mj=dict(self.breakdown_mj), counts=dict(self.counts),
            repeated_layers=list(self.repeated_layers),
            layers=[asdict(row) | {"part": row.part} for row in self.layers],
            by_part=self.by_part, by_block=self.by_block, by_mixer=self.by_mixer,
            firing_rates=dict(self.firing_rates),
        )


def part_of(name: str) -> str:
    """`blocks.3.mixer.q.linear` -> `blocks.3.mixer`; `blocks.3` -> `blocks.3`; `sps.rpe.conv` -> `sps`."""
    pieces = name.split(".")
    if pieces[0] == "blocks" and len(pieces) >= 2:
        return ".".join(pieces[:3])
    return pieces[0]


def part_order(part: str) -> tuple:
    pieces = part.split(".")
    if pieces[0] == "sps":
        return (0,)
    if pieces[0] == "blocks" and len(pieces) >= 2 and pieces[1].isdigit():
        sub = pieces[2] if len(pieces) > 2 else ""
        return (1, int(pieces[1]), {"mixer": 0, "mlp": 1}.get(sub, 2), sub)
    return ({"head": 3, "model": 4}.get(pieces[0], 2), part)
