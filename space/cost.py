"""What a candidate costs before training: parameters, and energy at firing rate 1.

Energy at firing rate 1 (every neuron fires at every step) bounds the energy measured on data from
above, so it is the safe figure for a ceiling.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from fwformer.config import Config


@dataclass(frozen=True)
class Cost:
    params: int
    energy_mj: Optional[float] = None  # at firing rate 1; None when energy was not asked for
    energy_model: Optional[str] = None  # the energy model that priced energy_mj (`energy.model`)


def model_cost(cfg: Config, *, energy: bool = True) -> Cost:
    """Build the model of `cfg` on CPU and count it (energy at firing rate 1 when asked)."""
    import torch

    from fwformer.data import dataset_info
    from fwformer.energy import measure_energy
    from fwformer.model import build_model, count_parameters
    from fwformer.train import input_kind_of

    with torch.device("cpu"):
        model = build_model(cfg)
    params = count_parameters(model)
    if not energy:
        return Cost(params=params)
    ec = cfg.energy
    input_kind = input_kind_of(dataset_info(cfg.data).event)  # the data's geometry only, nothing loaded
    report = measure_energy(model, None, input_kind=input_kind, energy_model=ec.model, e_mac_pj=ec.e_mac_pj,
                            e_ac_pj=ec.e_ac_pj, e_memory_pj_per_byte=ec.e_memory_pj_per_byte)
    return Cost(params=params, energy_mj=float(report.energy_mj), energy_model=report.energy_model)
