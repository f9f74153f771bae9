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
from typing import Any, Optional, Sequence, Union

from fwformer.cli import ConfigError, closest, expand_shorthands, merge_structured, parse_overrides, to_object
from fwformer.config import Config, config_to_dict, load_config
from search.study.objectives import ENERGY_BOUND, OBJECTIVES, ZERO, default_reference
from search.study.schema import ObjectiveConfig, ResourcesConfig, SearchConfig, StudyConfig, check
from search.study.supernet_rules import check_supernet_study
from space.search_space import SearchSpace, read_space_config, with_geometry


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
    base_source: str = ""  # the base preset's name or its YAML's absolute path: its own recipe trains in full

    @property
    def metric_names(self) -> list[str]:
        return [m for m, _ in self.objectives]

    @property
    def directions(self) -> list[str]:
        return [d for _, d in self.objectives]

    @property
    def budget(self) -> int:
        """Trained trials the search ends with: `search.trials`, or for the supernet strategy the
        `search.supernet.confirm` candidates it trains on their own."""
        return int(self.search.supernet.confirm if self.search.strategy == "supernet" else self.search.trials)

    def trial_config(self, params: dict) -> Config:
        """The fwformer Config of one trial's parameters."""
        return self.space.to_config(params, self.base)

    def reference_point(self) -> list[Optional[float]]:
        """The hypervolume reference per objective (see ObjectiveConfig.reference); None where no
        fixed value is known (the runner then decides)."""
        out: list[Optional[float]] = []
        bound = None
        for (metric, direction), ref in zip(self.objectives, self.references):
            default = default_reference(metric, direction) if ref is None else None
            if default == ZERO:
                ref = 0.0
            elif default == ENERGY_BOUND:
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
    dot = parse_overrides(expand_shorthands(overrides, lists=("space.mixers",)))
    merged = merge_structured(StudyConfig, raw, dot)
    # Sections become objects one by one: arch/data/train/energy keep their unset (MISSING) keys.
    search_cfg: SearchConfig = to_object(SearchConfig, merged.search, "search")
    resources: ResourcesConfig = to_object(ResourcesConfig, merged.resources, "resources")
    objectives: list[ObjectiveConfig] = [to_object(ObjectiveConfig, o, f"objectives[{i}]")
                                         for i, o in enumerate(merged.objectives)]
    check(search_cfg, resources, objectives)
    objectives = [dataclasses.replace(o, direction=o.direction or OBJECTIVES[o.metric].direction) for o in objectives]

    name = merged.name or path.stem
    source = base_source(merged.base, path.parent)
    base = _base_config(merged, source)
    if base.data.split != "stratified":
        # A search ranks architectures; the test set is for reporting the one it picks.
        raise ConfigError(f"data.split={base.data.split} in a study: a search ranks architectures on a validation "
                          f"split carved from the training data and never sees the test set; use data.split=stratified")
    base = with_geometry(base)
    # The space is read from its own layers (not the merged defaults), so that `space.file`, then
    # the study's space keys, then the overrides apply in that order.
    space_layers = OmegaConf.merge(raw.get("space") or {}, dot.get("space") or {})
    space_cfg = read_space_config(space_layers, key="space", base_dir=path.parent)
    space = SearchSpace(space_cfg, base, key="space")
    base = dataclasses.replace(base, depth=space.depth)  # trials take the space's depth

    resolved = OmegaConf.to_container(merged, resolve=True)
    resolved["name"] = name
    resolved["objectives"] = [dataclasses.asdict(o) for o in objectives]
    resolved["path"] = str(path)
    resolved["space"] = dataclasses.asdict(space_cfg)
    resolved["resolved"] = {"base": config_to_dict(base), "space": space.to_dict()}
    for section in ("arch", "data", "train", "energy"):  # only what the study set
        resolved[section] = _set_keys(merged[section])
    study = Study(
        name=name,
        path=path,
        base=base,
        space=space,
        objectives=[(o.metric, o.direction) for o in objectives],
        search=search_cfg,
        resources=resources,
        raw=resolved,
        references=[o.reference for o in objectives],
        base_source=str(source),
    )
    check_supernet_study(study)
    return study


def _set_keys(node: Any) -> dict:
    """The keys of a partial section that a layer set, as plain values."""
    from omegaconf import OmegaConf

    out = {}
    for k in node:
        if not OmegaConf.is_missing(node, k):
            value = node[k]
            out[k] = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
    return out


def base_source(base: str, study_dir: Path) -> Union[str, Path]:
    """The study's `base`: a preset name, or a YAML path (relative ones from the study's folder)."""
    as_path = study_dir / base
    if base.endswith((".yaml", ".yml")) and not Path(base).is_absolute() and as_path.is_file():
        return as_path.resolve()
    return base


def _base_config(merged: Any, source: Union[str, Path]) -> Config:
    from fwformer.config import validate

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
