"""One-shot search (`search.strategy: supernet`): a weight-sharing supernet over every mixer and T of
the space, sub-networks scored with inherited weights, and the best k trained stand-alone as trials.

Modules: `training` (the supernet's config, home,
training and loading), `evaluate` (scoring a sub-network: BN recalibration, accuracy, energy),
`candidates` (the sampler over sub-networks, in the Optuna study `<study>.supernet`), `confirm`
(choosing and queueing the best k), `strategy` (the phases, run by `search.run`).
The model is `fwformer.supernet.Supernet`.
"""
from __future__ import annotations

from search.supernet.candidates import fail_running, open_candidates, scored, search_candidates
from search.supernet.confirm import CANDIDATE_ATTR, ENQUEUED, SCORES_ATTR, choose, confirmed_trials
from search.supernet.evaluate import SubnetScorer, choice_of
from search.supernet.log import SupernetLog
from search.supernet.strategy import SupernetStrategy
from search.supernet.training import (
    build_supernet, check_reusable, load_supernet, supernet_key, train_supernet, trained_epochs,
    training_config,
)

__all__ = [
    "CANDIDATE_ATTR",
    "ENQUEUED",
    "SCORES_ATTR",
    "SubnetScorer",
    "SupernetLog",
    "SupernetStrategy",
    "build_supernet",
    "check_reusable",
    "choice_of",
    "choose",
    "confirmed_trials",
    "fail_running",
    "load_supernet",
    "open_candidates",
    "scored",
    "search_candidates",
    "supernet_key",
    "train_supernet",
    "trained_epochs",
    "training_config",
]
