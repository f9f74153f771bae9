"""Optuna <-> Ray Tune: one Optuna study (sqlite) drives the search, Ray Tune runs the trials.

Why not Ray's `OptunaSearch`: it keeps its own in-memory view of the study (resume goes through
Ray's pickled experiment state, not the Optuna storage), and a trial that a scheduler stops early
is told to Optuna as COMPLETE with its partial values, so a half-trained model would enter the
sampler's history and the Pareto front as if it had finished. Here a small `Searcher` asks and
tells the persistent Optuna study directly, so that:

- the Optuna storage is the single source of truth: a resumed search reloads the same study,
  counts what finished there, and needs nothing from Ray's experiment directory;
- every trial ends in exactly one Optuna state: COMPLETE (trained to the last epoch, values in the
  study's objective order), PRUNED (stopped early by the rule below, never COMPLETE) or FAIL (an
  exception, NaN loss, out of memory; user attribute "error");
- identical architectures (the space's canonical key) are trained once: a repeat proposal is told
  the earlier outcome (user attribute "duplicate_of") without a Ray trial, and does not count
  towards the budget; a proposal that breaks the space's constraints is told PRUNED (user
  attribute "infeasible") without training, so the sampler learns to avoid it;
- the budget `search.trials` counts trained trials that reached an outcome, so a search, however
  often it is interrupted and resumed, ends with exactly that many.

Early stopping (`search.early_stop`): at every epoch e from `grace_epochs` up to the last-but-one,
a trial stops when its validation accuracy is below the median (or the `percentile`) of the
accuracies other trials had *at the same epoch e*, counting only trials whose architecture costs
no more energy (energy at firing rate 1, known before training), and only once `min_trials` such
trials exist. Being below the median of the cheaper trials means at least half of them are both
more accurate at equal training and no more expensive: the trial is dominated at this fidelity
several times over. Comparing against cheaper trials only is what keeps the front honest: a
plain median rule on accuracy (Ray's schedulers, Optuna's pruners) would stop every frugal model,
since low-energy models are the less accurate ones, and cut the cheap end off the front.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.stopper import Stopper

from search.study import Study

#: How many proposals in a row may be repeats or infeasible before the space counts as exhausted.
MAX_REPEATS = 200


# ---- the early-stopping rule (pure) ---------------------------------------------------------------
@dataclass(frozen=True)
class EarlyStopRule:
    enabled: bool = False
    grace_epochs: int = 2
    percentile: float = 50.0
    min_trials: int = 3

    @classmethod
    def from_study(cls, study: Study) -> "EarlyStopRule":
        e = study.search.early_stop
        return cls(enabled=bool(e.enabled), grace_epochs=int(e.grace_epochs),
                   percentile=50.0 if e.rule == "median" else float(e.percentile), min_trials=int(e.min_trials))

    def applies(self, epoch: int, total_epochs: int) -> bool:
        """The rule is checked after `grace_epochs` and never at the last epoch (nothing left to save)."""
        return self.enabled and self.grace_epochs <= epoch < total_epochs

    def should_stop(self, acc: float, energy: float, peers: Sequence[tuple[float, float]]) -> bool:
        """Stop a trial with accuracy `acc` (at some epoch) and energy bound `energy`, given the
        (accuracy at that same epoch, energy bound) of other trials."""
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


# ---- the study ledger: Optuna ask/tell plus what the driver knows about live trials -----------
@dataclass
class LiveTrial:
    number: int
    params: dict
    key: str
    config: dict  # resolved fwformer config
    energy_bound_mj: float
    param_count: int
    requeued_from: Optional[int] = None
    reuse_run_id: Optional[str] = None  # the MLflow run of the interrupted trial this one continues
    curve: dict = field(default_factory=dict)  # epoch -> early-stop metric
    stopped_early: bool = False
    ray_trial_id: Optional[str] = None
    mlflow_run_id: Optional[str] = None


@dataclass
class Outcome:
    """How a trained trial ended. `state` is 'COMPLETE', 'PRUNED' or 'FAIL'."""

    state: str
    metrics: dict = field(default_factory=dict)
    error: Optional[str] = None


TRAINED = "trained"  # user attr "kind" of trials that went to Ray


class StudyLedger:
    """Asks and tells the Optuna study; tracks live trials and early-stop curves. Driver only."""

    def __init__(self, study: Study, optuna_study: Any, *, trial_dir: Callable[[int], str],
                 faults: Optional[dict] = None, num_threads: Optional[int] = None):
        from optuna.trial import TrialState

        self.study = study
        self.optuna = optuna_study
        self.rule = EarlyStopRule.from_study(study)
        self.metric = study.search.early_stop.metric
        self.total_epochs = int(study.base.train.epochs)
        self.budget = int(study.search.trials)
        self.distributions = study.space.distributions()
        self.trial_dir = trial_dir
        self.faults = faults or {}
        self.num_threads = num_threads
        self.live: dict[int, LiveTrial] = {}
        self.pending_repeats: dict[str, list[int]] = {}  # key of a live trial -> repeat proposals
        self.results: dict[str, int] = {}  # canonical key -> the trained trial that holds its outcome
        self.peers: dict[int, tuple[float, dict]] = {}  # trial -> (energy bound, {epoch: metric})
        self.costs: dict[str, tuple[int, float]] = {}
        self.counts = {"COMPLETE": 0, "PRUNED": 0, "FAIL": 0}
        self.exhausted = False
        self.stopping = False
        for t in optuna_study.get_trials(deepcopy=False):
            if t.user_attrs.get("kind") != TRAINED or t.state not in (
                    TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL):
                continue
            if t.user_attrs.get("interrupted"):
                continue
            self.counts[t.state.name] += 1
            self.results.setdefault(t.user_attrs.get("canonical_key", ""), t.number)
            curve = {int(k): float(v) for k, v in (t.user_attrs.get("curve") or {}).items()}
            if "energy_bound_mj" in t.user_attrs:
                self.peers[t.number] = (float(t.user_attrs["energy_bound_mj"]), curve)

    # ---- counting ----------------------------------------------------------------------------
    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    def remaining(self) -> int:
        return max(0, self.budget - self.finished - len(self.live))

    # ---- asking ------------------------------------------------------------------------------
    def cost(self, cfg: Any, key: str) -> tuple[int, float]:
        """(parameters, energy at firing rate 1) of an architecture, built once per key."""
        if key not in self.costs:
            from space.cost import model_cost

            c = model_cost(cfg, energy=True)
            self.costs[key] = (c.params, float(c.energy_mj) if c.energy_mj is not None else float("nan"))
        return self.costs[key]

    def suggest(self) -> Optional[dict]:
        """The trainable's config of the next trial to train, or None when the search is done."""
        from fwformer.config import config_to_dict
        from optuna.trial import TrialState

        for _ in range(MAX_REPEATS):
            if self.stopping or self.remaining() <= 0:
                return None
            trial = self.optuna.ask(self.distributions)
            cfg = self.study.trial_config(trial.params)
            key = self.study.space.canonical_key(cfg)
            trial.set_user_attr("canonical_key", key)
            violations = self.study.space.check_constraints(cfg)
            if violations:
                trial.set_user_attr("infeasible", violations)
                self.optuna.tell(trial, state=TrialState.PRUNED)
                continue
            if self.study.search.dedupe and key in self.results:
                self._tell_repeat(trial.number, self.results[key])
                continue
            if self.study.search.dedupe and any(t.key == key for t in self.live.values()):
                trial.set_user_attr("duplicate_of", next(t.number for t in self.live.values() if t.key == key))
                self.pending_repeats.setdefault(key, []).append(trial.number)
                continue
            params_count, energy_bound = self.cost(cfg, key)
            config = config_to_dict(cfg)
            requeued_from = trial.user_attrs.get("requeued_from")
            for name, value in (("kind", TRAINED), ("config", config), ("seed", int(cfg.train.seed)),
                                ("energy_bound_mj", energy_bound), ("param_count", params_count)):
                trial.set_user_attr(name, value)
            live = LiveTrial(trial.number, dict(trial.params), key, config, energy_bound, params_count,
                             requeued_from=requeued_from, reuse_run_id=trial.user_attrs.get("mlflow_run_id"))
            self.live[trial.number] = live
            root = requeued_from if requeued_from is not None else trial.number
            return {
                "number": trial.number,
                "config": config,
                "energy_bound_mj": energy_bound,
                "out_dir": self.trial_dir(root),
                "resume": requeued_from is not None,
                # Torch threads = the trial's CPUs, unless the study fixed train.num_threads; kept out of
                # the stored config so an exported architecture trains with the machine's default.
                "num_threads": self.num_threads,
                "fault": self.faults.get(trial.number),
            }
        self.exhausted = True
        return None

    def _tell_repeat(self, number: int, source: int) -> None:
        """Finish proposal `number` with the outcome of trained trial `source` (same architecture)."""
        from optuna.trial import Trial, TrialState

        src = self._frozen(source)
        trial = Trial(self.optuna, self._trial_id(number))
        trial.set_user_attr("duplicate_of", source)
        for name in ("config", "metrics", "mlflow_run_id", "seed", "error"):
            if name in src.user_attrs:
                trial.set_user_attr(name, src.user_attrs[name])
        if src.state == TrialState.COMPLETE:
            self.optuna.tell(number, list(src.values))
        else:
            self.optuna.tell(number, state=TrialState.PRUNED if src.state == TrialState.PRUNED else TrialState.FAIL)

    # ---- early stopping ----------------------------------------------------------------------
    def record_epoch(self, number: int, metrics: dict) -> bool:
        """Note a trial's epoch result; True when the early-stopping rule stops it here."""
        live = self.live.get(number)
        if live is None or "epoch" not in metrics or self.metric not in metrics:
            return False
        epoch, value = int(metrics["epoch"]), float(metrics[self.metric])
        live.curve[epoch] = value
        if not self.rule.applies(epoch, self.total_epochs) or live.stopped_early:
            return False
        peers = [(curve[epoch], energy) for n, (energy, curve) in self._all_peers().items()
                 if n != number and epoch in curve]
        if self.rule.should_stop(value, live.energy_bound_mj, peers):
            live.stopped_early = True
            return True
        return False

    def _all_peers(self) -> dict[int, tuple[float, dict]]:
        peers = dict(self.peers)
        for n, t in self.live.items():
            peers[n] = (t.energy_bound_mj, t.curve)
        return peers

    # ---- telling -------------------------------------------------------------------------------
    def finish(self, number: int, outcome: Outcome) -> Any:
        """Tell Optuna how trained trial `number` ended; resolve the proposals that repeated it."""
        from optuna.trial import Trial, TrialState

        live = self.live.pop(number)
        trial = Trial(self.optuna, self._trial_id(number))
        metrics = {k: v for k, v in outcome.metrics.items() if _is_plain(v)}
        values = None
        state = outcome.state
        if state == "COMPLETE":
            names = self.study.metric_names
            missing = [m for m in names if not _finite(metrics.get(m))]
            if missing:
                state, outcome.error = "FAIL", f"objective(s) {', '.join(missing)} missing or not finite in the result"
            else:
                values = [float(metrics[m]) for m in names]
        trial.set_user_attr("metrics", metrics)
        trial.set_user_attr("curve", {str(k): v for k, v in sorted(live.curve.items())})
        if live.mlflow_run_id:
            trial.set_user_attr("mlflow_run_id", live.mlflow_run_id)
        if state == "PRUNED":
            trial.set_user_attr("stopped_at_epoch", max(live.curve) if live.curve else 0)
        if outcome.error:
            trial.set_user_attr("error", outcome.error)
        frozen = self.optuna.tell(number, values, state=None if values else TrialState[state])
        outcome.state = state
        self.counts[state] += 1
        self.results.setdefault(live.key, number)
        self.peers[number] = (live.energy_bound_mj, dict(live.curve))
        for repeat in self.pending_repeats.pop(live.key, []):
            self._tell_repeat(repeat, number)
        return frozen

    def interrupt(self, number: int, reason: str) -> None:
        """A live trial that will not finish in this run: FAIL it (marked interrupted, not counted)
        and queue its parameters again, so the next run trains it (into the same MLflow run)."""
        live = self.live.pop(number, None)
        if live is None:
            return
        fail_interrupted(self.optuna, self._frozen(number), reason, requeue=True, run_id=live.mlflow_run_id)
        for repeat in self.pending_repeats.pop(live.key, []):
            fail_interrupted(self.optuna, self._frozen(repeat), reason, requeue=False)

    def interrupt_pending_repeats(self, reason: str) -> None:
        for numbers in self.pending_repeats.values():
            for n in numbers:
                fail_interrupted(self.optuna, self._frozen(n), reason, requeue=False)
        self.pending_repeats.clear()

    def _trial_id(self, number: int) -> int:
        return self.optuna._storage.get_trial_id_from_study_id_trial_number(self.optuna._study_id, number)

    def _frozen(self, number: int) -> Any:
        return self.optuna._storage.get_trial(self._trial_id(number))


