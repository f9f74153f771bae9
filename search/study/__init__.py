"""A study: the YAML file's structured schema, the checks of its meaning, the objectives it may
declare (`search.study.objectives`, one entry per metric), and the Optuna samplers it may name.

Imports `search.records` only.
"""
from __future__ import annotations

from search.study.objectives import ALIASES, METRICS, OBJECTIVES, SUPERNET_METRICS, Metric
from search.study.samplers import SAMPLERS, make_sampler, session_seed, study_sampler
from search.study.study import Study, load_study, repo_studies_dir, study_names

__all__ = [
    "ALIASES",
    "METRICS",
    "Metric",
    "OBJECTIVES",
    "SUPERNET_METRICS",
    "SAMPLERS",
    "Study",
    "load_study",
    "make_sampler",
    "repo_studies_dir",
    "session_seed",
    "study_names",
    "study_sampler",
]
