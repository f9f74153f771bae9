"""benchmarks.common.per_trial_search and random_architectures: the per-trial search every benchmark
replays, with the search's budget rule, and the random sample rank fidelity is measured on."""
from __future__ import annotations

import zlib

import pytest


@pytest.fixture(scope="module")
def small():
    """16 architectures: each of 4 blocks ssa or identity, T 1."""
    from search.study import load_study

    return load_study("quickstart", ["space.mixers=[ssa,identity]", "space.T=[1]"])


@pytest.fixture(scope="module")
def key(small):
    """The canonical key of a trial's params, remembered (a config build per proposal adds up)."""
    memo = {}

    def of(params):
        choice = tuple(sorted(params.items()))
        if choice not in memo:
            memo[choice] = small.space.canonical_key(small.trial_config(params))
        return memo[choice]

    return of


def values_of(key):
    h = zlib.crc32(key.encode())
    return [0.5 + (h % 1000) / 2000, 1e-4 * (1 + h % 97)]


def test_a_repeat_is_told_its_earlier_outcome_and_does_not_count(small, key):
    from benchmarks.common import per_trial_search

    trained = []

    def train(trial, key):
        trained.append(key)
        return ("FAIL", None) if len(trained) == 3 else ("COMPLETE", values_of(key))

    outcomes, proposals = per_trial_search(small, "random", 0, 10, key, train)
    assert list(outcomes) == trained and len(set(trained)) == 10, "each architecture trained once, in order"
    assert proposals > 10, "the sampler proposed repeats among 16 architectures"
    assert outcomes[trained[2]] == ("FAIL", None) and outcomes[trained[0]] == ("COMPLETE", values_of(trained[0]))


def test_an_exhausted_space_ends_the_run_after_max_repeats_in_a_row(small, key):
    from benchmarks.common import per_trial_search
    from search.trials import MAX_REPEATS

    outcomes, proposals = per_trial_search(small, "random", 1, 24, key, lambda trial, k: ("COMPLETE", values_of(k)))
    assert len(outcomes) == 16 and proposals >= 16 + MAX_REPEATS


def test_a_replay_that_reaches_what_it_lacks_ends_with_the_trials_before(small, key):
    from benchmarks.common import NotCached, per_trial_search

    seen = []

    def train(trial, key):
        if len(seen) == 4:
            raise NotCached(key)
        seen.append(key)
        return "COMPLETE", values_of(key)

    with pytest.raises(NotCached):
        per_trial_search(small, "tpe", 0, 10, key, train)
    again = []
    outcomes, _ = per_trial_search(small, "tpe", 0, 4, key, lambda trial, k: again.append(k) or ("COMPLETE", values_of(k)))
    assert again == seen, "the same seed proposes the same trials given the same outcomes"


def test_random_architectures_are_distinct_seeded_and_within_the_constraints(small):
    from benchmarks.common import random_architectures
    from search.study import load_study

    drawn = list(random_architectures(small, seed=3, n=10))
    keys = [small.space.canonical_key(small.trial_config(p)) for p in drawn]
    assert len(set(keys)) == 10 and drawn == list(random_architectures(small, seed=3, n=10))
    assert drawn != list(random_architectures(small, seed=4, n=10))
    costs = sorted(small.space.cost(small.trial_config(p)).params for p in random_architectures(small, seed=0, n=16))
    limit = costs[7]  # at most this many parameters: 8 of the 16 architectures, or more where several tie
    bounded = load_study("quickstart", ["space.mixers=[ssa,identity]", "space.T=[1]",
                                        f"space.constraints.max_params={limit}"])
    within = [p for p in random_architectures(bounded, seed=0, n=8)]
    assert len(within) == 8
    assert all(bounded.space.cost(bounded.trial_config(p)).params <= limit for p in within)
