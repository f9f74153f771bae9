"""Run a study: `python -m search.run --study NAME [key=value ...] [--resume] [--address RAY_ADDRESS]
[--tracking-uri URI] [--storage URL] [--storage-path FOLDER_OR_URI]`.

The command line and the composition root of a search: `search.run.plan` checks everything before
anything is created (bad input ends the command with one line and exit code 2); `search.run.setup`
opens the Optuna study and the MLflow parent run as one step; `search.trials.ledger` asks and tells Optuna;
`search.trials.ray_adapter` runs the trials with Ray Tune (a local Ray by default, `--address` joins a
cluster); `search.trials.events` turns trial events into Optuna, MLflow and terminal updates;
`search.front` is the Pareto front everything reads; `search.run.artifacts` writes it out at the end.

Ctrl-C (or SIGTERM) stops cleanly: running trials are interrupted and queued again, the parent run
is marked KILLED, and the command prints how to resume (exit code 130). `--resume` continues the
same Optuna study and MLflow parent run after any interruption, a killed driver included
(`search.run.resume`), and the budget counts finished trials, so the study ends with exactly
`search.trials` of them.
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

from fwformer.cli import ArgumentParser, exit_on_user_error

EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m search.run",
                       usage_line="python -m search.run --study NAME [key=value ...] [--resume] [--address ADDR] "
                                  "[--tracking-uri URI] [--storage URL]",
                       description="Multi-objective mixer search (accuracy up, energy down) with Ray Tune and Optuna, "
                                   "logged to MLflow.")
    p.add_argument("--study", required=True, help="a study name (studies/NAME.yaml) or a YAML path")
    p.add_argument("overrides", nargs="*", help="dotlist overrides, e.g. search.trials=8 train.epochs=2")
    p.add_argument("--resume", action="store_true", help="continue the study in --storage")
    p.add_argument("--address", default=None, help="Ray cluster address to join (default: start a local Ray)")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here)")
    p.add_argument("--storage", default=None, help="Optuna storage URL (default: sqlite:///optuna.db here)")
    p.add_argument("--storage-path", default=None,
                   help="where Ray Tune keeps trial checkpoints: a folder every node sees, or a URI such as "
                        "s3://bucket/path (default: ray_results/STUDY/tune here; on a cluster without a shared "
                        "folder, give one)")
    return p


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> int:
    from search.run.plan import prepare
    from search.trials import trainable_from_env

    args = build_parser().parse_args(argv)
    trainable = trainable_from_env()
    return run_study(prepare(args), trainable)


def run_study(plan, trainable) -> int:
    """Wire the parts of one study execution together and run it; returns the exit code."""
    from search.run.environment import prepare_environment

    prepare_environment(plan.address)  # before Ray and MLflow load
    from search.trials import TrialEvents
    from search.front import Front, Objectives
    from search.trials import StudyLedger
    from search.tracking import Outbox
    from search.run.progress import Progress
    from search.run.resume import backfill_hypervolume, reconcile, recover_interrupted
    from search.run.setup import open_records
    from search.run.signals import StopRequest
    from search.records import redact
    from search.tracking import TrialLog

    study, s = plan.study, plan.study.search
    supernet = None
    if s.strategy == "supernet":  # one-shot: its phases run before the loop, which trains the best k
        from search.supernet import SupernetStrategy

        supernet = SupernetStrategy(plan)
    records = open_records(plan)
    ostudy, tracker = records.optuna, records.tracker
    objectives = Objectives.of(study.objectives, plan.reference)
    progress = Progress(study.name, study.budget, study.objectives)
    requeued = recover_interrupted(ostudy, run_of=tracker.child_of) if plan.resume else []
    ledger = StudyLedger(study, ostudy, num_threads=plan.num_threads, say=progress.say)
    outbox = Outbox(say=progress.say, where=redact(plan.tracking_uri))
    log = TrialLog(tracker, outbox)
    stop = StopRequest()
    events = TrialEvents(ledger=ledger, log=log, progress=progress, optuna_study=ostudy, objectives=objectives,
                         stop=stop)
    if plan.resume:
        reconcile(ostudy, tracker)
        events.update_front()
    backfill_hypervolume(ostudy, tracker, lambda trials: Front(trials, objectives).hypervolume)
    res = study.resources
    progress.start(finished=ledger.finished, resumed=plan.resume, sampler=s.sampler, concurrency=s.max_concurrent,
                   resources=f"{res.cpu:g} CPU" + (f", {res.gpu:g} GPU" if res.gpu else ""),
                   storage=redact(plan.storage), tracking=redact(plan.tracking_uri), requeued=requeued)
    if plan.resume and ledger.remaining() <= 0:
        progress.say(nothing_to_do(plan, ledger.budget))
    status, started_ray = "FINISHED", False
    with stop.on_signals(lambda: progress.say("stopping: ending the running trials (Ctrl-C again to force) ...")):
        try:
            if supernet is not None:
                from search.supernet import SupernetLog

                supernet.prepare(ostudy, SupernetLog(tracker, outbox), log, progress, stop,
                                 datasets=plan.datasets if supernet.cfg.data == study.base.data else None)
            remaining = ledger.remaining()
            if remaining > 0:
                from search.trials import init_ray, run_tune

                started_ray = init_ray(plan.address)
                from search.trials import shareable

                run_tune(trainable=trainable, ledger=ledger, events=events, stop=stop, study=study,
                         storage_path=plan.storage_path, remaining=remaining, tick=outbox.flush,
                         shared_data=shareable(plan.datasets))
        except KeyboardInterrupt:
            stop.request()
        except BaseException:
            status = "FAILED"
            raise
        finally:
            if supernet is not None:
                events.guard(lambda _: supernet.label_confirmed(ostudy, log), 0)
            events.interrupt_all()
            if started_ray:
                import ray

                ray.shutdown()
            _finish(plan, ostudy, log, outbox, ledger, progress, objectives, stop,
                    status="KILLED" if stop.is_set() and status == "FINISHED" else status,
                    experiment_id=tracker.experiment_id, parent_run_id=tracker.parent_id)
    return EXIT_INTERRUPTED if stop.is_set() else 0


def _finish(plan, ostudy, log, outbox, ledger, progress, objectives, stop, *, status: str, experiment_id: str,
            parent_run_id: str) -> None:
    from search.run.artifacts import write_front_artifacts, write_report_artifacts
    from search.front import Front
    from search.trials import MAX_REPEATS
    from search.records import artifact_url, ui_command, ui_server

    try:
        front = Front.of_study(ostudy, objectives)  # the study's final front: every file below reads this one
        write_front_artifacts(front, study_name=plan.study.name, storage=plan.storage,
                              folder=plan.results_dir / "front", log=log, progress=progress, finished=ledger.finished,
                              base=plan.study.base_source)
        write_report_artifacts(ostudy, front, storage=plan.storage, folder=plan.results_dir / "report", log=log,
                               progress=progress, supernet=plan.study.search.strategy == "supernet")
    finally:
        log.close(status)
        outbox.drain(stop=lambda: status != "FINISHED" and stop.is_set())  # an outage is waited out
    if ledger.exhausted:
        progress.say(f"the sampler proposed only architectures already tried {MAX_REPEATS} times in a row: "
                     f"the space looks exhausted after {ledger.finished} trials")
    if status == "KILLED":
        progress.say(f"stopped after {ledger.finished}/{ledger.budget} trials; continue with: {plan.resume_command}")
    else:
        progress.say(f"finished {ledger.finished}/{ledger.budget} trials in {progress.elapsed()}")
    progress.say(f"browse the study: {ui_command(plan.tracking_uri, plan.workdir, experiment_id)}")
    if (plan.results_dir / "report" / "report.html").is_file():
        url = artifact_url(ui_server(plan.tracking_uri), experiment_id, parent_run_id, "report/report.html")
        progress.say(f"  its report there: {url}")


def nothing_to_do(plan, budget: int) -> str:
    """What `--resume` says of a study that has finished its budget: how to give it more."""
    key = "search.supernet.confirm" if plan.study.search.strategy == "supernet" else "search.trials"
    more = plan.resume_command.replace(" --resume", f" {key}=N --resume", 1)
    return (f"nothing to do: study '{plan.study.name}' has finished its {budget} trials; to train more, raise "
            f"the budget: {more} (N > {budget})")
