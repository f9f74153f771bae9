"""A supernet study small enough for tests: the `tiny` model on the 8x8 digits, 2 blocks of 3
mixers, T in {1, 2}, a few steps per epoch. Shared by tests/search/test_supernet_*.py."""
from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Optional, Sequence

STUDY = """\
name: {name}
base: tiny
data: {{name: digits, val_fraction: 0.05}}
train: {{epochs: 2, max_steps_per_epoch: 3, batch_size: 16, device: cpu, amp: false, num_threads: 1,
         energy_batches: 1, warmup_epochs: 0}}
space: {{depth: 2, mixers: [ssa, fft2d, identity], T: [1, 2]}}
objectives: {objectives}
search:
  strategy: supernet
  max_concurrent: 2
  sampler: {sampler}
  seed: {seed}
  supernet: {{epochs: 2, candidates: {candidates}, confirm: {confirm}, calibration_batches: 2, val_batches: 2}}
resources: {{cpu: 1, gpu: 0}}
"""
ACC_ENERGY = "[{metric: val_acc, direction: maximize}, {metric: energy_mj, direction: minimize}]"


def write_study(folder: Path, name: str = "tiny_sn", *, sampler: str = "tpe", seed: int = 0, candidates: int = 6,
                confirm: int = 2, objectives: str = ACC_ENERGY) -> Path:
    path = Path(folder) / f"{name}.yaml"
    path.write_text(STUDY.format(name=name, sampler=sampler, seed=seed, candidates=candidates, confirm=confirm,
                                 objectives=objectives))
    return path


def records(folder: Path, path: Path, overrides: Sequence[str] = (), *, tracking_uri: Optional[str] = None,
            retry_every: float = 10.0):
    """(plan, Optuna study, tracker, the supernet's and the trials' logs over one outbox, progress with
    its text) of a study opened in `folder`, as `search.run` opens them, without Ray."""
    import optuna

    from search.front import Objectives  # noqa: F401 - the objectives a caller may want
    from search.run import Progress
    from search.study import load_study
    from search.tracking import Tracker

    study = load_study(path, list(overrides))
    plan = SimpleNamespace(study=study, workdir=Path(folder), storage=f"sqlite:///{folder}/optuna.db",
                           tracking_uri=tracking_uri or f"sqlite:///{folder}/mlflow.db", num_threads=1,
                           reference=[0.0, float(study.space.max_energy_mj() or 1.0)]
                           if study.metric_names == ["val_acc", "energy_mj"] else [0.0, 1e9])
    from search.supernet import SupernetStrategy

    strategy = SupernetStrategy(plan)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ostudy = optuna.create_study(study_name=study.name, storage=plan.storage, directions=study.directions,
                                 load_if_exists=True)
    tracker = Tracker(plan.tracking_uri, study.name)
    tracker.open_parent(ostudy.user_attrs.get("parent"), params={}, tags={})
    ostudy.set_user_attr("parent", tracker.parent_id)
    text = io.StringIO()
    progress = Progress(study.name, study.budget, study.objectives, out=text)
    from search.tracking import Outbox
    from search.supernet import SupernetLog
    from search.tracking import TrialLog

    outbox = Outbox(say=progress.say, where=plan.tracking_uri, retry_every=retry_every)
    return SimpleNamespace(plan=plan, strategy=strategy, optuna=ostudy, tracker=tracker, progress=progress, text=text,
                           outbox=outbox, log=SupernetLog(tracker, outbox),
                           trial_log=TrialLog(tracker, outbox))


def prepare(r, stop) -> None:
    """The strategy's phases as `search.run` runs them, then every queued MLflow write written."""
    r.strategy.prepare(r.optuna, r.log, r.trial_log, r.progress, stop)
    r.outbox.drain()


class Stop:
    """A stop request that is set by the test."""

    def __init__(self) -> None:
        self.set = False

    def is_set(self) -> bool:
        return self.set