def fail_interrupted(optuna_study: Any, frozen: Any, reason: str, *, requeue: bool,
                     run_id: Optional[str] = None) -> None:
    """FAIL a RUNNING trial as interrupted (user attrs "interrupted", "error"); with `requeue`,
    enqueue its parameters again, carrying the trial it descends from and its MLflow run."""
    from optuna.trial import Trial, TrialState

    if frozen.state != TrialState.RUNNING:
        return
    trial = Trial(optuna_study, frozen._trial_id)
    trial.set_user_attr("interrupted", True)
    trial.set_user_attr("error", reason)
    optuna_study.tell(frozen.number, state=TrialState.FAIL)
    if requeue:
        attrs = {"requeued_from": frozen.user_attrs.get("requeued_from", frozen.number)}
        run_id = run_id or frozen.user_attrs.get("mlflow_run_id")
        if run_id:
            attrs["mlflow_run_id"] = run_id
        optuna_study.enqueue_trial(dict(frozen.params), user_attrs=attrs)


def recover_interrupted(optuna_study: Any, run_of: Callable[[int], Optional[str]] = lambda n: None,
                        reason: str = "interrupted: the search stopped before the trial finished; queued again"
                        ) -> list[int]:
    """After a crash or kill: fail the trials left RUNNING (marked interrupted) and queue again the
    ones that were being trained; `run_of(number)` finds a trial's MLflow run by its tag when the
    trial never recorded it. Returns the numbers queued again."""
    from optuna.trial import TrialState

    out = []
    for frozen in optuna_study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        # Queued again only if it was (about to be) trained: repeats and infeasible proposals carry
        # no work, and a sampler may propose them again.
        trained = frozen.user_attrs.get("kind") == TRAINED or "fixed_params" in frozen.system_attrs
        fail_interrupted(optuna_study, frozen, reason, requeue=trained,
                         run_id=frozen.user_attrs.get("mlflow_run_id") or run_of(frozen.number))
        if trained:
            out.append(frozen.number)
    return out


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _is_plain(x: Any) -> bool:
    return x is None or isinstance(x, (bool, int, float, str))


