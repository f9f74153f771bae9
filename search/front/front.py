"""The Pareto front of a study, for whatever objectives it declares: the one place that decides which
trials are on it. The terminal progress, the MLflow `pareto` tags and hypervolume, the plot, CSV and
HTML, the knee export and `search.export` all read it from here.

A trial can be on the front when it was trained (not a repeat proposal), is COMPLETE and has a
finite value for every objective; PRUNED, FAIL and interrupted trials never count.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from fwformer.cli import ConfigError, closest
from fwformer.config import expand_block_mixers
from search.front import pareto
from search.records import TRAINED, TrialRecord
from search.study import ALIASES, OBJECTIVES

#: Short names a pick may use for the usual objectives.
PICKS = ("knee", "max-<metric>", "min-<metric>", "<metric><=X", "<metric>>=X")
_THRESHOLD = re.compile(r"^\s*([A-Za-z_]+)\s*(<=|>=)\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*$")


@dataclass(frozen=True)
class Objectives:
    metrics: tuple[str, ...]
    directions: tuple[str, ...]  # "maximize" | "minimize", one per metric
    reference: tuple[float, ...]  # the hypervolume reference point (the worst value that still counts)

    @classmethod
    def of(cls, objectives: Sequence[tuple[str, str]], reference: Sequence[float]) -> "Objectives":
        return cls(tuple(m for m, _ in objectives), tuple(d for _, d in objectives), tuple(float(r) for r in reference))

    def best_first(self, metric: str) -> float:
        """Sign that sorts values of `metric` best first (for an objective; ascending otherwise)."""
        if metric in self.metrics and self.directions[self.metrics.index(metric)] == "maximize":
            return -1.0
        return 1.0


def can_be_on_front(trial: Any, kind: str = TRAINED) -> bool:
    return (TrialRecord.of(trial).kind == kind and trial.state.name == "COMPLETE" and trial.values is not None
            and all(math.isfinite(v) for v in trial.values))


class Front:
    """`kind` is the TrialRecord kind of the trials that count: trained trials (the study's front);
    the supernet strategy's candidate study reads its estimated front with kind `supernet`."""

    def __init__(self, trials: Iterable[Any], objectives: Objectives, *, kind: str = TRAINED):
        self.objectives = objectives
        self.trials = [t for t in trials if TrialRecord.of(t).kind == kind]  # finished or not, for plots
        self.candidates = [t for t in self.trials if can_be_on_front(t, kind)]
        mask = pareto.pareto_mask([list(t.values) for t in self.candidates], objectives.directions)
        members = [t for t, on in zip(self.candidates, mask) if on]
        self.members = sorted(members, key=self._order)
        self.numbers = {t.number for t in self.members}

    @classmethod
    def of_study(cls, optuna_study: Any, objectives: Objectives, *, kind: str = TRAINED) -> "Front":
        return cls(optuna_study.get_trials(deepcopy=False), objectives, kind=kind)

    def _order(self, t: Any) -> tuple:
        """Best in the last objective first (cheapest first for accuracy/energy), then the others."""
        ranks = [self.objectives.best_first(m) * self.value(t, m) for m in reversed(self.objectives.metrics)]
        return (*ranks, t.number)

    def __len__(self) -> int:
        return len(self.members)

    # ---- values ---------------------------------------------------------------------------------
    def value(self, trial: Any, metric: str) -> Optional[float]:
        """An objective from the trial's values, any other metric from its recorded result."""
        if metric in self.objectives.metrics and trial.values is not None:
            return float(trial.values[self.objectives.metrics.index(metric)])
        v = (TrialRecord.of(trial).metrics or {}).get(metric)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    @property
    def hypervolume(self) -> float:
        points = [list(t.values) for t in self.candidates]
        if not points:
            return 0.0
        return pareto.hypervolume(points, self.objectives.directions, self.objectives.reference)

    @property
    def knee(self) -> Optional[Any]:
        if not self.members:
            return None
        return self.members[pareto.knee_index([list(t.values) for t in self.members], self.objectives.directions)]

    # ---- rows for tables and plots ----------------------------------------------------------------
    def row(self, trial: Any) -> dict[str, Any]:
        config = TrialRecord.of(trial).config or {}
        mixers = config.get("mixers") or [v for k, v in sorted(trial.params.items()) if k.startswith("mixer_")]
        return {
            "trial": trial.number,
            **{m: self.value(trial, m) for m in self.objectives.metrics},
            "T": config.get("T", trial.params.get("T")),
            "mixers": expand_block_mixers(mixers, config.get("depth") or len(mixers) or 1),
            "state": trial.state.name,
            "on_front": trial.number in self.numbers,
        }

    def rows(self) -> list[dict[str, Any]]:
        """The front's rows, in front order, the knee marked."""
        knee = self.knee
        return [{**self.row(t), "knee": t is knee} for t in self.members]

    def all_rows(self) -> list[dict[str, Any]]:
        """A row for every trained trial (finished or not), for plots."""
        return [self.row(t) for t in self.trials]

    # ---- picking one architecture -----------------------------------------------------------------
    def pick(self, spec: str) -> Any:
        """The front's trial a pick names (see `parse_pick`); ConfigError naming what the front offers."""
        kind, metric, x = parse_pick(spec, self.objectives.metrics)
        if not self.members:
            raise ConfigError("the study has no COMPLETE trial on its Pareto front yet")
        if kind == "knee":
            return self.knee
        usable = [t for t in self.members if self.value(t, metric) is not None]
        if not usable:
            raise ConfigError(f"pick '{spec}' needs '{metric}', which no front trial recorded; "
                              f"the study's objectives are {', '.join(self.objectives.metrics)}")
        if kind in ("max", "min"):
            sign = -1.0 if kind == "max" else 1.0
            return min(usable, key=lambda t: (sign * self.value(t, metric), self._order(t)))
        ok = [t for t in usable if (self.value(t, metric) <= x if kind == "<=" else self.value(t, metric) >= x)]
        if not ok:
            raise ConfigError(f"pick '{spec}' matches no point of the Pareto front; the front offers: {self.describe()}")
        # Within the threshold, the best in the other objective(s).
        return min(ok, key=lambda t: self._rank_without(t, metric))

    def _rank_without(self, t: Any, metric: str) -> tuple:
        others = [m for m in self.objectives.metrics if m != metric] or [metric]
        return (*[self.objectives.best_first(m) * self.value(t, m) for m in others], t.number)

    def describe(self) -> str:
        return ", ".join(f"trial {t.number}: " + " / ".join(f"{m} {self.value(t, m):.4g}"
                                                            for m in self.objectives.metrics) for t in self.members)


def parse_pick(spec: str, metrics: Sequence[str]) -> tuple[str, Optional[str], Optional[float]]:
    """`knee` -> ('knee', None, None); `max-acc` -> ('max', 'val_acc', None);
    `energy<=0.4` -> ('<=', 'energy_mj', 0.4). `acc>=90` on fractional accuracies means 90 %."""
    text = str(spec).strip()
    if text == "knee":
        return "knee", None, None
    m = re.fullmatch(r"(max|min)-([A-Za-z_]+)", text)
    if m:
        return m.group(1), ALIASES.get(m.group(2), m.group(2)), None
    m = _THRESHOLD.match(text)
    if m:
        metric, x = ALIASES.get(m.group(1), m.group(1)), float(m.group(3))
        if metric in OBJECTIVES and OBJECTIVES[metric].fraction and x > 1:
            x /= 100.0
        return m.group(2), metric, x
    raise ConfigError(f"unknown pick '{spec}'{closest(text, ['knee', *(f'max-{a}' for a in ALIASES)])}; expected "
                      f"one of: {', '.join(PICKS)} (metric e.g. acc, energy or {', '.join(metrics)}; X a number)")
