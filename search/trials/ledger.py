"""The study ledger: asks the Optuna study for trials and tells it their outcomes (driver only).

Only Optuna's public API: `study.ask`, `study.tell` and `set_user_attr` on the `Trial` objects the
ledger holds, `enqueue_trial` for a retry. What it keeps in memory (live trials, repeats waiting for
a live twin, early-stopping curves, what each architecture's outcome was) is rebuilt from the
storage on resume, so the Optuna storage stays the single source of truth.

- Every trained trial ends in exactly one Optuna state: COMPLETE (values in the study's objective
  order), PRUNED (stopped early) or FAIL (with `error`); an interrupted one is FAIL with a retry.
- Identical architectures (the space's canonical key) are trained once: a repeat proposal is told
  the earlier outcome without training, and does not count towards the budget; a proposal outside
  the constraints is told PRUNED (`infeasible`) so the sampler learns to avoid it.
- The budget `search.trials` counts trained trials that reached an outcome, so a search, however
  often interrupted and resumed, ends with exactly that many.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from search.trials import checkpoints
from search.trials.early_stop import EarlyStopRule, Fidelity
from search.trials.outcome import Outcome
from search.records import (FINISHED, INFEASIBLE, REPEAT, TRAINED, LiveTrial, Result, TrialRecord, counted,
                            model_cost, retry_attrs)

#: How many proposals in a row may be repeats or infeasible before the space counts as exhausted.
MAX_REPEATS = 200


class StudyLedger:
    def __init__(self, study: Any, optuna_study: Any, *, num_threads: Optional[int] = None,
                 cost: Optional[Callable[[Any], tuple[int, float]]] = None,
                 checkpoint_exists: Optional[Callable[[str], bool]] = None, say: Callable[[str], None] = print):
        self.study = study
        self.optuna = optuna_study
        self.fidelity = Fidelity(EarlyStopRule.from_study(study), study.search.early_stop.metric,
                                 int(study.base.train.epochs))
        self.budget = study.budget
        self.distributions = study.space.distributions()
        self.num_threads = num_threads
        self.cost = cost or model_cost
        self.checkpoint_exists = checkpoint_exists or checkpoints.exists
        self.say = say
        self.live: dict[int, LiveTrial] = {}
        self.waiting_repeats: dict[str, list[Any]] = {}  # key of a live trial -> repeat Trials
        self.results: dict[str, int] = {}  # canonical key -> the trained trial holding its outcome
        self.finished_results: dict[int, Result] = {}
        self.counts = {state: 0 for state in FINISHED}
        self.exhausted = False
        self._costs: dict[str, tuple[int, float]] = {}
        self._load()

    def _load(self) -> None:
        for t in counted(self.optuna.get_trials(deepcopy=False)):
            self._remember(t.number, t.state.name, t.values, TrialRecord.of(t))

    def _remember(self, number: int, state: str, values: Optional[list], record: TrialRecord) -> None:
        self.counts[state] += 1
        self.results.setdefault(record.canonical_key or "", number)
        self.finished_results[number] = Result(state, list(values) if values else None, record)
        if record.energy_bound_mj is not None:
            self.fidelity.add(number, record.energy_bound_mj, record.curve)

    # ---- counting -------------------------------------------------------------------------------
    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    def remaining(self) -> int:
        return max(0, self.budget - self.finished - len(self.live))

    # ---- asking ---------------------------------------------------------------------------------
    def suggest(self) -> Optional[dict]:
        """The trainable's config of the next trial to train, or None when the budget is spent
        (or the sampler proposes only repeats: `exhausted`)."""
        from fwformer.config import config_to_dict
        from optuna.trial import TrialState

        for _ in range(MAX_REPEATS):
            if self.remaining() <= 0:
                return None
            trial = self.optuna.ask(self.distributions)
            cfg = self.study.trial_config(trial.params)
            key = self.study.space.canonical_key(cfg)
            violations = self.study.space.check_constraints(cfg)
            if violations:
                TrialRecord(kind=INFEASIBLE, canonical_key=key, infeasible=violations).write(trial)
                self.optuna.tell(trial, state=TrialState.PRUNED)
                self.say(f"trial {trial.number}: outside the space's constraints ({'; '.join(violations)}), not trained")
                continue
            if self.study.search.dedupe and key in self.results:
                self._tell_repeat(trial, key, self.results[key])
                continue
            twin = next((t for t in self.live.values() if t.key == key), None)
            if self.study.search.dedupe and twin is not None:
                TrialRecord(kind=REPEAT, canonical_key=key, duplicate_of=twin.number).write(trial)
                self.waiting_repeats.setdefault(key, []).append(trial)
                self.say(f"trial {trial.number}: the architecture of trial {twin.number}, in training; not trained "
                         f"again, it gets that trial's outcome")
                continue
            return self._start(trial, cfg, key, config_to_dict(cfg))
        self.exhausted = True
        return None

    def _start(self, trial: Any, cfg: Any, key: str, config: dict) -> dict:
        if key not in self._costs:
            self._costs[key] = self.cost(cfg)
        param_count, energy_bound = self._costs[key]
        queued = TrialRecord.of(trial)  # a retry carries its lineage, MLflow run and checkpoint
        record = TrialRecord(kind=TRAINED, canonical_key=key, config=config, seed=int(cfg.train.seed),
                             energy_bound_mj=energy_bound, param_count=param_count)
        record.write(trial)
        for name in ("requeued_from", "retry_of", "mlflow_run_id", "checkpoint", "infra_failures"):
            setattr(record, name, getattr(queued, name))
        if record.checkpoint and not self.checkpoint_exists(record.checkpoint):
            # Training starts again at epoch 1, into a new MLflow run: the old run's epochs are not repeated.
            self.say(f"trial {trial.number} (retry of {record.retry_of}): its checkpoint {record.checkpoint} is "
                     f"gone; it trains again from epoch 1 in a new MLflow run")
            record.checkpoint = record.mlflow_run_id = None
            trial.set_user_attr("checkpoint_lost", True)
        self.live[trial.number] = LiveTrial(trial, key, config, energy_bound, record)
        self.fidelity.add(trial.number, energy_bound)
        return {
            "number": trial.number,
            "config": config,
            "energy_bound_mj": energy_bound,
            "checkpoint": record.checkpoint,
            # Torch threads = the trial's CPUs unless the study fixed train.num_threads; kept out of the
            # stored config, so an exported architecture trains with the machine's default.
            "num_threads": self.num_threads,
        }

    def _tell_repeat(self, trial: Any, key: str, source: int) -> None:
        """Finish proposal `trial` with the outcome of trained trial `source` (same architecture)."""
        from optuna.trial import TrialState

        result = self.finished_results[source]
        src = result.record
        self.say(f"trial {trial.number}: the architecture of trial {source}, not trained again")
        TrialRecord(kind=REPEAT, canonical_key=key, duplicate_of=source, config=src.config, metrics=src.metrics,
                    mlflow_run_id=src.mlflow_run_id, seed=src.seed, error=src.error).write(trial)
        if result.state == "COMPLETE":
            self.optuna.tell(trial, result.values)
        else:
            self.optuna.tell(trial, state=TrialState[result.state])

    # ---- early stopping -------------------------------------------------------------------------
    def record_epoch(self, number: int, metrics: dict) -> bool:
        """Note a trial's epoch result; True when the early-stopping rule stops it here."""
        live = self.live.get(number)
        if live is None or live.stopped_early:
            return False
        live.stopped_early = self.fidelity.record(number, metrics)
        return live.stopped_early

    # ---- telling --------------------------------------------------------------------------------
    def note_run(self, number: int, run_id: str) -> None:
        """The MLflow run of trial `number`, kept with it while it is live (a run created after the trial
        ended, tracking having been behind, is found by its `trial` tag instead)."""
        live = self.live.get(number)
        if live is not None:
            live.record.mlflow_run_id = run_id
            live.trial.set_user_attr("mlflow_run_id", run_id)

    def note_checkpoint(self, number: int, checkpoint: str) -> None:
        """Where live trial `number`'s latest epoch checkpoint was persisted."""
        live = self.live.get(number)
        if live is not None and checkpoint != live.record.checkpoint:
            live.record.checkpoint = checkpoint
            live.trial.set_user_attr("checkpoint", checkpoint)

    def note_infra_failure(self, number: int, cause: str) -> int:
        """An infrastructure failure of live trial `number` (a lost node, a dead worker) that Ray Tune
        retries from its checkpoint; returns how many this training has had."""
        live = self.live.get(number)
        if live is None:
            return 0
        live.record.infra_failures = [*(live.record.infra_failures or []), cause[:300]]
        live.trial.set_user_attr("infra_failures", live.record.infra_failures)
        return len(live.record.infra_failures)

    def finish(self, number: int, outcome: Outcome) -> None:
        """Tell Optuna how trained trial `number` ended (COMPLETE, PRUNED or FAIL); resolve its repeats."""
        from optuna.trial import TrialState

        live = self.live.pop(number)
        record = live.record
        record.metrics = {k: v for k, v in outcome.metrics.items() if v is None or isinstance(v, (bool, int, float, str))}
        curve = self.fidelity.curve(number)
        record.curve = {str(k): v for k, v in sorted(curve.items())}
        record.error = outcome.error
        if outcome.state == "PRUNED":
            record.stopped_at_epoch = max(curve) if curve else 0
        TrialRecord(metrics=record.metrics, curve=record.curve, error=record.error,
                    stopped_at_epoch=record.stopped_at_epoch).write(live.trial)
        values = outcome.values(self.study.metric_names)
        if values is not None:
            self.optuna.tell(live.trial, values)
        else:
            self.optuna.tell(live.trial, state=TrialState[outcome.state])
        self._remember(number, outcome.state, values, record)
        for repeat in self.waiting_repeats.pop(live.key, []):
            self._tell_repeat(repeat, live.key, number)

    def give_up(self, number: int, reason: str) -> None:
        """Infrastructure failed a trial more often than Ray may retry it: FAIL it with the cause, but
        as no outcome of the architecture (not counted, not cached: a later proposal trains it)."""
        live = self._drop(number)
        if live is not None:
            TrialRecord(error=reason, infra_failures=live.record.infra_failures).write(live.trial)
            live.trial.set_user_attr("infrastructure", True)
            self.optuna.tell(live.trial, state=_fail())

    def interrupt(self, number: int, reason: str) -> None:
        """A live trial that will not finish in this run: FAIL it and queue a retry with the same
        parameters (it continues from its checkpoint, into the same MLflow run, next time)."""
        live = self._drop(number)
        if live is not None:
            live.trial.set_user_attr("error", reason)
            self.optuna.tell(live.trial, state=_fail())
            self.optuna.enqueue_trial(live.params, user_attrs=retry_attrs(live.number, live.record))

    def _drop(self, number: int) -> Optional[LiveTrial]:
        """Forget a live trial that ends without an outcome; its waiting repeats fail with it."""
        live = self.live.pop(number, None)
        if live is not None:
            self.fidelity.curves.pop(number, None)  # a half curve is nobody's rival
            for repeat in self.waiting_repeats.pop(live.key, []):
                self.optuna.tell(repeat, state=_fail())
        return live

    def interrupt_waiting_repeats(self) -> None:
        for repeats in self.waiting_repeats.values():
            for repeat in repeats:
                self.optuna.tell(repeat, state=_fail())
        self.waiting_repeats.clear()


def _fail() -> Any:
    from optuna.trial import TrialState

    return TrialState.FAIL
