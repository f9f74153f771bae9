"""Studies: one YAML file names the data, the base model, the space, the objectives, the sampler,
the budget, early stopping, training settings and resources of a search.

`load_study(name_or_path, overrides)` merges the file and dotlist overrides into a structured config
(unknown keys and wrong types are rejected with their key path), builds the base fwformer Config and
the validated SearchSpace, and raises ConfigError before anything starts.

Layout of a study file (every section optional except `space.mixers`):

    name: quickstart             # default: the file name; also the Optuna study and MLflow experiment
    base: tiny                   # a preset or a YAML path (relative to the study file)
    arch: {embed_dim: 64}        # top-level fwformer fields merged onto the base
    data: {name: digits}         # fwformer `data` section, merged onto the base's
    train: {epochs: 6}           # fwformer `train` section, merged onto the base's
    energy: {}                   # fwformer `energy` section
    space: {depth: 4, mixers: [ssa, fft2d, dwt], wavelets: [haar], levels: [1], T: [1, 2]}
    objectives: [{metric: val_acc, direction: maximize}, {metric: energy_mj, direction: minimize}]
    search: {trials: 16, max_concurrent: 2, sampler: tpe, seed: 0, early_stop: {enabled: false}}
    resources: {cpu: 1, gpu: 0}
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

from fwformer.config import Config, DataConfig, EnergyConfig, TrainConfig, config_to_dict, load_config
from fwformer.errors import ConfigError, closest
from space.omega import merge_structured, parse_dotlist, to_object
from space.schema import SpaceConfig
from space.search_space import SearchSpace, read_space_config, with_geometry

SAMPLERS = ("tpe", "nsga2", "random", "gp")
DIRECTIONS = ("maximize", "minimize")
EARLY_STOP_RULES = ("median", "percentile")
#: Metrics a trial reports (fwformer.train's result) that can be objectives.
METRICS = ("val_acc", "energy_mj", "macs", "acs", "params", "latency_ms", "images_per_s", "peak_mem_mb",
           "train_time_s", "mean_firing_rate")


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
    direction: str = "maximize"
    # Hypervolume reference: the worst value that still counts. None: 0 for val_acc, and for
    # energy_mj the space's largest energy at firing rate 1 (an upper bound of any measured energy).
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
class SearchConfig:
    trials: int = 16
    max_concurrent: int = 1
    sampler: str = "tpe"
    sampler_options: Dict[str, Any] = field(default_factory=dict)  # keyword arguments of the sampler
    seed: int = 0
    dedupe: bool = True  # an architecture already trained (same canonical key) is not trained again
    early_stop: EarlyStopConfig = field(default_factory=EarlyStopConfig)


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


@dataclass
class Study:
    name: str
    path: Path
    base: Config  # the config every trial starts from (data section included)
    space: SearchSpace
    objectives: list  # [(metric, "maximize" | "minimize"), ...]
    search: SearchConfig
    resources: ResourcesConfig
    raw: dict  # the resolved study, for logging
    references: list = field(default_factory=list)  # per objective, as written (None: default)

    @property
    def metric_names(self) -> list[str]:
        return [m for m, _ in self.objectives]

    @property
    def directions(self) -> list[str]:
        return [d for _, d in self.objectives]

    def trial_config(self, params: dict) -> Config:
        """The fwformer Config of one trial's parameters."""
        return self.space.to_config(params, self.base)

    def reference_point(self) -> list[Optional[float]]:
        """The hypervolume reference per objective (see ObjectiveConfig.reference); None where no
        fixed value is known (the runner then decides)."""
        out: list[Optional[float]] = []
        bound = None
        for (metric, direction), ref in zip(self.objectives, self.references):
            if ref is None and metric == "val_acc" and direction == "maximize":
                ref = 0.0
            elif ref is None and metric == "energy_mj" and direction == "minimize":
                bound = self.space.max_energy_mj() if bound is None else bound
                ref = bound
            out.append(ref)
        return out


# ---- finding a study ---------------------------------------------------------------------------
def repo_studies_dir() -> Path:
    import search

    return Path(search.__file__).resolve().parents[1] / "studies"


def study_dirs() -> list[Path]:
    dirs = [Path.cwd() / "studies", repo_studies_dir()]
    return list(dict.fromkeys(d.resolve() for d in dirs if d.is_dir()))


def study_names() -> list[str]:
    return sorted({p.stem for d in study_dirs() for p in d.glob("*.yaml")})