# ---- Ray Tune adapters -----------------------------------------------------------------------------
class OptunaStudySearcher(Searcher):
    """Ray Tune's view of the ledger: `suggest` asks Optuna; outcomes are told by the run's
    callback (it sees errors and the final result), so `on_trial_complete` does nothing here."""

    def __init__(self, ledger: StudyLedger):
        super().__init__(metric=None, mode=None)
        self.ledger = ledger

    def suggest(self, trial_id: str) -> Optional[dict]:
        config = self.ledger.suggest()
        if config is None:
            return Searcher.FINISHED
        self.ledger.live[config["number"]].ray_trial_id = trial_id
        return config

    def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False) -> None:
        pass

    # The state lives in the Optuna storage; Ray's experiment snapshots need nothing from here.
    def save(self, checkpoint_path: str) -> None:
        open(checkpoint_path, "wb").close()

    def restore(self, checkpoint_path: str) -> None:
        pass

    def __reduce__(self):  # Ray may pickle the tuner's settings; the live ledger stays in the driver.
        return (_Unpicklable, ("OptunaStudySearcher",))


class EarlyStopScheduler(FIFOScheduler):
    """Runs trials first in, first out, and stops those the ledger's rule stops."""

    def __init__(self, ledger: StudyLedger):
        super().__init__()
        self.ledger = ledger

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if result.get("final"):
            return TrialScheduler.CONTINUE
        number = trial.config.get("number")
        if number is not None and self.ledger.record_epoch(int(number), result):
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def __reduce__(self):
        return (_Unpicklable, ("EarlyStopScheduler",))


class InterruptStopper(Stopper):
    """Ends the whole experiment once the ledger is stopping (Ctrl-C / SIGTERM)."""

    def __init__(self, ledger: StudyLedger):
        self.ledger = ledger

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.ledger.stopping

    def __reduce__(self):
        return (_Unpicklable, ("InterruptStopper",))


class _Unpicklable:
    """What a pickled driver-side object turns into: restoring Ray's experiment is not supported
    (resume with `python -m search.run --resume`)."""

    def __init__(self, name: str):
        self.name = name
