"""The YAML shape of a search space (an OmegaConf structured config: unknown keys and wrong types
are rejected with their key path). `space.space.load_space` checks what types cannot."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional


@dataclass
class ConstraintsConfig:
    max_params: Optional[int] = None
    # Energy at firing rate 1 (every neuron fires every step): an upper bound of the energy measured
    # on data, so a model under the ceiling here stays under it after training.
    max_energy_mj: Optional[float] = None


@dataclass
class SpaceConfig:
    # A YAML file holding the space (relative to the study file); keys given beside it override it.
    file: Optional[str] = None
    depth: Optional[int] = None  # None: the base config's depth
    # Candidate mixers: one list for every block (`[ssa, fft2d, dwt]`) or one list per block
    # (`[[fft2d, dwt], [ssa, fft2d]]`). A bare family name (`dwt`) expands over `wavelets` x `levels`.
    mixers: List[Any] = field(default_factory=list)
    wavelets: List[str] = field(default_factory=lambda: ["haar"])
    levels: List[int] = field(default_factory=lambda: [1])
    T: List[int] = field(default_factory=list)  # empty: the base config's T
    # Optional width choices; empty: the base config's value, not searched.
    embed_dim: List[int] = field(default_factory=list)
    num_heads: List[int] = field(default_factory=list)
    mlp_ratio: List[float] = field(default_factory=list)
    # The block convention as a choice (`spike`, `membrane`: the site's mixer reference); empty: the base's.
    shortcut: List[str] = field(default_factory=list)
    constraints: ConstraintsConfig = field(default_factory=ConstraintsConfig)
