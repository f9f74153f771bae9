"""The energy models a user chooses with `energy.model`, and the synaptic-operation convention.

- `sop` (default): E_MAC x MACs + E_AC x SOPs (45 nm: 4.6 / 0.9 pJ), SOPs = firing rate x FLOPs;
  Horowitz ISSCC 2014, the energy equations of Spikformer (ICLR 2023) and FWformer (arXiv 2403.18228).
- `simple`: spikingjelly's MAC and AC counts x 4.6 / 0.9 pJ, plus weight, bias and neuron-state
  memory traffic x 24.96 pJ/byte; `spikingjelly.activation_based.op_counter.estimate_simple_energy`
  (Horowitz 2014 + STEP).
- `lemaire`: Lemaire et al. 2022's analytical model (operations, addressing, SRAM accesses priced by
  buffer size); `spikingjelly.activation_based.op_counter.estimate_lemaire_energy` (arXiv 2210.13107).

Every model first runs the synaptic-operation pass (`fwformer.energy.sop`), which gives the firing
rates and FLOPs; `simple` and `lemaire` then run spikingjelly's profiler on the same batches.
"""
from __future__ import annotations

from dataclasses import dataclass
from fwformer.energy.report import PJ_TO_MJ, LayerEnergy


@dataclass(frozen=True)
class EnergyModel:
    name: str
    summary: str
    source: str


ENERGY_MODELS: dict[str, EnergyModel] = {
    m.name: m
    for m in [
        EnergyModel("sop", "synaptic operations: 4.6 pJ per MAC on real-valued inputs, 0.9 pJ per AC on spikes "
                           "(firing rate x FLOPs); the first layer once for a static image",
                    "Horowitz ISSCC 2014; Spikformer ICLR 2023; FWformer arXiv 2403.18228 appendix eq. 2"),
        EnergyModel("simple", "spikingjelly's MAC/AC counts plus weight, bias and neuron-state memory traffic "
                              "at 24.96 pJ/byte",
                    "spikingjelly.activation_based.op_counter.estimate_simple_energy (Horowitz 2014 + STEP)"),
        EnergyModel("lemaire", "Lemaire et al. 2022: operations, addressing and buffer-size-dependent SRAM "
                               "accesses of Conv/Linear/LIF layers",
                    "spikingjelly.activation_based.op_counter.estimate_lemaire_energy; arXiv 2210.13107"),
    ]
}


def energy_model_names() -> list[str]:
    return list(ENERGY_MODELS)


def sop_layers(rows, images: int, e_mac_pj: float, e_ac_pj: float) -> list[LayerEnergy]:
    """The synaptic-operation convention: one priced row per layer and input kind, per image."""
    out = []
    for row in rows:
        macs = float(row.flops) if row.kind == "MAC" else 0.0
        acs = row.acs if row.kind == "AC" else 0.0
        rate = row.firing_rate if row.kind == "AC" else None
        energy = (e_mac_pj * macs + e_ac_pj * acs) * PJ_TO_MJ / images
        out.append(LayerEnergy(row.name, row.op, row.kind, row.flops / images, rate, macs / images, acs / images,
                               energy))
    return out

