"""The early-stopping rule of the search (pure): stop a trial dominated at its fidelity.

At every epoch e from `grace_epochs` up to the last-but-one, a trial stops when its validation
accuracy is below the median (or the `percentile`) of the accuracies other trials had *at the same
epoch e*, counting only trials whose architecture costs no more energy (energy at firing rate 1,
known before training), and only once `min_trials` such trials exist. Below the median of the
cheaper trials, at least half of them are both more accurate at equal training and no more
expensive: the trial is dominated at this fidelity several times over. Comparing with cheaper
trials only keeps the front honest: a plain accuracy median (Ray's schedulers, Optuna's pruners)
would stop every frugal model, since low-energy models are the less accurate ones, and cut the
cheap end off the front.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence


@dataclass(frozen=True)
class EarlyStopRule:
    enabled: bool = False
    grace_epochs: int = 2
    percentile: float = 50.0
    min_trials: int = 3

    @classmethod
    def from_study(cls, study: Any) -> "EarlyStopRule":
        e = study.search.early_stop
        return cls(enabled=bool(e.enabled), grace_epochs=int(e.grace_epochs),
                   percentile=50.0 if e.rule == "median" else float(e.percentile), min_trials=int(e.min_trials))

    def applies(self, epoch: int, total_epochs: int) -> bool:
        """Checked from `grace_epochs` on, never at the last epoch (nothing is left to save)."""
        return self.enabled and self.grace_epochs <= epoch < total_epochs

    def should_stop(self, acc: float, energy: float, peers: Sequence[tuple[float, float]]) -> bool:
        """`acc` at some epoch and energy bound `energy`, given (accuracy at that epoch, energy bound)
        of the other trials."""
        return dominated_at_fidelity(acc, energy, peers, percentile=self.percentile, min_trials=self.min_trials)


def dominated_at_fidelity(acc: float, energy: float, peers: Sequence[tuple[float, float]], *,
                          percentile: float = 50.0, min_trials: int = 3) -> bool:
    """True when `acc` is below the `percentile` of the accuracies of the peers that cost no more
    energy, and at least `min_trials` such peers exist. A non-finite accuracy always stops."""
    import numpy as np

    if not math.isfinite(acc):
        return True
    rivals = [a for a, e in peers if e <= energy and math.isfinite(a)]
    if len(rivals) < min_trials:
        return False
    return acc < float(np.percentile(rivals, percentile))


class Fidelity:
    """Every trial's early-stopping metric at every epoch (live and finished), and the rule on them.

    Each trial is known by its energy bound: only trials that cost no more are its rivals."""

    def __init__(self, rule: EarlyStopRule, metric: str, total_epochs: int):
        self.rule = rule
        self.metric = metric
        self.total_epochs = total_epochs
        self.curves: dict[int, tuple[float, dict[int, float]]] = {}  # trial -> (energy bound, {epoch: value})

    def add(self, number: int, energy_bound: float, curve: dict | None = None) -> None:
        self.curves[number] = (float(energy_bound), {int(k): float(v) for k, v in (curve or {}).items()})

    def curve(self, number: int) -> dict[int, float]:
        return self.curves.get(number, (0.0, {}))[1]

    def record(self, number: int, metrics: dict) -> bool:
        """Note trial `number`'s epoch result; True when the rule stops it at this epoch."""
        if number not in self.curves or "epoch" not in metrics or self.metric not in metrics:
            return False
        energy, curve = self.curves[number]
        epoch, value = int(metrics["epoch"]), float(metrics[self.metric])
        curve[epoch] = value
        if not self.rule.applies(epoch, self.total_epochs):
            return False
        rivals = [(c[epoch], e) for n, (e, c) in self.curves.items() if n != number and epoch in c]
        return self.rule.should_stop(value, energy, rivals)
