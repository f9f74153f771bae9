"""Architectures drawn uniformly from a study's space: the random sample rank fidelity is measured on."""
from __future__ import annotations

import itertools
import random
from typing import Any, Callable, Iterator, Optional


def random_architectures(study: Any, seed: int, n: Optional[int] = None,
                         key: Optional[Callable[[dict], str]] = None) -> Iterator[dict]:
    """Trial params drawn uniformly from `study`'s space in a seeded order, each distinct architecture
    (canonical key; `key`: a remembering one, e.g. `CurveCache.key`) once, and only those within the
    space's constraints; the first `n`, or as many as asked for when `n` is None."""
    key = key or (lambda params: study.space.canonical_key(study.trial_config(params)))
    draws = _distinct(study, random.Random(seed), key)
    return draws if n is None else itertools.islice(draws, n)


def _distinct(study: Any, rng: random.Random, key: Callable[[dict], str]) -> Iterator[dict]:
    choices = study.space.choices()
    seen: set[str] = set()
    while True:
        params = {k: rng.choice(v) for k, v in choices.items()}
        architecture = key(params)
        if architecture in seen or study.space.check_constraints(study.trial_config(params)):
            continue
        seen.add(architecture)
        yield params
