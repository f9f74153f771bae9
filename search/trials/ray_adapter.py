"""Ray Tune's side of the search: a Searcher over the ledger, a scheduler with the early-stopping
rule, a stopper for Ctrl-C, a callback that hands trial events to the driver, and the Tuner.

Why not Ray's `OptunaSearch`: it keeps its own in-memory view of the study (resume goes through
Ray's pickled experiment state, not the Optuna storage), and it tells Optuna that a trial a
scheduler stopped early is COMPLETE with its partial values, so a half-trained model would enter
the sampler's history and the front as if it had finished.
"""
from __future__ import annotations

import inspect

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Optional

from ray import tune
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.stopper import Stopper

#: How often Ray Tune restarts a trial from its checkpoint after an infrastructure failure.
INFRA_RETRIES = 3
#: Environment variables that workers on other nodes need from the driver.
_WORKER_ENV = ("RAY_CHDIR_TO_TRIAL_DIR", "RAY_DEDUP_LOGS", "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "PYTHONPATH",
               "FWFORMER_SEARCH_TRAINABLE", "FWFORMER_DATA")


class OptunaStudySearcher(Searcher):
    """`suggest` asks the ledger; outcomes are told by the driver's callback (it sees errors and
    final results), so `on_trial_complete` does nothing here."""

    def __init__(self, ledger: Any, stop: Any):
        super().__init__(metric=None, mode=None)
        self.ledger = ledger
        self.stop = stop

    def suggest(self, trial_id: str) -> Optional[dict]:
        if self.stop.is_set():
            return Searcher.FINISHED
        config = self.ledger.suggest()
        return Searcher.FINISHED if config is None else config

    def on_trial_complete(self, trial_id: str, result: Optional[dict] = None, error: bool = False) -> None:
        pass

    # The state lives in the Optuna storage; Ray's experiment snapshots need nothing from here.
    def save(self, checkpoint_path: str) -> None:
        open(checkpoint_path, "wb").close()

    def restore(self, checkpoint_path: str) -> None:
        pass

    def __reduce__(self):  # Ray may pickle the tuner's settings; the live ledger stays in the driver
        return (_DriverOnly, ("OptunaStudySearcher",))


class EarlyStopScheduler(FIFOScheduler):
    """First in, first out; stops the trials the ledger's rule stops."""

    def __init__(self, ledger: Any):
        super().__init__()
        self.ledger = ledger

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        number = trial.config.get("number")
        if result.get("final") or number is None:
            return TrialScheduler.CONTINUE
        return TrialScheduler.STOP if self.ledger.record_epoch(int(number), result) else TrialScheduler.CONTINUE

    def __reduce__(self):
        return (_DriverOnly, ("EarlyStopScheduler",))


class InterruptStopper(Stopper):
    """Ends the whole experiment once a stop is requested."""

    def __init__(self, stop: Any):
        self.stop = stop

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False

    def stop_all(self) -> bool:
        return self.stop.is_set()

    def __reduce__(self):
        return (_DriverOnly, ("InterruptStopper",))


class EventsCallback(tune.Callback):
    """Trial events -> the driver's `TrialEvents` (Optuna, MLflow, the terminal), in this process;
    between events, `tick` (the MLflow outbox retries what it holds)."""

    def __init__(self, events: Any, tick: Callable[[], None]):
        self.events = events
        self.tick = tick

    def on_step_end(self, iteration, trials, **info):
        self.tick()

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info):
        from search.trials.checkpoints import address_of

        self.events.guard(self.events.checkpoint, trial.config.get("number"), address_of(checkpoint))

    def on_trial_recover(self, iteration, trials, trial, **info):
        self.events.guard(self.events.recovered, trial.config.get("number"), trial_error(trial)[0])

    def on_trial_start(self, iteration, trials, trial, **info):
        self.events.guard(self.events.started, trial.config.get("number"))

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if not result.get("final"):
            self.events.guard(self.events.epoch, trial.config.get("number"), result)

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.events.guard(self.events.ended, trial.config.get("number"), trial.last_result)

    def on_trial_error(self, iteration, trials, trial, **info):
        line, infrastructure = trial_error(trial)
        self.events.guard(self.events.ended, trial.config.get("number"), trial.last_result, line, infrastructure)

    def __reduce__(self):
        return (_DriverOnly, ("EventsCallback",))


class _DriverOnly:
    """What a pickled driver-side object turns into: restoring Ray's experiment is not supported
    (resume with `python -m search.run --resume`)."""

    def __init__(self, name: str):
        self.name = name


