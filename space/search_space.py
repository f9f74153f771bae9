"""A validated search space: per-block mixer choices, T and optional widths, with constraints.

`load_space(spec, base)` checks everything before a trial runs: every mixer name and family exists
(the registry decides), every choice can be built on the base config's token grid
(img_size / 2**sps_pools), every width combination is valid, and at least one model meets the
constraints. A sampler's choices (`mixer_0..mixer_{depth-1}`, `T`, and `embed_dim` / `num_heads` /
`mlp_ratio` when searched) become an fwformer `Config` with `to_config`, and identical
architectures share one `canonical_key`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

from fwformer.cli import ConfigError, merge_structured, to_object
from fwformer.config import LIMITS, Config, architecture, config_to_dict, load_config, validate
from space.cost import Cost, model_cost
from space.mixers import canonical_mixer, expand_mixer
from space.schema import SpaceConfig

#: Width choices a space may search; empty in the space means "the base config's value".
DIM_KEYS = ("embed_dim", "num_heads", "mlp_ratio")
#: Every architecture field a space may search besides mixers and T: the widths and the block convention.
CHOICE_KEYS = (*DIM_KEYS, "shortcut")


def load_space(spec: Union[Mapping[str, Any], SpaceConfig, str, Path, Any], base: Optional[Config] = None, *,
               key: str = "space", base_dir: Optional[Path] = None) -> "SearchSpace":
    """A validated SearchSpace from a dict, DictConfig, SpaceConfig or YAML file.

    `base` is the config trials start from (its grid decides which mixers can be built); without one
    the names are checked but not their grid. `space.file` names a YAML file (relative to `base_dir`)
    whose keys the others override.
    """
    return SearchSpace(read_space_config(spec, key=key, base_dir=base_dir), base, key=key)


def read_space_config(spec: Any, *, key: str = "space", base_dir: Optional[Path] = None) -> SpaceConfig:
    from omegaconf import OmegaConf

    if isinstance(spec, SpaceConfig):
        spec = OmegaConf.structured(spec)
    elif isinstance(spec, (str, Path)):
        path = Path(spec)
        base_dir = path.parent
        spec = _read_yaml(path, key)
    elif spec is None:
        spec = {}
    layer = OmegaConf.create(spec) if isinstance(spec, Mapping) else spec
    merged = merge_structured(SpaceConfig, layer, prefix=key)
    if merged.file:
        path = Path(merged.file)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        own = OmegaConf.masked_copy(layer, [k for k in layer if k != "file"]) if len(layer) else layer
        merged = merge_structured(SpaceConfig, _read_yaml(path, f"{key}.file"), own, prefix=key)
        merged.file = str(path)
    return to_object(SpaceConfig, merged, prefix=key)


def _read_yaml(path: Path, key: str) -> Any:
    from omegaconf import OmegaConf

    if not path.is_file():
        raise ConfigError(f"{key}: space file '{path}' does not exist")
    try:
        return OmegaConf.load(path)
    except Exception as err:
        raise ConfigError(f"{key}: cannot read '{path}': {str(err).splitlines()[0]}") from None


def with_geometry(cfg: Config) -> Config:
    """Fill img_size / in_channels / num_classes from the dataset when the config leaves them None."""
    if cfg.img_size is not None and cfg.in_channels is not None and cfg.num_classes is not None:
        return cfg
    from fwformer.data import with_data_geometry

    return with_data_geometry(cfg)


def canonical_key(cfg: Union[Config, Mapping[str, Any]]) -> str:
    """A short hash of the architecture: equal for configs that build the same model.

    Hashes the sorted JSON of `fwformer.config.architecture`, with each mixer in its canonical
    spelling (hybrid parts sorted, family options as the registry parses them). Run-time sections
    (data, train, energy) are not part of it: within one study they are the same for every trial.
    """
    if not isinstance(cfg, Config):
        cfg = load_config(dict(cfg), check=False)
    fields = architecture(cfg)
    fields["mixers"] = [canonical_mixer(m) for m in fields["mixers"]]
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class SearchSpace:
    """Use `load_space`; the constructor takes an already merged SpaceConfig."""

    def __init__(self, spec: SpaceConfig, base: Optional[Config] = None, *, key: str = "space"):
        self.spec = spec
        self.key = key
        self.base = with_geometry(base) if base is not None else Config()
        self.grid: Optional[tuple[int, int]] = self.base.grid if self.base.img_size is not None else None
        self.depth = self._depth()
        self.levels = self._ints("levels", spec.levels, default=[1])
        self.wavelets = list(dict.fromkeys(spec.wavelets))
        self.dropped: dict[str, str] = {}  # expanded names that cannot be built here, and why
        self.block_choices = self._blocks()
        self.T = self._ints("T", spec.T, default=[self.base.T])
        if max(self.T) > LIMITS["T"]:
            raise ConfigError(f"{self.key}.T must hold values up to {LIMITS['T']}, but got {self.T}")
        self.dims: dict[str, list] = {}  # searched widths and block conventions only
        for name in DIM_KEYS:
            values = list(getattr(spec, name))
            if values:
                self.dims[name] = self._positive(name, values)
        if spec.shortcut:
            self.dims["shortcut"] = self._shortcuts(list(spec.shortcut))
        self._check_widths()
        self.constraints = spec.constraints
        self._costs: dict[str, Cost] = {}
        self._check_feasible()

    # ---- what the sampler sees -------------------------------------------------------------
    def choices(self) -> dict[str, list]:
        """Parameter name -> its choices, in the order the sampler gets them."""
        out: dict[str, list] = {f"mixer_{i}": list(c) for i, c in enumerate(self.block_choices)}
        out["T"] = list(self.T)
        out.update({k: list(v) for k, v in self.dims.items()})
        return out

    def distributions(self) -> dict[str, Any]:
        """Optuna categorical distributions, one per parameter of `choices()`."""
        from optuna.distributions import CategoricalDistribution

        return {name: CategoricalDistribution(values) for name, values in self.choices().items()}

    def size(self) -> int:
        """How many parameter combinations the space holds (before canonical duplicates merge)."""
        n = 1
        for values in self.choices().values():
            n *= len(values)
        return n

    # ---- from choices to a model ------------------------------------------------------------
    def to_config(self, params: Mapping[str, Any], base: Optional[Config] = None) -> Config:
        """The validated fwformer Config of one trial: `base` (default: the space's) with the choices."""
        base = with_geometry(base) if base is not None else self.base
        values = self._checked(params)
        d = config_to_dict(base)
        d.update(depth=self.depth, mixers=[values[f"mixer_{i}"] for i in range(self.depth)], T=values["T"])
        d.update({k: values[k] for k in self.dims})
        d["provenance"] = None
        return load_config(d)

    def params_from_config(self, cfg: Config) -> dict[str, Any]:
        """The parameters that give `cfg`'s architecture (to enqueue a known model); ConfigError if
        it is outside the space."""
        if cfg.depth != self.depth:
            raise ConfigError(f"config has depth {cfg.depth}, but the space has depth {self.depth}")
        params: dict[str, Any] = {f"mixer_{i}": m for i, m in enumerate(cfg.block_mixers)}
        params["T"] = cfg.T
        params.update({k: getattr(cfg, k) for k in self.dims})
        self._checked(params)
        return params

    def canonical_key(self, params_or_config: Union[Config, Mapping[str, Any]]) -> str:
        """Equal for identical architectures; accepts trial parameters, a Config or a config dict."""
        x = params_or_config
        if isinstance(x, Mapping) and "mixers" not in x:
            x = self.to_config(x)
        return canonical_key(x)

    # ---- constraints -------------------------------------------------------------------------
    def check_constraints(self, cfg: Config) -> list[str]:
        """The constraints `cfg` violates, one line each (empty when it meets them all).

        Energy is at firing rate 1.
        """
        c = self.constraints
        if c.max_params is None and c.max_energy_mj is None:
            return []
        cost = self.cost(cfg)
        out = []
        if c.max_params is not None and cost.params > c.max_params:
            out.append(f"params {cost.params:,} > max_params {c.max_params:,}")
        if c.max_energy_mj is not None and cost.energy_mj is not None and cost.energy_mj > c.max_energy_mj:
            out.append(f"energy at firing rate 1 {cost.energy_mj:.4g} mJ > max_energy_mj {c.max_energy_mj:g}")
        return out

    def cost(self, cfg: Config) -> Cost:
        """Parameters and energy at firing rate 1 of `cfg` (cached by canonical key)."""
        key = canonical_key(cfg)
        want_energy = self.constraints.max_energy_mj is not None
        cached = self._costs.get(key)
        if cached is None or (want_energy and cached.energy_mj is None):
            cached = self._costs[key] = model_cost(cfg, energy=want_energy)
        return cached

    def max_energy_mj(self) -> Optional[float]:
        """Energy at firing rate 1 of the most expensive model of the space: an upper bound of every
        trial's measured energy, so a fixed hypervolume reference. None without a token grid."""
        if self.grid is None:
            return None
        out = 0.0
        for shortcut in self.dims.get("shortcut", [self.base.shortcut]):  # the convention changes what layers read
            big = dataclasses.replace(self._corner(max), shortcut=shortcut)
            # Energy at firing rate 1 grows linearly with T, so the mixers are ranked at the smallest T
            # (much cheaper on large inputs) and only the winner is measured at the largest.
            per_mixer = self._one_block_costs(dataclasses.replace(big, T=min(self.T)), energy=True)
            mixers = [max(c, key=lambda m: (per_mixer[m].energy_mj, per_mixer[m].params)) for c in self.block_choices]
            out = max(out, model_cost(dataclasses.replace(big, mixers=mixers, depth=self.depth), energy=True).energy_mj)
        return out

    # ---- description ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The resolved space, for logging."""
        return {
            "depth": self.depth,
            "grid": list(self.grid) if self.grid else None,
            "blocks": [list(c) for c in self.block_choices],
            "T": list(self.T),
            **{k: list(v) for k, v in self.dims.items()},
            "constraints": dataclasses.asdict(self.constraints),
            "dropped": dict(self.dropped),
            "size": self.size(),
        }

    def __repr__(self) -> str:
        return f"SearchSpace(depth={self.depth}, blocks={self.block_choices}, T={self.T}, dims={self.dims})"

    # ---- validation helpers --------------------------------------------------------------------
    def _depth(self) -> int:
        depth = self.spec.depth if self.spec.depth is not None else self.base.depth
        if depth < 1:
            raise ConfigError(f"{self.key}.depth must be >= 1, but got {depth}")
        return depth

    def _ints(self, name: str, values: Sequence[int], default: Sequence[int]) -> list[int]:
        values = list(values) or list(default)
        bad = [v for v in values if v < 1]
        if bad:
            raise ConfigError(f"{self.key}.{name} must hold integers >= 1, but got {list(values)}")
        return sorted(dict.fromkeys(int(v) for v in values))

    def _shortcuts(self, values: list) -> list[str]:
        from fwformer.config import SHORTCUTS

        bad = [v for v in values if v not in SHORTCUTS]
        if bad:
            raise ConfigError(f"{self.key}.shortcut must hold values among {', '.join(SHORTCUTS)}, but got {values}")
        return list(dict.fromkeys(values))

    def _positive(self, name: str, values: list) -> list:
        if any(v <= 0 for v in values):
            raise ConfigError(f"{self.key}.{name} must hold values > 0, but got {values}")
        return sorted(dict.fromkeys(values))

    def _blocks(self) -> list[list[str]]:
        mixers = list(self.spec.mixers)
        if not mixers:
            raise ConfigError(f"{self.key}.mixers must name at least one mixer, e.g. [ssa, fft2d, dwt]")
        nested = [isinstance(m, (list, tuple)) or _is_list_node(m) for m in mixers]
        if any(nested) and not all(nested):
            raise ConfigError(f"{self.key}.mixers must be one list of names for every block or one list per "
                              f"block, not a mix of both, but got {_plain(mixers)}")
        if all(nested):
            if len(mixers) != self.depth:
                raise ConfigError(f"{self.key}.mixers has {len(mixers)} per-block lists, but depth is {self.depth}; "
                                  f"give one list per block or one list for all")
            return [self._expand(list(m), f"{self.key}.mixers[{i}]") for i, m in enumerate(mixers)]
        shared = self._expand(mixers, f"{self.key}.mixers")
        return [list(shared) for _ in range(self.depth)]

    def _expand(self, names: list, where: str) -> list[str]:
        if not names:
            raise ConfigError(f"{where} must name at least one mixer")
        out: dict[str, str] = {}  # canonical -> first spelling
        for j, name in enumerate(names):
            for full in expand_mixer(name, wavelets=self.wavelets, levels=self.levels, grid=self.grid,
                                     where=f"{where}[{j}]", key=self.key, dropped=self.dropped):
                out.setdefault(canonical_mixer(full), full)
        return list(out.values())

    def _check_widths(self) -> None:
        for combo in self._width_combos():
            cfg = dataclasses.replace(self.base, mixers=["identity"], depth=self.depth, **combo)
            try:
                validate(cfg, need_geometry=False)
            except ConfigError as err:
                shown = ", ".join(f"{k}={v}" for k, v in combo.items() if k in self.dims) or "the base widths"
                raise ConfigError(f"{self.key}: {shown} cannot be built: {err}") from None

    def _width_combos(self) -> list[dict[str, Any]]:
        values = {k: self.dims.get(k, [getattr(self.base, k)]) for k in DIM_KEYS}
        return [dict(zip(values, combo)) for combo in itertools.product(*values.values())]

    def _corner(self, pick) -> Config:
        """The base with the smallest (pick=min) or largest (pick=max) T and widths of the space."""
        combos = self._width_combos()
        combo = pick(combos, key=lambda c: (c["embed_dim"], c["mlp_ratio"], c["num_heads"]))
        return dataclasses.replace(self.base, T=pick(self.T), depth=self.depth, **combo)

    def _one_block_costs(self, at: Config, *, energy: bool) -> dict[str, Cost]:
        """Cost of a one-block model per candidate mixer: the order of the mixers' own costs."""
        names = list(dict.fromkeys(m for c in self.block_choices for m in c))
        return {m: model_cost(dataclasses.replace(at, depth=1, mixers=[m]), energy=energy) for m in names}

    def _check_feasible(self) -> None:
        c = self.constraints
        if c.max_params is None and c.max_energy_mj is None:
            return
        if c.max_params is not None and c.max_params < 1:
            raise ConfigError(f"{self.key}.constraints.max_params must be >= 1, but got {c.max_params}")
        if c.max_energy_mj is not None and c.max_energy_mj <= 0:
            raise ConfigError(f"{self.key}.constraints.max_energy_mj must be > 0, but got {c.max_energy_mj}")
        if self.grid is None:
            return
        # Costs add up over blocks, so the cheapest model takes each block's cheapest mixer at the
        # smallest T and widths. With both ceilings set, the cheapest by params and the cheapest by
        # energy are tried (exact with one ceiling, a close heuristic with two).
        energy = c.max_energy_mj is not None
        violations: list[str] = []
        for shortcut in self.dims.get("shortcut", [self.base.shortcut]):
            small = dataclasses.replace(self._corner(min), shortcut=shortcut)
            per_mixer = self._one_block_costs(small, energy=energy)

            def cheapest(order) -> list[str]:
                return [min(choices, key=lambda m: order(per_mixer[m])) for choices in self.block_choices]

            candidates = [cheapest(lambda k: (k.params, k.energy_mj or 0.0))]
            if energy:
                candidates.append(cheapest(lambda k: (k.energy_mj, k.params)))
            for mixers in candidates:
                cfg = dataclasses.replace(small, mixers=mixers)
                violations = self.check_constraints(cfg)
                if not violations:
                    return
        widths = ", ".join(f"{k}={getattr(small, k)}" for k in DIM_KEYS)
        raise ConfigError(
            f"{self.key}.constraints admit no model of this space: the cheapest (mixers {candidates[-1]}, "
            f"T={small.T}, {widths}) has {'; '.join(violations)}"
        )

    def _checked(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for name, values in self.choices().items():
            if name not in params:
                raise ConfigError(f"trial parameters lack '{name}'; expected: {', '.join(self.choices())}")
            value = params[name]
            match = [v for v in values if v == value]
            if not match:
                raise ConfigError(f"trial parameter {name}={value!r} is not in the space; allowed: {values}")
            out[name] = match[0]
        return out


def _is_list_node(x: Any) -> bool:
    try:
        from omegaconf import ListConfig
    except ImportError:  # pragma: no cover
        return False
    return isinstance(x, ListConfig)


def _plain(x: Any) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(x) if _is_list_node(x) else [_plain(i) if _is_list_node(i) else i for i in x]
