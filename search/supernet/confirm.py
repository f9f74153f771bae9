"""Confirming the supernet's front: choose the best k scored candidates, queue them as trials.

Which k: those whose supernet scores give the largest hypervolume together, under the study's own
objectives and reference point (the figure the study reports): greedy hypervolume subset selection,
the standard approximation of the best k points of a front (each step adds the candidate that
raises the hypervolume most). When the supernet's front holds fewer than k candidates, or the
remaining ones add nothing, the next layer of non-dominated sorting is chosen from the same way.

The chosen architectures are queued in the study's Optuna study (`enqueue_trial`, with the
candidate's number and supernet scores as user attributes) and trained by the normal trial loop
(Ray Tune, early stopping, MLflow children, `search.front.Front`) with a budget of k; the study's
reported front, export and knee come from those trials alone.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from search.front import pareto
from search.records import TrialRecord

ENQUEUED = "supernet_enqueued"  # study attribute: the candidate numbers queued as trials
CANDIDATE_ATTR = "supernet_candidate"  # trial attribute: the candidate a trial confirms
SCORES_ATTR = "supernet_scores"  # trial attribute: the candidate's scores with inherited weights


def front_indices(points: Sequence[Sequence[float]], directions: Sequence[str]) -> list[int]:
    pts = np.asarray(points, dtype=float).reshape(len(points), len(directions))
    return [int(i) for i in np.flatnonzero(pareto.pareto_mask(pts, directions))]


def choose(points: Sequence[Sequence[float]], directions: Sequence[str], reference: Sequence[float],
           k: int) -> list[int]:
    """Indices of the k points chosen (module docstring), in the order they were chosen."""
    return pareto.best_subset(points, directions, reference, k)


def enqueue(optuna_study: Any, candidates: Sequence[Any]) -> None:
    """Queue each candidate's architecture as a trial of the study; marks the study so a resume does
    not queue them twice."""
    for t in candidates:
        metrics = TrialRecord.of(t).metrics or {}
        scores = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
        optuna_study.enqueue_trial(dict(t.params), user_attrs={CANDIDATE_ATTR: t.number, SCORES_ATTR: scores})
    optuna_study.set_user_attr(ENQUEUED, [t.number for t in candidates])


def confirmed_trials(optuna_study: Any) -> list:
    """The study's trials that train a supernet candidate."""
    return [t for t in optuna_study.get_trials(deepcopy=False) if CANDIDATE_ATTR in t.user_attrs]


def label_confirmed(optuna_study: Any, note: Callable[[int, dict], None]) -> None:
    """Tag the MLflow runs of the confirmed trials (`note(trial number, tags)`, the trial log's, which
    writes through the outbox): trained stand-alone, which candidate, its supernet scores."""
    for t in confirmed_trials(optuna_study):
        scores = t.user_attrs.get(SCORES_ATTR) or {}
        note(t.number, {"evaluation": "trained", "strategy": "supernet",
                        "confirms_candidate": str(t.user_attrs[CANDIDATE_ATTR]),
                        **{f"supernet_{k}": f"{v:.6g}" for k, v in scores.items() if k in ("val_acc", "energy_mj")}})
