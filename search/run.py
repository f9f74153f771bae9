"""Run a study: `python -m search.run --study NAME [key=value ...] [--resume] [--address RAY_ADDRESS]
[--tracking-uri URI] [--storage URL]`.

Ray Tune runs the trials (a local Ray by default; `--address` joins a running cluster), with the
resources per trial the study asks for (`resources.cpu`, `resources.gpu`, fractions allowed). The
Optuna study in `--storage` (default `sqlite:///optuna.db` here) drives the search through
`search.searcher`; every MLflow write goes through `search.tracking` from this process (default
store `sqlite:///mlflow.db` here, or `--tracking-uri` / MLFLOW_TRACKING_URI).

Everything a user can get wrong (study, keys, values, mixers, a space without a valid model, a
study that exists without `--resume` or is missing with it, resources this machine cannot give)
is checked before Ray starts, and ends the command with one line and exit code 2.

Ctrl-C (or SIGTERM) stops cleanly: running trials are stopped and recorded as interrupted, the
parent run is marked KILLED, and the command prints how to resume (exit code 130). `--resume`
continues the same Optuna study and MLflow parent run after any interruption, a killed driver
included: trials left RUNNING are failed as interrupted and queued again with the same parameters
(their training resumes from the last epoch checkpoint), MLflow runs are found again by their
`trial` tag (never created twice), and the budget counts finished trials, so the study ends with
exactly `search.trials` of them.
"""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from fwformer.errors import ConfigError, exit_on_user_error

FAULTS_ENV = "FWFORMER_SEARCH_FAULTS"
EXIT_INTERRUPTED = 130


# ---- command line -------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit code 2, like every other user error
        raise ConfigError(f"{message} (usage: python -m search.run --study NAME [key=value ...] [--resume] "
                          f"[--address ADDR] [--tracking-uri URI] [--storage URL])")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m search.run",
                description="Multi-objective mixer search (accuracy up, energy down) with Ray Tune and Optuna, "
                            "logged to MLflow.")
    p.add_argument("--study", required=True, help="a study name (studies/NAME.yaml) or a YAML path")
    p.add_argument("overrides", nargs="*", help="dotlist overrides, e.g. search.trials=8 train.epochs=2")
    p.add_argument("--resume", action="store_true", help="continue the study in --storage")
    p.add_argument("--address", default=None, help="Ray cluster address to join (default: start a local Ray)")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here)")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: sqlite:///optuna.db here)")
    return p


@dataclass
class Plan:
    """Everything checked before Ray starts."""

    study: Any
    workdir: Path
    storage: str
    tracking_uri: str
    resume: bool
    address: Optional[str]
    reference: list
    results_dir: Path
    faults: dict = field(default_factory=dict)
    num_threads: Optional[int] = None
    overrides: list = field(default_factory=list)
    resume_command: str = ""


def _sqlite_path(url: str) -> Optional[Path]:
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def _default_sqlite(workdir: Path, name: str) -> str:
    return f"sqlite:///{(workdir / name).resolve()}"


def existing_study_names(storage: str) -> list[str]:
    """Studies in the storage; an sqlite file that does not exist holds none (and is not created)."""
    path = _sqlite_path(storage)
    if path is not None and not path.is_file():
        return []
    import optuna

    try:
        return optuna.get_all_study_names(storage=storage)
    except Exception as err:  # noqa: BLE001 - a bad URL or an unreadable file
        raise ConfigError(f"cannot open Optuna storage '{storage}': {str(err).splitlines()[0]}") from None


def parse_faults(text: Optional[str]) -> dict[int, str]:
    """FWFORMER_SEARCH_FAULTS=`3:raise,5:acc0` -> {3: 'raise', 5: 'acc0'} (a test hook)."""
    from search.trainable import FAULTS

    out: dict[int, str] = {}
    for item in filter(None, (s.strip() for s in (text or "").split(","))):
        number, _, kind = item.partition(":")
        if not number.strip().isdigit() or kind not in FAULTS:
            raise ConfigError(f"{FAULTS_ENV} items must be <trial>:<{'|'.join(FAULTS)}>, but got '{item}'")
        out[int(number)] = kind
    return out


