"""The Pareto front of a study for whatever objectives it declares: Pareto geometry (mask,
hypervolume, knee), the front of a set of trials and the picks on it, and a study read back from
its Optuna storage, read only.
"""
from __future__ import annotations

from search.front.front import Front, Objectives, parse_pick
from search.front.pareto import attainment, hypervolume, knee_index, layers, pareto_mask, ranks
from search.front.stored import (
    DEFAULT_STORAGE, candidates_of, load_stored_study, open_read_only, study_objectives,
)

__all__ = [
    "attainment",
    "ranks",
    "DEFAULT_STORAGE",
    "Front",
    "Objectives",
    "candidates_of",
    "hypervolume",
    "knee_index",
    "layers",
    "load_stored_study",
    "open_read_only",
    "pareto_mask",
    "parse_pick",
    "study_objectives",
]
