"""What matters: how much each searched parameter (each block's mixer, T, the widths) decides each
objective, with Optuna's own importance evaluators.

- `fanova` (default): `optuna.importance.FanovaImportanceEvaluator` (Hutter et al., ICML 2014): a
  random forest fitted to the objective, its variance split among the parameters; fixed seed, so
  the same study gives the same numbers.
- `ped-anova`: `optuna.importance.PedAnovaImportanceEvaluator` (Watanabe et al., IJCAI 2023):
  which parameters it takes to reach the best 10% of the objective (its default quantile).

Each objective is its own `target`, in the direction it is optimised. Only trials that were trained
and COMPLETE with finite values count (the front's candidates: no repeat proposal is counted twice,
no stopped trial's partial values enter); they are copied into an in-memory study, so the study's
storage is only read.

Too few trials give numbers that are noise: an objective is evaluated only with at least
`max(MIN_TRIALS, TRIALS_PER_PARAM x parameters)` such trials, and PED-ANOVA also needs
`PED_ANOVA_TOP` of them in its top quantile (what its documentation asks for); otherwise the result
says how many there are and how many it takes.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from fwformer.cli import ConfigError

MIN_TRIALS = 10
TRIALS_PER_PARAM = 4
PED_ANOVA_TOP = 5
PED_ANOVA_QUANTILE = 0.1
EVALUATORS = {"fanova": "fANOVA", "ped-anova": "PED-ANOVA"}  # option -> name
SEED = 0


@dataclass
class Importance:
    objective: str
    evaluator: str  # an option of EVALUATORS: "fanova" | "ped-anova"
    trials: int  # the trials it used (or had)
    values: Optional[dict[str, float]]  # parameter -> importance (sums to 1), most important first
    needed: int = 0  # the trials it takes, when there were too few
    reason: str = ""  # why no values

    @property
    def top(self) -> Optional[tuple[str, float]]:
        return next(iter(self.values.items()), None) if self.values else None

    @property
    def name(self) -> str:
        return EVALUATORS[self.evaluator]

    @property
    def description(self) -> str:
        if self.evaluator == "fanova":
            return f"fANOVA (Optuna's FanovaImportanceEvaluator, 64 trees, seed {SEED})"
        return f"PED-ANOVA (Optuna's PedAnovaImportanceEvaluator, the top {PED_ANOVA_QUANTILE:.0%} of each objective)"


def check_evaluator(name: str) -> str:
    if name not in EVALUATORS:
        raise ConfigError(f"unknown importance evaluator '{name}'; expected one of: {', '.join(EVALUATORS)}")
    return name


def needed_trials(params: int, evaluator: str) -> int:
    need = max(MIN_TRIALS, TRIALS_PER_PARAM * params)
    if evaluator == "ped-anova":
        need = max(need, math.ceil(PED_ANOVA_TOP / PED_ANOVA_QUANTILE))
    return need


def param_label(name: str) -> str:
    """`mixer_2` -> `block 2 mixer`; T and the widths keep their names."""
    return f"block {name[len('mixer_'):]} mixer" if name.startswith("mixer_") else name


def importances(trials: Sequence[Any], metrics: Sequence[str], directions: Sequence[str], *,
                evaluator: str = "fanova") -> list[Importance]:
    """One Importance per objective, over `trials` (the front's candidates)."""
    import optuna

    check_evaluator(evaluator)
    params = searched_params(trials)
    need = needed_trials(len(params), evaluator)
    if len(trials) < need or not params:
        if not trials:
            why = "no trained trial has completed yet"
        elif not params:
            why = "no parameter was searched (every choice had one value)"
        else:
            why = (f"too few finished trials to tell what matters: {len(trials)}, and {EVALUATORS[evaluator]} over "
                   f"{len(params)} parameters needs at least {need}")
        return [Importance(m, evaluator, len(trials), None, need, why) for m in metrics]
    study = optuna.create_study(directions=list(directions))  # in memory: the storage is never written
    study.add_trials(trials)
    out = []
    for i, (metric, direction) in enumerate(zip(metrics, directions)):
        sign = -1.0 if (evaluator == "ped-anova" and direction == "maximize") else 1.0  # PED-ANOVA minimises
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PED-ANOVA's reminder that it minimises: handled by `sign`
            values = optuna.importance.get_param_importances(
                study, evaluator=_evaluator(evaluator), params=params, target=lambda t, i=i, s=sign: s * t.values[i])
        out.append(Importance(metric, evaluator, len(trials), {k: float(v) for k, v in values.items()}))
    return out


def searched_params(trials: Sequence[Any]) -> list[str]:
    """Parameters that every trial has and that offered more than one choice."""
    if not trials:
        return []
    common = set.intersection(*(set(t.distributions) for t in trials))
    out = []
    for name, dist in trials[0].distributions.items():
        choices = getattr(dist, "choices", None)
        if name in common and (choices is None or len(choices) > 1):
            out.append(name)
    return out


def _evaluator(name: str) -> Any:
    from optuna.importance import FanovaImportanceEvaluator, PedAnovaImportanceEvaluator

    if name == "fanova":
        return FanovaImportanceEvaluator(seed=SEED)
    return PedAnovaImportanceEvaluator(target_quantile=PED_ANOVA_QUANTILE)
