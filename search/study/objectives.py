"""The metrics a study may declare as objectives, one entry each: what the schema accepts, how the
figures label them, which way they improve, the hypervolume reference when the study gives none,
and whether a supernet's sub-network can be scored on them. Adding an objective is one entry here
(and a trial that reports it: `fwformer.train`'s result)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

#: Default hypervolume references that depend on the study: `ZERO` is 0 (a maximised metric whose
#: worst value is 0), `ENERGY_BOUND` the space's largest energy at firing rate 1 (an upper bound of
#: any measured energy). None: the study must give one.
ZERO, ENERGY_BOUND = "zero", "energy-bound"


@dataclass(frozen=True)
class Metric:
    name: str  # as a trial reports it
    label: str  # as an axis names it
    unit: str  # of the stored value ("" when it has none)
    direction: str  # the way it improves: maximize | minimize
    supernet: bool  # a sub-network with inherited weights can be scored on it (not a training metric)
    reference: Optional[str] = None  # ZERO | ENERGY_BOUND | None, when the direction is this one
    alias: Optional[str] = None  # the short name picks accept (`max-acc`, `energy<=0.4`)
    fraction: bool = False  # stored as a fraction of 1, read and shown in percent


OBJECTIVES: dict[str, Metric] = {m.name: m for m in (
    Metric("val_acc", "validation accuracy", "", "maximize", True, ZERO, alias="acc", fraction=True),
    Metric("energy_mj", "energy per image", "mJ", "minimize", True, ENERGY_BOUND, alias="energy"),
    Metric("macs", "MACs per image", "", "minimize", True),
    Metric("acs", "ACs per image", "", "minimize", True),
    Metric("params", "parameters", "", "minimize", True),
    Metric("latency_ms", "latency", "ms", "minimize", True),
    Metric("images_per_s", "training throughput", "images/s", "maximize", False),
    Metric("peak_mem_mb", "peak memory", "MB", "minimize", False),
    Metric("train_time_s", "training time", "s", "minimize", False),
    Metric("mean_firing_rate", "mean firing rate", "", "minimize", True),
)}

#: Metrics a trial reports that can be objectives, in the order errors list them.
METRICS = tuple(OBJECTIVES)
#: Objectives a supernet's sub-network can be scored on; training metrics (throughput, memory,
#: training time) exist only for a model trained on its own.
SUPERNET_METRICS = tuple(m.name for m in OBJECTIVES.values() if m.supernet)
#: Short names for picks: `acc` -> `val_acc`.
ALIASES = {m.alias: m.name for m in OBJECTIVES.values() if m.alias}


def default_reference(metric: str, direction: str) -> Optional[str]:
    """ZERO, ENERGY_BOUND or None: the reference a study gets for `metric` when it sets none."""
    known = OBJECTIVES.get(metric)
    return known.reference if known is not None and known.direction == direction else None
