"""The YAML shape of a study file (an OmegaConf structured config: unknown keys and wrong types are
rejected with their key path), and the checks of meaning that types cannot express (`check`)."""
from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence

from fwformer.cli import ConfigError, closest
from fwformer.config import Config, DataConfig, EnergyConfig, TrainConfig
from search.study.objectives import METRICS
from search.study.samplers import SAMPLERS
from space.schema import SpaceConfig

DIRECTIONS = ("maximize", "minimize")
EARLY_STOP_RULES = ("median", "percentile")
STRATEGIES = ("trials", "supernet")


def _partial(cls: type, name: str) -> type:
    """`cls` with every field optional and unset (MISSING): a layer that sets only what it names,
    with the types and key names of `cls` checked."""
    from omegaconf import MISSING

    hints = typing.get_type_hints(cls)
    skip = {"data", "train", "energy", "provenance"} if cls is Config else set()
    return dataclasses.make_dataclass(
        name, [(f.name, hints[f.name], field(default=MISSING)) for f in dataclasses.fields(cls) if f.name not in skip]
    )


ArchOverrides = _partial(Config, "ArchOverrides")
DataOverrides = _partial(DataConfig, "DataOverrides")
TrainOverrides = _partial(TrainConfig, "TrainOverrides")
EnergyOverrides = _partial(EnergyConfig, "EnergyOverrides")


@dataclass
class ObjectiveConfig:
    metric: str = "val_acc"
    direction: Optional[str] = None  # None: the way the metric improves (search.study.objectives)
    # Hypervolume reference: the worst value that still counts. None: the metric's default in
    # search.study.objectives (0 for val_acc; for energy_mj the space's largest energy at firing rate 1).
    reference: Optional[float] = None


@dataclass
class EarlyStopConfig:
    """Early stopping on the epoch fidelity; the search runner applies the rule (search/run.py)."""

    enabled: bool = False
    grace_epochs: int = 2  # never stop a trial before it has finished this many epochs
    rule: str = "median"  # median | percentile: compare with other trials at the same epoch
    percentile: float = 50.0  # for `percentile`: stop below this percentile of the others
    min_trials: int = 3  # trials that reached the epoch before the rule compares against them
    metric: str = "val_acc"  # the per-epoch metric the rule reads (higher is better)


@dataclass
class SupernetConfig:
    """`search.strategy: supernet` (search/supernet/): one weight-sharing supernet instead of a model per trial."""

    epochs: Optional[int] = None  # supernet training epochs; null: 4 x train.epochs (docs/benchmarks/one-shot.md)
    sampling: str = "uniform"  # uniform (SPOS) | balanced (each candidate once per cycle, FairNAS's counts)
    candidate_lr: float = 1.0  # learning-rate multiplier of the candidate mixers' weights (shared ones: 1)
    distill: str = "none"  # none | inplace (the best path so far teaches the sampled one; fwformer/supernet/distill.py)
    batchnorm: str = "shared"  # shared | per-T (every BatchNorm once per T choice; fwformer/supernet/batchnorm.py)
    # 100 and 6: the best front of the measured grid on the quickstart (docs/benchmarks/one-shot.md "Cost to a front").
    candidates: int = 100  # distinct sub-networks the sampler proposes and the supernet scores
    confirm: int = 6  # k: the best architectures of the supernet's front, trained stand-alone as trials
    calibration_batches: int = 4  # training batches that re-estimate BatchNorm statistics per sub-network
    val_batches: Optional[int] = None  # validation batches that score a sub-network; null: all
    checkpoint: Optional[str] = None  # a trained supernet to reuse (run folder or checkpoint.pt); null: find or train


@dataclass
class SearchConfig:
    strategy: str = "trials"  # trials: train every candidate | supernet: one-shot, then confirm the best k
    trials: int = 16
    max_concurrent: int = 1
    sampler: str = "tpe"
    sampler_options: Dict[str, Any] = field(default_factory=dict)  # keyword arguments of the sampler
    seed: int = 0
    dedupe: bool = True  # an architecture already trained (same canonical key) is not trained again
    early_stop: EarlyStopConfig = field(default_factory=EarlyStopConfig)
    supernet: SupernetConfig = field(default_factory=SupernetConfig)


@dataclass
class ResourcesConfig:
    cpu: float = 1.0  # CPU cores per trial
    gpu: float = 0.0  # GPUs per trial; a fraction (0.5) lets trials share a GPU


def _default_objectives() -> list:
    return [ObjectiveConfig("val_acc", "maximize"), ObjectiveConfig("energy_mj", "minimize")]


