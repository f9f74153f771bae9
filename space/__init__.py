"""Search spaces over the token mixers (and T, widths) of spiking transformers.

Declares and validates spaces; does no training. `load_space(spec, base)` -> `SearchSpace`.
"""
from space.cost import Cost, model_cost
from space.schema import ConstraintsConfig, SpaceConfig
from space.search_space import ARCH_FIELDS, SearchSpace, arch_fields, canonical_key, load_space

__all__ = ["ARCH_FIELDS", "ConstraintsConfig", "Cost", "SearchSpace", "SpaceConfig", "arch_fields",
           "canonical_key", "load_space", "model_cost"]
