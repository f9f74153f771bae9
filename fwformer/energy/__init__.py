"""Theoretical inference energy of a spiking network, under an energy model the user chooses.

    report = measure_energy(model, batches, input_kind="static", energy_model="sop")
    report.energy_mj, report.macs, report.acs, report.by_part, report.firing_rates

`input_kind` is the caller's to give (the meter knows no datasets): `static` for an image the
model repeats over T (direct encoding), `frames` for event frames. Energy models
(`ENERGY_MODELS`, `energy.model` in the config): `sop` (default; the field's synaptic-operation
convention), `simple` (spikingjelly's memory-aware model), `lemaire` (Lemaire et al. 2022 via
spikingjelly). Modules: `sop` (the operation pass), `static_input` (the first layer once),
`spikingjelly_models`, `models` (the registry), `report` (what is returned), `measure`, and
`products` (how a mixer reports a product no Linear/Conv performs: `record_product`, which the
meter hears while `listening`).
"""
from fwformer.energy.measure import INPUT_KINDS, check_energy_options, check_priceable, measure_energy
from fwformer.energy.models import ENERGY_MODELS, EnergyModel, energy_model_names
from fwformer.energy.products import ProductListener, listening, record_product
from fwformer.energy.report import EnergyReport, LayerEnergy, part_of

__all__ = ["ENERGY_MODELS", "INPUT_KINDS", "EnergyModel", "EnergyReport", "LayerEnergy", "ProductListener",
           "check_energy_options", "check_priceable", "energy_model_names", "listening", "measure_energy", "part_of",
           "record_product"]