def _absolute_data_paths(cfg: Any, workdir: Path) -> None:
    """Trials run in other processes (and folders): relative data paths are made absolute here."""
    for name in ("root", "path"):
        value = getattr(cfg.data, name, None)
        if value and not Path(value).expanduser().is_absolute():
            setattr(cfg.data, name, str((workdir / Path(value).expanduser()).resolve()))


def _check_local_resources(resources: Any) -> None:
    cpus = os.cpu_count() or 1
    if resources.cpu > cpus:
        raise ConfigError(f"resources.cpu={resources.cpu:g} per trial, but this machine has {cpus} CPUs; "
                          f"lower resources.cpu or join a cluster with --address")
    if resources.gpu > 0:
        import torch

        gpus = torch.cuda.device_count()
        if gpus == 0 or resources.gpu > gpus:
            raise ConfigError(f"resources.gpu={resources.gpu:g} per trial, but this machine has {gpus} GPU(s); "
                              f"set resources.gpu=0 or join a cluster with GPUs with --address")


def _stored_study(storage: str, name: str) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.load_study(study_name=name, storage=storage)


def prepare(args: argparse.Namespace) -> Plan:
    """Load and check everything (ConfigError on bad input); starts nothing.

    A resumed study takes the overrides it was started with (stored in the Optuna study), then the
    ones given now, and keeps its hypervolume reference point."""
    from search.samplers import make_sampler
    from search.study import load_study
    from search.tracking import default_tracking_uri

    overrides = list(args.overrides)
    study = load_study(args.study, overrides)
    workdir = Path.cwd().resolve()
    storage = args.storage or _default_sqlite(workdir, "optuna.db")
    tracking_uri = args.tracking_uri or default_tracking_uri(workdir)
    names = existing_study_names(storage)
    reference = None
    if args.resume:
        if study.name not in names:
            raise ConfigError(f"cannot resume study '{study.name}': it does not exist in {storage}"
                              + (f" (it holds: {', '.join(sorted(names))})" if names else "")
                              + "; start it without --resume")
        stored = _stored_study(storage, study.name)
        first = [str(o) for o in stored.user_attrs.get("overrides") or []]
        if first:
            overrides = [*first, *overrides]
            study = load_study(args.study, overrides)
        directions = [d.name.lower() for d in stored.directions]
        if directions != [d for _, d in study.objectives]:
            raise ConfigError(f"study '{study.name}' was created with directions {directions}, but now has "
                              f"{[d for _, d in study.objectives]}; resume it with the same objectives")
        reference = stored.user_attrs.get("reference_point")
    elif study.name in names:
        raise ConfigError(f"study '{study.name}' already exists in {storage}; continue it with --resume, "
                          f"or start a new one under another name (name=NEW_NAME)")
    if args.address is None:
        _check_local_resources(study.resources)
    make_sampler(study.search.sampler, seed=study.search.seed, budget=study.search.trials,
                 **dict(study.search.sampler_options or {}))  # bad sampler options fail here, not later
    reference = reference or study.reference_point()
    missing = [m for (m, _), r in zip(study.objectives, reference) if r is None]
    if missing:
        raise ConfigError(f"objectives {', '.join(missing)} need a hypervolume reference: set "
                          f"objectives[i].reference in the study")
    _absolute_data_paths(study.base, workdir)
    threads = max(1, int(study.resources.cpu)) if study.base.train.num_threads is None else None
    return Plan(study=study, workdir=workdir, storage=storage, tracking_uri=tracking_uri, resume=args.resume,
                address=args.address, reference=[float(r) for r in reference],
                results_dir=workdir / "ray_results" / study.name, faults=parse_faults(os.environ.get(FAULTS_ENV)),
                num_threads=threads, overrides=overrides,
                resume_command=" ".join(["python -m search.run --study", args.study, "--resume",
                                         *([f"--storage {args.storage}"] if args.storage else []),
                                         *([f"--tracking-uri {args.tracking_uri}"] if args.tracking_uri else [])]))


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    plan = prepare(args)
    return SearchRun(plan).run()


# ---- the run ----------------------------------------------------------------------------------------
_RAY_AUTO_KEYS = {"done", "trial_id", "experiment_tag", "final", "failed", "error", "traceback",
                  "should_checkpoint", "__duplicate__", "energy_bound_mj"}