def init_ray(address: Optional[str]) -> bool:
    """Start a local Ray (or join `address`); True when this call started it."""
    import ray

    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                                  configure_logging=True)
    env = {k: os.environ[k] for k in _WORKER_ENV if k in os.environ}
    if address:
        kwargs["address"] = address
    else:
        import torch

        kwargs.update(num_cpus=os.cpu_count() or 1, num_gpus=torch.cuda.device_count())
        # Ray's sockets live under the temp dir; a long TMPDIR overflows the 107-byte socket path.
        if len(tempfile.gettempdir()) > 20:
            kwargs["_temp_dir"] = "/tmp/ray"
    kwargs["runtime_env"] = {"env_vars": env}  # workers on other nodes do not inherit this environment
    ray.init(**kwargs)
    return True


def run_tune(*, trainable: Callable[[dict], None], ledger: Any, events: Any, stop: Any, study: Any,
             storage_path: str, remaining: int, tick: Callable[[], None], shared_data: Optional[dict] = None) -> None:
    """Run up to `remaining` trials through Ray Tune until the ledger stops suggesting.

    Checkpoints go to Ray's storage (`storage_path`: a shared folder or a URI), the latest one per
    trial kept; a trial whose worker or node is lost is restarted from it up to `INFRA_RETRIES` times.
    `shared_data` (`search.trials.shared_data`) reaches a trainable that takes it, through the object store once.
    """
    resources = {"cpu": study.resources.cpu, "gpu": study.resources.gpu}
    if shared_data is not None and "shared_data" in inspect.signature(trainable).parameters:
        trainable = tune.with_parameters(trainable, shared_data=shared_data)
    tuner = tune.Tuner(
        tune.with_resources(trainable, resources),
        tune_config=tune.TuneConfig(
            search_alg=OptunaStudySearcher(ledger, stop), scheduler=EarlyStopScheduler(ledger),
            num_samples=remaining, max_concurrent_trials=study.search.max_concurrent,
            # A worker keeps torch, the data and the model code imported from one trial to the next
            # (seconds per trial on a CPU); every trial still builds its own model and optimizer.
            reuse_actors=True,
            trial_name_creator=lambda t: f"trial_{t.config.get('number')}",
            trial_dirname_creator=lambda t: f"trial_{t.config.get('number')}_{t.trial_id}"),
        run_config=tune.RunConfig(
            name=f"run-{time.strftime('%Y%m%d-%H%M%S')}", storage_path=storage_path, verbose=0,
            callbacks=[EventsCallback(events, tick)], stop=InterruptStopper(stop),
            # A failure of the model is reported by the trainable (never raised): what reaches Ray as a
            # trial error is the infrastructure (a lost node, a killed worker), retried from the checkpoint.
            failure_config=tune.FailureConfig(max_failures=INFRA_RETRIES),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1), log_to_file=False),
    )
    tuner.fit()


def trial_error(trial: Any) -> tuple[str, bool]:
    """(one line, whether the infrastructure failed) for a trial Ray marked as errored.

    Ray's memory monitor killing a worker (OutOfMemoryError) and an exception from user code
    (RayTaskError) are failures of the model; a lost node, a dead or unreachable worker or actor,
    a crashed raylet are the infrastructure's. Tune writes the error beside the trial first (its
    `pickled_error_file`, `error_file`) and syncs it to storage later, so the local files are read first.
    """
    from search.trials.outcome import error_line

    err = _first(lambda: _unpickle(trial.pickled_error_file), trial.get_pickled_error)
    if err is not None:
        cause = getattr(err, "cause", None) or err
        return error_line(cause), is_infrastructure(cause)
    text = _first(lambda: Path(trial.error_file).read_text(), trial.get_error)
    if text:
        lines = [line for line in str(text).strip().splitlines() if line.strip()]
        line = next((x for x in reversed(lines) if "Error" in x), lines[-1])[:500]
        return line, not any(k in line for k in ("OutOfMemoryError", "RayTaskError"))
    return "the trial's worker failed (see the Ray logs)", True


def _first(*getters: Callable[[], Any]) -> Any:
    for get in getters:
        try:
            value = get()
        except Exception:  # noqa: BLE001 - a file that is not (yet) there
            value = None
        if value:
            return value
    return None


def _unpickle(path: Optional[str]) -> Any:
    from ray import cloudpickle

    with open(path, "rb") as f:
        return cloudpickle.load(f)


def is_infrastructure(err: BaseException) -> bool:
    import ray.exceptions as rx

    if isinstance(err, (rx.OutOfMemoryError, rx.RayTaskError)):
        return False
    if isinstance(err, rx.RayActorError) and "memory" in str(err).lower():
        return False  # an actor the memory monitor or the OOM killer ended: the model asked too much
    return isinstance(err, rx.RayError)
