"""Optuna samplers by name: `tpe`, `nsga2`, `random`, `gp`, each seeded.

All four handle several objectives (accuracy up, energy down). Startup sizes are scaled to the
budget: the library defaults (10 random trials for TPE and GP, a population of 50 for NSGA-II) would
leave a 16-trial quick-start entirely random.

A resumed study must not replay the random stream of the first run: a sampler seeded as before
would propose the architectures it already proposed, and the search would spend the rest of its
budget on duplicates. `session_seed` therefore derives each run's seed from the study seed and the
number of trials already in storage, so runs stay reproducible but never repeat each other.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from fwformer.cli import ConfigError, closest

SAMPLERS = ("tpe", "nsga2", "random", "gp")


def session_seed(seed: Optional[int], trials_in_storage: int) -> Optional[int]:
    """The seed of one study execution: the study seed on a fresh study, a derived one on resume."""
    if seed is None or trials_in_storage == 0:
        return seed
    import numpy as np

    return int(np.random.SeedSequence([int(seed), int(trials_in_storage)]).generate_state(1)[0])


def study_sampler(study: Any, *, trials_in_storage: int = 0, budget: Optional[int] = None):
    """The sampler a study's `search` section names, with its options, seeded for this execution
    (`session_seed`), its start-up phase sized to `budget` (default: the study's budget). The one
    place a search builds its sampler: the plan (to check the options), the study and the supernet's
    candidates."""
    s = study.search
    return make_sampler(s.sampler, seed=session_seed(s.seed, trials_in_storage),
                        budget=study.budget if budget is None else budget, **dict(s.sampler_options or {}))


def make_sampler(name: str, *, seed: Optional[int] = None, budget: int = 100, **options: Any):
    """A seeded Optuna sampler; `budget` (the study's trial count) sizes the random start-up phase;
    `options` (the study's `search.sampler_options`) are keyword arguments of the sampler class."""
    import optuna

    startup = max(4, min(10, budget // 3))
    defaults: dict[str, dict[str, Any]] = {
        # constant_liar keeps parallel TPE workers from proposing the same point while others run.
        "tpe": dict(n_startup_trials=startup, multivariate=True, constant_liar=True),
        "nsga2": dict(population_size=max(4, min(50, budget // 4))),
        "random": {},
        "gp": dict(n_startup_trials=startup),
    }
    classes: dict[str, Callable[..., Any]] = {
        "tpe": optuna.samplers.TPESampler,
        "nsga2": optuna.samplers.NSGAIISampler,
        "random": optuna.samplers.RandomSampler,
        "gp": optuna.samplers.GPSampler,
    }
    if name not in classes:
        raise ConfigError(f"unknown sampler '{name}'{closest(name, SAMPLERS)}; expected one of: {', '.join(SAMPLERS)}")
    import warnings

    kwargs = {**defaults[name], **options, "seed": seed}
    with warnings.catch_warnings():
        # `multivariate` and GPSampler are flagged experimental; that is known and not the user's to act on.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        try:
            return classes[name](**kwargs)
        except TypeError as err:
            raise ConfigError(f"search.sampler_options do not fit the {name} sampler: {err}") from None
