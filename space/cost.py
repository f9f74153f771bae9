"""What a candidate costs before training: parameters, and energy at firing rate 1.

Energy at firing rate 1 (every neuron fires at every step) bounds the energy measured on data from
above, so it is the safe figure for a ceiling. It needs the energy meter (`fwformer.energy`); where
that is not installed, only parameter counts are available and energy comes back as None.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from fwformer.config import Config


@dataclass(frozen=True)
class Cost:
    params: int
    energy_mj: Optional[float] = None  # at firing rate 1; None without an energy meter


def energy_meter():
    """`fwformer.energy.measure_energy`, or None while the energy module does not exist."""
    try:
        from fwformer.energy import measure_energy
    except ModuleNotFoundError as err:
        if err.name not in ("fwformer.energy",):
            raise
        return None
    return measure_energy


def model_cost(cfg: Config, *, energy: bool = True) -> Cost:
    """Build the model of `cfg` on CPU and count it (energy only when asked and a meter exists)."""
    import torch

    from fwformer.model import build_model, count_parameters

    with torch.device("cpu"):
        model = build_model(cfg)
    params = count_parameters(model)
    meter = energy_meter() if energy else None
    if meter is None:
        return Cost(params=params)
    report = meter(model, None, e_mac_pj=cfg.energy.e_mac_pj, e_ac_pj=cfg.energy.e_ac_pj)
    return Cost(params=params, energy_mj=float(report.energy_mj))
