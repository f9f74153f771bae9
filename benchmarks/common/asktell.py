"""The per-trial search as the benchmarks replay it: one Optuna ask/tell loop with the search's budget rule.

`search.trials.StudyLedger` is the search's own loop, and the rule here is its rule: a proposal of
an architecture already trained in this run is told the earlier outcome without training and does
not count; `MAX_REPEATS` such proposals in a row end the run (an exhausted space). The ledger itself
does not fit a benchmark without bending it: its budget is `Study.budget` (for the studies these
benchmarks load with `search.strategy=supernet`, the supernet's confirmations, not the per-trial
trials); it writes the search's trial record on every proposal and builds the model of every trial
it starts to price it; and its early-stopping rule compares a trial only with the cheaper ones,
where the benchmarks also replay a plain accuracy median over every trial and feed a cached curve
through the rule before deciding to train.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

#: What `train` returns for a trial: its Optuna state name (COMPLETE, PRUNED or FAIL) and its values
#: (None unless COMPLETE).
Outcome = tuple[str, Optional[list[float]]]


def per_trial_search(study: Any, sampler: str, seed: int, budget: int, key: Callable[[dict], str],
                     train: Callable[[Any, str], Outcome]) -> tuple[dict[str, Outcome], int]:
    """Ask/tell `sampler` (seeded, the search's own sampler factory) until `budget` distinct
    architectures have an outcome: `train(trial, key)` trains a new one; a repeat is told its earlier
    outcome. Returns ({key: outcome} in the order trained, proposals asked). An exception from `train`
    (a replay that reached what its cache lacks) ends the run; the trials before it keep their outcome
    in the caller's records."""
    import optuna

    from search.study import make_sampler
    from search.trials import MAX_REPEATS

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ostudy = optuna.create_study(directions=study.directions, sampler=make_sampler(sampler, seed=seed, budget=budget))
    distributions = study.space.distributions()
    outcomes: dict[str, Outcome] = {}
    repeats_in_a_row = proposals = 0
    while len(outcomes) < budget and repeats_in_a_row < MAX_REPEATS:
        trial = ostudy.ask(distributions)
        proposals += 1
        architecture = key(trial.params)
        if architecture in outcomes:
            _tell(ostudy, trial, outcomes[architecture])
            repeats_in_a_row += 1
            continue
        repeats_in_a_row = 0
        outcomes[architecture] = train(trial, architecture)
        _tell(ostudy, trial, outcomes[architecture])
    return outcomes, proposals


def _tell(ostudy: Any, trial: Any, outcome: Outcome) -> None:
    from optuna.trial import TrialState

    state, values = outcome
    if values is not None:
        ostudy.tell(trial, values)
    else:
        ostudy.tell(trial, state=TrialState[state])