def payload(result: dict) -> dict:
    """What the trainable reported, without Ray's own result keys."""
    from ray.tune.result import AUTO_RESULT_KEYS

    drop = set(AUTO_RESULT_KEYS) | _RAY_AUTO_KEYS
    return {k: v for k, v in result.items() if k not in drop and not isinstance(v, dict)}


class SearchRun:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.study = plan.study
        self.objectives = list(plan.study.objectives)
        self.directions = [d for _, d in self.objectives]
        self.interrupted = False
        self._started_ray = False

    # ---- setup ----------------------------------------------------------------------------------
    def _quiet(self) -> None:
        # Ray reads these at import / init; they keep its console output to errors only.
        for key, value in {
            "RAY_AIR_NEW_OUTPUT": "0",
            "RAY_CHDIR_TO_TRIAL_DIR": "0",  # trials keep the working directory; every path is absolute anyway
            "TUNE_DISABLE_SIGINT_HANDLER": "1",  # Ctrl-C is handled here (see _on_signal)
            "RAY_USAGE_STATS_ENABLED": "0",  # offline
            "RAY_DEDUP_LOGS": "0",
            "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "1000",
            "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO": "0",
            "TUNE_RESULT_BUFFER_LENGTH": "1",  # one epoch per result: early stopping acts on time
        }.items():
            os.environ.setdefault(key, value)
        import logging
        import warnings

        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        for name in ("ray", "ray.tune", "ray.train", "ray.data"):
            logging.getLogger(name).setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*ray.tune.*")

    def _open_optuna(self) -> Any:
        import optuna

        from search.samplers import make_sampler, session_seed

        s = self.study.search
        storage = optuna.storages.RDBStorage(self.plan.storage, heartbeat_interval=None)
        n_existing = 0
        if self.plan.resume:
            n_existing = len(optuna.load_study(study_name=self.study.name, storage=storage).get_trials(deepcopy=False))
        sampler = make_sampler(s.sampler, seed=session_seed(s.seed, n_existing), budget=s.trials,
                               **dict(s.sampler_options or {}))
        if self.plan.resume:
            return optuna.load_study(study_name=self.study.name, storage=storage, sampler=sampler)
        ostudy = optuna.create_study(study_name=self.study.name, storage=storage, sampler=sampler,
                                     directions=self.directions)
        ostudy.set_metric_names([m for m, _ in self.objectives])
        for key, value in {"objectives": [[m, d] for m, d in self.objectives], "reference_point": self.plan.reference,
                           "study_file": str(self.study.path), "overrides": list(self.plan.overrides),
                           "created_at": time.strftime("%Y-%m-%dT%H:%M:%S")}.items():
            ostudy.set_user_attr(key, value)
        return ostudy

    def _open_tracking(self) -> Any:
        from search.tracking import Tracker

        tracker = Tracker(self.plan.tracking_uri, self.study.name)
        attrs = self.optuna.user_attrs
        search = self.study.search
        tracker.open_parent(
            attrs.get("mlflow_parent_run_id") if self.plan.resume else None,
            params={"search": {"trials": search.trials, "sampler": search.sampler, "seed": search.seed,
                               "max_concurrent": search.max_concurrent, "early_stop": vars(search.early_stop)},
                    "resources": vars(self.study.resources), "space": self.study.space.to_dict(),
                    "objectives": {m: d for m, d in self.objectives}, "reference_point": self.plan.reference,
                    "train": self.study.raw.get("train", {}), "data": self.study.raw.get("data", {}),
                    "base": self.study.raw.get("base")},
            tags={"optuna_storage": self.plan.storage, "optuna_study": self.study.name})
        if attrs.get("mlflow_parent_run_id") != tracker.parent_id:
            self.optuna.set_user_attr("mlflow_parent_run_id", tracker.parent_id)
            self.optuna.set_user_attr("mlflow_experiment_id", tracker.experiment_id)
        import yaml

        tracker.log_parent_text(yaml.safe_dump(self.study.raw, sort_keys=False), "study.yaml")
        return tracker

    # ---- the front ------------------------------------------------------------------------------
    def trained_trials(self) -> list:
        from search.searcher import TRAINED

        return [t for t in self.optuna.get_trials(deepcopy=False) if t.user_attrs.get("kind") == TRAINED]

    def front(self) -> tuple[list, list, float]:
        """(COMPLETE trained trials, their on-front mask, hypervolume)."""
        from optuna.trial import TrialState

        from search.pareto import hypervolume, pareto_mask

        done = [t for t in self.trained_trials() if t.state == TrialState.COMPLETE and t.values is not None]
        points = [list(t.values) for t in done]
        mask = list(pareto_mask(points, self.directions)) if done else []
        hv = hypervolume(points, self.directions, self.plan.reference) if done else 0.0
        return done, mask, hv

    def update_front(self) -> tuple[int, float]:
        """Rewrite the `pareto` tags that changed and log the hypervolume; returns (front size, hv)."""
        done, mask, hv = self.front()
        on = {t.number for t, m in zip(done, mask) if m}
        flags = {}
        for t in self.trained_trials():
            run_id = self.tracker.child_of(t.number)
            if run_id is not None:
                flags[run_id] = t.number in on
        self.tracker.set_pareto(flags)
        self.tracker.log_hypervolume(hv, self.ledger.finished)
        return len(on), hv

    def _backfill_hypervolume(self) -> None:
        """Log the hypervolume for every count of finished trials the parent lacks (a killed driver
        may have told Optuna but not MLflow). Recomputed in completion order, so it never decreases."""
        from optuna.trial import TrialState

        from search.pareto import hypervolume

        logged = self.tracker.hypervolume_steps()
        finished = [t for t in self.trained_trials()
                    if t.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
                    and not t.user_attrs.get("interrupted")]
        finished.sort(key=lambda t: (t.datetime_complete or t.datetime_start, t.number))
        points: list = []
        for step, t in enumerate(finished, start=1):
            if t.state == TrialState.COMPLETE and t.values is not None:
                points.append(list(t.values))
            if step not in logged:
                hv = hypervolume(points, self.directions, self.plan.reference) if points else 0.0
                self.tracker.log_hypervolume(hv, step)

    def reconcile(self) -> None:
        """On resume, make MLflow agree with Optuna (the source of truth): every finished trained
        trial has exactly one child run, in a terminal status matching its Optuna state."""
        from optuna.trial import TrialState

        for t in self.trained_trials():
            if t.state == TrialState.RUNNING or t.state == TrialState.WAITING:
                continue
            state = "INTERRUPTED" if t.user_attrs.get("interrupted") else t.state.name
            run_id = self.tracker.child_of(t.number)
            if state == "INTERRUPTED":
                # Its run is continued by the trial queued in its place: close it only if no later
                # trial has taken it over yet.
                if run_id is not None and self.tracker.run_status(run_id) in ("RUNNING", "SCHEDULED"):
                    self.tracker.end_child(run_id, state, error=t.user_attrs.get("error"))
                continue
            if run_id is None:
                run_id = self._start_child(t.number, t.params, t.user_attrs.get("config") or {},
                                           t.user_attrs.get("canonical_key", ""), t.user_attrs.get("requeued_from"))
            if self.tracker.run_status(run_id) in ("RUNNING", "SCHEDULED"):
                metrics = dict(t.user_attrs.get("metrics") or {})
                self.tracker.end_child(run_id, state, metrics=_final_metrics(metrics),
                                       step=int(metrics.get("epochs") or metrics.get("epoch") or 0),
                                       error=t.user_attrs.get("error"))

    def _start_child(self, number: int, params: dict, config: dict, key: str, requeued_from: Optional[int]) -> str:
        train = config.get("train") or {}
        child_params = {**params, "depth": config.get("depth"), "embed_dim": config.get("embed_dim"),
                        "num_heads": config.get("num_heads"), "mlp_ratio": config.get("mlp_ratio"),
                        "epochs": train.get("epochs"), "batch_size": train.get("batch_size"), "lr": train.get("lr"),
                        "seed": train.get("seed"), "dataset": (config.get("data") or {}).get("name")}
        tags = {"canonical_key": key}
        if requeued_from is not None:
            tags["requeued_from"] = str(requeued_from)
        return self.tracker.start_child(number, params={k: v for k, v in child_params.items() if v is not None},
                                        tags=tags, config=config)

    # ---- trial events (called by the Tune callback, in this process) -----------------------------
    def trial_started(self, number: int) -> None:
        from optuna.trial import Trial

        live = self.ledger.live.get(number)
        if live is None or live.mlflow_run_id:
            return
        if live.reuse_run_id:  # an interrupted trial trained again: its MLflow run continues
            live.mlflow_run_id = self.tracker.resume_child(live.reuse_run_id, number,
                                                           tags={"requeued_from": str(live.requeued_from)})
        if not live.mlflow_run_id:
            live.mlflow_run_id = self._start_child(number, live.params, live.config, live.key, live.requeued_from)
        Trial(self.optuna, self.ledger._trial_id(number)).set_user_attr("mlflow_run_id", live.mlflow_run_id)

    def trial_epoch(self, number: int, result: dict) -> None:
        live = self.ledger.live.get(number)
        if live is None or live.mlflow_run_id is None or "epoch" not in result:
            return
        metrics = {k: v for k, v in payload(result).items() if k != "epoch"}
        self.tracker.log_epoch(live.mlflow_run_id, metrics, step=int(result["epoch"]))

    def trial_ended(self, number: int, last_result: Optional[dict], error: Optional[str] = None) -> None:
        """A Ray trial is over: decide its outcome, tell Optuna, then MLflow, then the front."""
        from search.searcher import Outcome

        live = self.ledger.live.get(number)
        if live is None:
            return
        last = last_result or {}
        if last.get("final") and not last.get("failed"):
            outcome = Outcome("COMPLETE", payload(last))
        elif last.get("final"):
            outcome = Outcome("FAIL", payload(last), error=str(last.get("error") or "trial failed"))
        elif live.stopped_early:
            outcome = Outcome("PRUNED", payload(last))
        elif self.ledger.stopping:
            self._interrupt(number)
            return
        else:
            outcome = Outcome("FAIL", payload(last), error=error or "the trial ended without a final result")
        if live.mlflow_run_id is None:
            self.trial_started(number)
        self.ledger.finish(number, outcome)  # Optuna first: it is the source of truth on resume
        run_id = live.mlflow_run_id
        step = int(outcome.metrics.get("epochs") or outcome.metrics.get("epoch") or 0)
        self.tracker.end_child(run_id, outcome.state, metrics=_final_metrics(outcome.metrics)
                               if outcome.state == "COMPLETE" else {}, step=step, error=outcome.error,
                               traceback=last.get("traceback") if outcome.state == "FAIL" else None)
        if outcome.state != "COMPLETE":
            _drop_checkpoint(self.ledger.trial_dir(live.requeued_from if live.requeued_from is not None else number))
        size, hv = self.update_front()
        self.progress.trial_finished(number=number, state=outcome.state, metrics=outcome.metrics, error=outcome.error,
                                     config=live.config, counts=self.ledger.counts, running=len(self.ledger.live),
                                     front_size=size, hypervolume=hv)

    def _interrupt(self, number: int) -> None:
        live = self.ledger.live.get(number)
        run_id = live.mlflow_run_id if live else None
        self.ledger.interrupt(number, "interrupted: the search was stopped before the trial finished; "
                                      "queued again for --resume")
        if run_id is not None:
            self.tracker.end_child(run_id, "INTERRUPTED", error="interrupted (Ctrl-C); queued again for --resume")

    # ---- Ray ---------------------------------------------------------------------------------------
    def _init_ray(self) -> None:
        import logging

        import ray

        if ray.is_initialized():
            return
        kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                                      configure_logging=True)
        if self.plan.address:
            # Workers on other nodes do not inherit this process's environment.
            keys = ("RAY_CHDIR_TO_TRIAL_DIR", "RAY_DEDUP_LOGS", "RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO")
            kwargs.update(address=self.plan.address, runtime_env={"env_vars": {k: os.environ[k] for k in keys}})
        else:
            kwargs["num_cpus"] = os.cpu_count() or 1
            import torch

            kwargs["num_gpus"] = torch.cuda.device_count()
            # Ray's sockets live under the temp dir; a long TMPDIR overflows the 107-byte socket path.
            if len(tempfile.gettempdir()) > 20:
                kwargs["_temp_dir"] = "/tmp/ray"
        ray.init(**kwargs)
        self._started_ray = True

    def _tune(self, remaining: int) -> None:
        from ray import tune

        from search.searcher import EarlyStopScheduler, InterruptStopper, OptunaStudySearcher
        from search.trainable import run_trial

        run = self

        class StudyCallback(tune.Callback):
            """Trial events -> Optuna, MLflow, the terminal; every write from this (driver) process."""

            def on_trial_start(self, iteration, trials, trial, **info):
                run._guard(run.trial_started, trial.config.get("number"))

            def on_trial_result(self, iteration, trials, trial, result, **info):
                if not result.get("final"):
                    run._guard(run.trial_epoch, trial.config.get("number"), result)

            def on_trial_complete(self, iteration, trials, trial, **info):
                run._guard(run.trial_ended, trial.config.get("number"), trial.last_result)

            def on_trial_error(self, iteration, trials, trial, **info):
                run._guard(run.trial_ended, trial.config.get("number"), trial.last_result, _trial_error(trial))

        resources = {"cpu": self.study.resources.cpu, "gpu": self.study.resources.gpu}
        stamp = time.strftime("%Y%m%d-%H%M%S")
        tuner = tune.Tuner(
            tune.with_resources(run_trial, resources),
            tune_config=tune.TuneConfig(
                search_alg=OptunaStudySearcher(self.ledger), scheduler=EarlyStopScheduler(self.ledger),
                num_samples=remaining, max_concurrent_trials=self.study.search.max_concurrent,
                # A worker keeps torch, the data and the model code imported from one trial to the next
                # (seconds per trial on a CPU); every trial still builds its own model and optimizer.
                reuse_actors=True,
                trial_name_creator=lambda t: f"trial_{t.config.get('number')}",
                trial_dirname_creator=lambda t: f"trial_{t.config.get('number')}_{t.trial_id}"),
            run_config=tune.RunConfig(
                name=f"run-{stamp}", storage_path=str(self.plan.results_dir / "tune"), verbose=0,
                callbacks=[StudyCallback()], stop=InterruptStopper(self.ledger),
                failure_config=tune.FailureConfig(max_failures=0), log_to_file=False),
        )
        tuner.fit()

    def _guard(self, fn, number, *args) -> None:
        if number is None:
            return
        try:
            fn(int(number), *args)
        except Exception as err:  # noqa: BLE001 - one bad write must not take the whole search down
            import traceback

            print(f"warning: trial {number}: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            traceback.print_exc(file=sys.stderr)

    def _on_signal(self, signum, frame) -> None:
        if self.ledger.stopping:  # second Ctrl-C: stop now
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.ledger.stopping = True
        self.interrupted = True
        self.progress.say("stopping: ending the running trials (Ctrl-C again to force) ...")

    # ---- the whole run --------------------------------------------------------------------------------
    def run(self) -> int:
        from search.progress import Progress
        from search.searcher import StudyLedger

        from search.searcher import recover_interrupted

        self._quiet()
        self.optuna = self._open_optuna()
        self.tracker = self._open_tracking()
        requeued = recover_interrupted(self.optuna, run_of=self.tracker.child_of) if self.plan.resume else []
        trials_root = self.plan.results_dir / "trials"
        self.ledger = StudyLedger(self.study, self.optuna, trial_dir=lambda n: str(trials_root / f"trial_{n}"),
                                  faults=self.plan.faults, num_threads=self.plan.num_threads)
        self.progress = Progress(self.study.name, self.ledger.budget, self.objectives)
        if self.plan.resume:
            self.reconcile()
        self._backfill_hypervolume()
        res = self.study.resources
        self.progress.start(finished=self.ledger.finished, resumed=self.plan.resume, sampler=self.study.search.sampler,
                            concurrency=self.study.search.max_concurrent,
                            resources=f"{res.cpu:g} CPU" + (f", {res.gpu:g} GPU" if res.gpu else ""),
                            storage=self.plan.storage, tracking=self.plan.tracking_uri, requeued=requeued)
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in previous:
            signal.signal(s, self._on_signal)
        status = "FINISHED"
        try:
            remaining = self.ledger.remaining()
            if remaining > 0:
                self._init_ray()
                self._tune(remaining)
        except KeyboardInterrupt:
            self.interrupted = True
        except BaseException:
            status = "FAILED"
            raise
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
            for number in list(self.ledger.live):
                self._guard(self._interrupt, number)
            self.ledger.interrupt_pending_repeats("interrupted before the repeated architecture finished")
            if self.interrupted:
                status = "KILLED"
            self._finish(status)
        return EXIT_INTERRUPTED if self.interrupted else 0

    def _finish(self, status: str) -> None:
        try:
            self._final_artifacts()
        finally:
            self.tracker.close_parent(status)
            if self._started_ray:
                import ray

                ray.shutdown()
        from search.tracking import ui_command

        if self.ledger.exhausted:
            from search.searcher import MAX_REPEATS

            self.progress.say(f"the sampler proposed only architectures already tried {MAX_REPEATS} times in a row: "
                              f"the space looks exhausted after {self.ledger.finished} trials")
        if self.interrupted:
            self.progress.say(f"stopped after {self.ledger.finished}/{self.ledger.budget} trials; continue with: "
                              f"{self.plan.resume_command}")
        else:
            self.progress.say(f"finished {self.ledger.finished}/{self.ledger.budget} trials in {self.progress.elapsed()}")
        self.progress.say(f"browse the study: {ui_command(self.plan.tracking_uri, self.plan.workdir)}")

    def _final_artifacts(self) -> None:
        """Front table on the terminal; plot, table and the knee's config on the parent run."""
        from search.pareto import front_table, knee_index, plot_front, rows_from_trials

        done, mask, hv = self.front()
        rows = rows_from_trials(self.trained_trials(), [m for m, _ in self.objectives])
        front_rows = sorted((r for r, t in zip(rows_from_trials(done, [m for m, _ in self.objectives]), mask) if t),
                            key=lambda r: (_sort_value(r.get("energy_mj")), -_sort_value(r.get("val_acc"))))
        self.progress.front([{**r, "trial": r["number"]} for r in front_rows])
        if not done:
            return
        out = Path(tempfile.mkdtemp(prefix="fwformer-front-"))
        try:
            plot_front(rows, out / "pareto_front.png", out / "pareto_front.html", title=f"{self.study.name}: Pareto front")
            (out / "pareto_front.csv").write_text(front_table(rows))
            files = [out / "pareto_front.png", out / "pareto_front.html", out / "pareto_front.csv"]
            knee = knee_index([list(t.values) for t, m in zip(done, mask) if m], self.directions)
            if knee is not None:
                from search.export import export_architecture

                export_architecture(self.study.name, "knee", out / "knee.yaml", storage=self.plan.storage, force=True)
                files.append(out / "knee.yaml")
            self.tracker.log_parent_artifacts(files)
            self.tracker.log_parent_metrics({"front_size": float(sum(mask)), "trials_finished": self.ledger.finished},
                                            step=self.ledger.finished)
        except Exception as err:  # noqa: BLE001 - the study's records are already safe in Optuna and MLflow
            print(f"warning: could not write the front artifacts: {type(err).__name__}: {err}", file=sys.stderr)


def _sort_value(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and math.isfinite(x) else math.inf


def _final_metrics(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(float(v))}


def _trial_error(trial: Any) -> str:
    """One line for a trial Ray marked as errored (its worker died, or raised outside our catch)."""
    from search.trainable import error_line

    try:
        err = trial.get_pickled_error()
        if err is not None:
            cause = getattr(err, "cause", None) or err
            return error_line(cause)
    except Exception:  # noqa: BLE001
        pass
    try:
        text = trial.get_error()
        if text:
            return str(text).strip().splitlines()[-1][:500]
    except Exception:  # noqa: BLE001
        pass
    return "the trial's worker failed (see the Ray logs)"


def _drop_checkpoint(trial_dir: str) -> None:
    """A stopped or failed trial is never resumed: its epoch checkpoint is only disk space."""
    path = Path(trial_dir) / "checkpoint.pt"
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
