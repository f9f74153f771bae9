"""What the driver does when a trial starts, reports an epoch or a checkpoint, survives an
infrastructure failure, or ends: Optuna first (the source of truth), then MLflow through the outbox
(`search.tracking.trial_log`), then the front and the terminal. Called by Ray Tune's callback in the driver.
"""
from __future__ import annotations

import sys
import traceback
from typing import Any, Callable, Optional

from search.front import Front, Objectives
from search.trials.outcome import classify, metrics_of


class TrialEvents:
    def __init__(self, *, ledger: Any, log: Any, progress: Any, optuna_study: Any, objectives: Objectives, stop: Any):
        self.ledger = ledger
        self.log = log
        self.progress = progress
        self.optuna = optuna_study
        self.objectives = objectives
        self.stop = stop

    def guard(self, fn: Callable[..., None], number: Any, *args: Any) -> None:
        """One failed step must not take the whole search down: it is reported and the search goes on."""
        if number is None:
            return
        try:
            fn(int(number), *args)
        except Exception as err:  # noqa: BLE001
            print(f"warning: trial {number}: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            traceback.print_exc(file=sys.stderr)

    # ---- events ---------------------------------------------------------------------------------
    def started(self, number: int) -> None:
        live = self.ledger.live.get(number)
        if live is None or self.log.has_run(number):
            return
        self.log.start(number, params=child_params(live.params, live.config), config=live.config,
                       tags=child_tags(live.config, live.key, live.record.requeued_from),
                       continue_run=live.record.mlflow_run_id)
        self.note_run(number)

    def note_run(self, number: int) -> None:
        """Tell the ledger the trial's MLflow run once the log has made it (a tracking outage delays it),
        so an interrupted trial's retry continues the same run."""
        live = self.ledger.live.get(number)
        run_id = self.log.run_of(number)
        if live is not None and run_id is not None and live.record.mlflow_run_id != run_id:
            self.ledger.note_run(number, run_id)

    def epoch(self, number: int, result: dict) -> None:
        self.note_run(number)
        if number in self.ledger.live and "epoch" in result:
            self.log.epoch(number, {k: v for k, v in metrics_of(result).items() if k != "epoch"}, int(result["epoch"]))

    def checkpoint(self, number: int, address: str) -> None:
        self.ledger.note_checkpoint(number, address)

    def recovered(self, number: int, cause: str) -> None:
        """Ray Tune restarts the trial from its last checkpoint after an infrastructure failure."""
        count = self.ledger.note_infra_failure(number, cause)
        self.log.note(number, {"infra_failures": str(count), "last_infra_failure": cause})
        self.progress.say(f"trial {number}: infrastructure failure ({cause}); Ray restarts it from its last "
                          f"checkpoint (retry {count})")

    def ended(self, number: int, last_result: Optional[dict], error: Optional[str] = None,
              infrastructure: bool = False) -> None:
        live = self.ledger.live.get(number)
        if live is None:
            return
        self.started(number)  # a trial that ended before it started still gets its run
        self.note_run(number)
        if infrastructure:
            reason = f"infrastructure: {error} (Ray's retries used up; not an outcome of the architecture)"
            self.ledger.give_up(number, reason)
            self.log.end(number, "FAIL", metrics={}, step=0, error=reason, traceback=None)
            self.progress.say(f"trial {number}: {reason}")
            return
        outcome = classify(last_result, objectives=self.objectives.metrics, stopped_early=live.stopped_early,
                           stopping=self.stop.is_set(), error=error)
        if outcome.state == "INTERRUPTED":
            self.interrupt(number)
            return
        self.ledger.finish(number, outcome)  # Optuna first: what a resume reads
        self.log.end(number, outcome.state, metrics=outcome.metrics if outcome.state == "COMPLETE" else {},
                     step=outcome.epochs, error=outcome.error, traceback=outcome.traceback)
        front = self.update_front()
        self.progress.trial_finished(number=number, state=outcome.state, metrics=outcome.metrics, error=outcome.error,
                                     config=live.config, counts=self.ledger.counts, running=len(self.ledger.live),
                                     front_size=len(front), hypervolume=front.hypervolume)

    def interrupt(self, number: int) -> None:
        self.note_run(number)
        self.ledger.interrupt(number, "interrupted: the search was stopped before the trial finished; queued again")
        if self.log.has_run(number):
            self.log.end(number, "INTERRUPTED", metrics={}, step=0,
                         error="interrupted (Ctrl-C); queued again for --resume", traceback=None)

    def interrupt_all(self) -> None:
        for number in list(self.ledger.live):
            self.guard(self.interrupt, number)
        self.ledger.interrupt_waiting_repeats()

    def update_front(self) -> Front:
        """The `pareto` tags and the hypervolume at this many finished trials."""
        front = Front.of_study(self.optuna, self.objectives)
        self.log.pareto({t.number: t.number in front.numbers for t in front.trials})
        self.log.hypervolume(front.hypervolume, self.ledger.finished)
        return front


def energy_model(config: dict) -> str:
    """Which energy model priced the trial's `energy_mj` (fwformer.energy: sop, simple, lemaire)."""
    return str((config.get("energy") or {}).get("model") or "sop")


def child_tags(config: dict, canonical_key: Optional[str], requeued_from: Optional[int]) -> dict[str, str]:
    """The tags of a trial's MLflow run, whoever creates it: the trial events as it starts, or a
    resume that finds a finished trial without a run (its driver was killed first)."""
    tags = {"canonical_key": canonical_key or "", "energy_model": energy_model(config)}
    if requeued_from is not None:
        tags["requeued_from"] = str(requeued_from)
    return tags


def child_params(params: dict, config: dict) -> dict:
    """A trial run's parameters: its choices and the settings that matter when comparing runs."""
    train = config.get("train") or {}
    out = {**params, "depth": config.get("depth"), "embed_dim": config.get("embed_dim"),
           "num_heads": config.get("num_heads"), "mlp_ratio": config.get("mlp_ratio"), "epochs": train.get("epochs"),
           "batch_size": train.get("batch_size"), "lr": train.get("lr"), "seed": train.get("seed"),
           "dataset": (config.get("data") or {}).get("name"), "energy_model": (config.get("energy") or {}).get("model")}
    return {k: v for k, v in out.items() if v is not None}