def find_study(name_or_path: Union[str, Path]) -> Path:
    """A path to a YAML file, else studies/NAME.yaml here, else the repo's studies/NAME.yaml."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise ConfigError(f"study file '{name_or_path}' does not exist")
        return path
    for d in study_dirs():
        candidate = d / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    names = study_names()
    raise ConfigError(f"unknown study '{name_or_path}'{closest(str(name_or_path), names)}; "
                      f"expected a YAML file or one of: {', '.join(names) or '(no studies found)'}")


# ---- loading ------------------------------------------------------------------------------------
def _expand_shorthands(overrides: Sequence[str]) -> list[str]:
    out = []
    for item in overrides:
        key, sep, value = item.partition("=")
        bare = key.strip().lstrip("+")
        if sep and bare == "data" and not value.startswith("{"):
            item = f"data.name={value}"
        elif sep and bare == "space.mixers" and not value.strip().startswith("["):
            item = f"space.mixers=[{value}]"
        out.append(item)
    return out


def load_study(name_or_path: Union[str, Path], overrides: Sequence[str] = ()) -> Study:
    """The validated Study of a name or YAML path plus dotlist overrides (`search.trials=4`)."""
    from omegaconf import OmegaConf

    path = find_study(name_or_path)
    try:
        raw = OmegaConf.load(path)
    except Exception as err:
        raise ConfigError(f"cannot read study file '{path}': {str(err).splitlines()[0]}") from None
    if not isinstance(raw, typing.Mapping) and not OmegaConf.is_dict(raw):
        raise ConfigError(f"study file '{path}' must hold a mapping of sections, but holds {type(raw).__name__}")
    dot = parse_dotlist(_expand_shorthands(overrides))
    merged = merge_structured(StudyConfig, raw, dot)
    # Sections become objects one by one: arch/data/train/energy keep their unset (MISSING) keys.
    search_cfg: SearchConfig = to_object(SearchConfig, merged.search, "search")
    resources: ResourcesConfig = to_object(ResourcesConfig, merged.resources, "resources")
    objectives: list[ObjectiveConfig] = [to_object(ObjectiveConfig, o, f"objectives[{i}]")
                                         for i, o in enumerate(merged.objectives)]
    _check(search_cfg, resources, objectives)

    name = merged.name or path.stem
    base = with_geometry(_base_config(merged, path.parent))
    # The space is read from its own layers (not the merged defaults), so that `space.file`, then
    # the study's space keys, then the overrides apply in that order.
    space_layers = OmegaConf.merge(raw.get("space") or {}, dot.get("space") or {})
    space_cfg = read_space_config(space_layers, key="space", base_dir=path.parent)
    space = SearchSpace(space_cfg, base, key="space")
    base = dataclasses.replace(base, depth=space.depth)  # trials take the space's depth

    resolved = OmegaConf.to_container(merged, resolve=True)
    resolved["name"] = name
    resolved["path"] = str(path)
    resolved["space"] = dataclasses.asdict(space_cfg)
    resolved["resolved"] = {"base": config_to_dict(base), "space": space.to_dict()}
    for section in ("arch", "data", "train", "energy"):  # only what the study set
        resolved[section] = _set_keys(merged[section])
    return Study(
        name=name,
        path=path,
        base=base,
        space=space,
        objectives=[(o.metric, o.direction) for o in objectives],
        search=search_cfg,
        resources=resources,
        raw=resolved,
        references=[o.reference for o in objectives],
    )


def _set_keys(node: Any) -> dict:
    """The keys of a partial section that a layer set, as plain values."""
    from omegaconf import OmegaConf

    out = {}
    for k in node:
        if not OmegaConf.is_missing(node, k):
            value = node[k]
            out[k] = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    return out


def _base_config(merged: Any, study_dir: Path) -> Config:
    from fwformer.config import validate

    source: Union[str, Path] = merged.base
    as_path = study_dir / merged.base
    if merged.base.endswith((".yaml", ".yml")) and not Path(merged.base).is_absolute() and as_path.is_file():
        source = as_path
    try:
        base = load_config(source, check=False)
    except ConfigError as err:
        raise ConfigError(f"base: {err}") from None
    d = config_to_dict(base)
    d.update(_set_keys(merged.arch))
    for section in ("data", "train", "energy"):
        d[section].update(_set_keys(merged[section]))
    cfg = load_config(d, check=False)
    # The geometry may come from the dataset: it is filled (and checked) by `with_geometry` after.
    validate(cfg, need_geometry=False)
    return cfg


def _check(s: SearchConfig, r: ResourcesConfig, objectives: list) -> None:
    if s.trials < 1:
        raise ConfigError(f"search.trials must be >= 1, but got {s.trials}")
    if s.max_concurrent < 1:
        raise ConfigError(f"search.max_concurrent must be >= 1, but got {s.max_concurrent}")
    if s.sampler not in SAMPLERS:
        raise ConfigError(f"search.sampler must be one of: {', '.join(SAMPLERS)}, but got '{s.sampler}'"
                          f"{closest(s.sampler, SAMPLERS)}")
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
        if o.direction not in DIRECTIONS:
            raise ConfigError(f"objectives[{i}].direction must be one of: {', '.join(DIRECTIONS)}, "
                              f"but got '{o.direction}'")
        if o.metric in seen:
            raise ConfigError(f"objectives[{i}].metric '{o.metric}' appears twice")
        seen.add(o.metric)
