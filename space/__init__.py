"""Search spaces over the token mixers (and T, widths) of spiking transformers.

Declares and validates spaces; does no training. `load_space(spec, base)` -> `SearchSpace`.
"""
from space.cost import Cost, model_cost
from space.schema import ConstraintsConfig, SpaceConfig
from space.search_space import SearchSpace, canonical_key, load_space

__all__ = ["ConstraintsConfig", "Cost", "SearchSpace", "SpaceConfig",
           "canonical_key", "load_space", "model_cost"]
