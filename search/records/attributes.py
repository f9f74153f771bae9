"""What the search stores on an Optuna trial (its user attributes), named in one place.

Optuna is the source of truth of a search: a resumed or exported study is read back from these
attributes alone. `TrialRecord.of(trial)` reads them from a live or frozen trial, `record.write(trial)`
sets the ones given on a live trial (the only kind Optuna lets us write to).

Kinds of trials: `trained` (sent to Ray and trained), `repeat` (an architecture already trained or
in training: told the same outcome, never trained), `infeasible` (outside the space's constraints:
told PRUNED without training). Interrupted trials are FAIL in Optuna and have a retry: a trial queued
with the same parameters whose `retry_of` names them (`interrupted_numbers`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable, Optional

TRAINED, REPEAT, INFEASIBLE = "trained", "repeat", "infeasible"
SUPERNET = "supernet"  # a candidate the supernet scored (in the candidate study, never trained)
CANDIDATES_SUFFIX = ".supernet"  # the candidate study of study S is S + this, in the same storage
FINISHED = ("COMPLETE", "PRUNED", "FAIL")  # the states of a trained trial that reached an outcome
# Attributes of the Optuna study itself that a report reads (search.report.convergence, search.report.compare).
STUDY_RESOURCES = "resources"  # {"cpu", "gpu"} one trial holds: prices its compute
STUDY_SEARCH = "search"  # {"sampler", "seed", "strategy"} of the run that created the study
STUDY_BASE = "base"  # the base preset (a name or a YAML path): its own recipe is what an export trains in full


@dataclass
class TrialRecord:
    kind: Optional[str] = None
    canonical_key: Optional[str] = None
    config: Optional[dict] = None  # the resolved fwformer config the trial trains
    seed: Optional[int] = None
    energy_bound_mj: Optional[float] = None  # energy at firing rate 1, known before training
    param_count: Optional[int] = None
    metrics: Optional[dict] = None  # the final result (or the last epoch's, when stopped early)
    curve: Optional[dict] = None  # {"epoch": early-stopping metric}
    mlflow_run_id: Optional[str] = None
    error: Optional[str] = None
    stopped_at_epoch: Optional[int] = None
    duplicate_of: Optional[int] = None  # a repeat: the trial that holds this architecture's outcome
    infeasible: Optional[list] = None  # the constraints an infeasible proposal breaks
    requeued_from: Optional[int] = None  # the first trial of an interrupted training (owns its checkpoint)
    retry_of: Optional[int] = None  # the interrupted trial this one continues
    checkpoint: Optional[str] = None  # the last epoch checkpoint of the training (a path or URI)
    infra_failures: Optional[list] = None  # causes of the infrastructure failures this training survived

    @classmethod
    def of(cls, trial: Any) -> "TrialRecord":
        attrs = trial.user_attrs
        return cls(**{f.name: attrs[f.name] for f in dataclasses.fields(cls) if f.name in attrs})

    def write(self, trial: Any) -> None:
        """Set every attribute this record gives (not None) on the live `trial`."""
        for name, value in self.given().items():
            trial.set_user_attr(name, value)

    def given(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}

    @property
    def trained(self) -> bool:
        return self.kind == TRAINED

    @property
    def lineage(self) -> Optional[int]:
        """The trial whose folder holds this training's checkpoint (itself, unless it is a retry)."""
        return self.requeued_from


def interrupted_numbers(trials: Iterable[Any]) -> set[int]:
    """Trials that were interrupted: some later trial retries them."""
    out = set()
    for t in trials:
        retry_of = t.user_attrs.get("retry_of")
        if retry_of is not None:
            out.add(int(retry_of))
    return out


def counted(trials: Iterable[Any]) -> list:
    """The trials the budget counts, in the order given: trained, with an outcome, neither
    interrupted (a retry continues them) nor failed by infrastructure (no outcome of the architecture)."""
    trials = list(trials)
    interrupted = interrupted_numbers(trials)
    return [t for t in trials if TrialRecord.of(t).trained and t.state.name in FINISHED
            and t.number not in interrupted and not t.user_attrs.get("infrastructure")]


def counted_in_order(trials: Iterable[Any]) -> list:
    """The trials the budget counts (`counted`), in the order they finished: the history a
    hypervolume curve steps through, one step per counted trial."""
    return sorted(counted(trials), key=lambda t: (t.datetime_complete or t.datetime_start, t.number))


def retry_attrs(number: int, record: TrialRecord, *, run_id: Optional[str] = None) -> dict[str, Any]:
    """User attributes of the trial queued to continue interrupted trial `number` (whose record is
    `record`): its lineage, its MLflow run and its last checkpoint."""
    root = record.requeued_from if record.requeued_from is not None else number
    return TrialRecord(requeued_from=root, retry_of=number, mlflow_run_id=run_id or record.mlflow_run_id,
                       checkpoint=record.checkpoint, infra_failures=record.infra_failures).given()


@dataclass
class LiveTrial:
    trial: Any  # the optuna.trial.Trial this ledger asked for
    key: str
    config: dict  # the resolved fwformer config
    energy_bound_mj: float
    record: TrialRecord
    stopped_early: bool = False

    @property
    def number(self) -> int:
        return self.trial.number

    @property
    def params(self) -> dict:
        return dict(self.trial.params)


@dataclass
class Result:
    """What a finished training left: enough to tell a repeat the same outcome."""

    state: str
    values: Optional[list]
    record: TrialRecord


def model_cost(cfg: Any) -> tuple[int, float]:
    """(parameters, energy at firing rate 1) of a trial's model: known before it trains."""
    from space.cost import model_cost as cost

    c = cost(cfg, energy=True)
    return c.params, float(c.energy_mj)