@dataclass
class StudyConfig:
    name: Optional[str] = None
    description: str = ""
    base: str = "tiny"
    arch: ArchOverrides = field(default_factory=ArchOverrides)  # type: ignore[valid-type]
    data: DataOverrides = field(default_factory=DataOverrides)  # type: ignore[valid-type]
    train: TrainOverrides = field(default_factory=TrainOverrides)  # type: ignore[valid-type]
    energy: EnergyOverrides = field(default_factory=EnergyOverrides)  # type: ignore[valid-type]
    space: SpaceConfig = field(default_factory=SpaceConfig)
    objectives: List[ObjectiveConfig] = field(default_factory=_default_objectives)
    search: SearchConfig = field(default_factory=SearchConfig)
    resources: ResourcesConfig = field(default_factory=ResourcesConfig)


def one_of(key: str, value: str, allowed: Sequence[str]) -> None:
    """ConfigError naming `key`, the allowed values and the closest one, unless `value` is allowed."""
    if value not in allowed:
        raise ConfigError(f"{key} must be one of: {', '.join(allowed)}, but got '{value}'{closest(value, allowed)}")


def check(s: SearchConfig, r: ResourcesConfig, objectives: list) -> None:
    if s.trials < 1:
        raise ConfigError(f"search.trials must be >= 1, but got {s.trials}")
    if s.max_concurrent < 1:
        raise ConfigError(f"search.max_concurrent must be >= 1, but got {s.max_concurrent}")
    one_of("search.sampler", s.sampler, SAMPLERS)
    one_of("search.strategy", s.strategy, STRATEGIES)
    check_supernet(s.supernet)
    e = s.early_stop
    if e.grace_epochs < 1:
        raise ConfigError(f"search.early_stop.grace_epochs must be >= 1, but got {e.grace_epochs}")
    if e.rule not in EARLY_STOP_RULES:
        raise ConfigError(f"search.early_stop.rule must be one of: {', '.join(EARLY_STOP_RULES)}, "
                          f"but got '{e.rule}'{closest(e.rule, EARLY_STOP_RULES)}")
    if not 0 < e.percentile < 100:
        raise ConfigError(f"search.early_stop.percentile must be in (0, 100), but got {e.percentile}")
    if e.min_trials < 1:
        raise ConfigError(f"search.early_stop.min_trials must be >= 1, but got {e.min_trials}")
    if r.cpu <= 0:
        raise ConfigError(f"resources.cpu must be > 0, but got {r.cpu}")
    if r.gpu < 0 or (r.gpu > 1 and r.gpu != int(r.gpu)):
        raise ConfigError(f"resources.gpu must be a fraction in [0, 1] or a whole number of GPUs, but got {r.gpu}")
    if not objectives:
        raise ConfigError("objectives must name at least one metric, e.g. [{metric: val_acc, direction: maximize}]")
    seen = set()
    for i, o in enumerate(objectives):
        if o.metric not in METRICS:
            raise ConfigError(f"objectives[{i}].metric must be one of: {', '.join(METRICS)}, but got "
                              f"'{o.metric}'{closest(o.metric, METRICS)}")
        if o.direction is not None and o.direction not in DIRECTIONS:
            raise ConfigError(f"objectives[{i}].direction must be one of: {', '.join(DIRECTIONS)}, "
                              f"but got '{o.direction}'")
        if o.metric in seen:
            raise ConfigError(f"objectives[{i}].metric '{o.metric}' appears twice")
        seen.add(o.metric)


def check_supernet(n: SupernetConfig) -> None:
    from fwformer.supernet import BATCHNORM, DISTILL, SAMPLING

    if n.epochs is not None and n.epochs < 1:
        raise ConfigError(f"search.supernet.epochs must be >= 1 or null (4 x train.epochs), but got {n.epochs}")
    one_of("search.supernet.sampling", n.sampling, SAMPLING)
    one_of("search.supernet.distill", n.distill, DISTILL)
    one_of("search.supernet.batchnorm", n.batchnorm, BATCHNORM)
    if not (math.isfinite(n.candidate_lr) and n.candidate_lr > 0):  # OmegaConf has checked it is a number
        raise ConfigError(f"search.supernet.candidate_lr must be a number > 0 (1: the shared weights' rate), "
                          f"but got {n.candidate_lr!r}")
    if n.confirm < 1:
        raise ConfigError(f"search.supernet.confirm must be >= 1, but got {n.confirm}")
    if n.candidates < n.confirm:
        raise ConfigError(f"search.supernet.candidates must be >= search.supernet.confirm={n.confirm}, "
                          f"but got {n.candidates}")
    if n.calibration_batches < 1:
        raise ConfigError(f"search.supernet.calibration_batches must be >= 1, but got {n.calibration_batches}")
    if n.val_batches is not None and n.val_batches < 1:
        raise ConfigError(f"search.supernet.val_batches must be >= 1 or null (all), but got {n.val_batches}")
