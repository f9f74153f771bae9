"""What the driver does when a trial starts, reports an epoch, or ends: Optuna first (the source of
truth), then MLflow, then the front and the terminal. Called by Ray Tune's callback in the driver.
"""
from __future__ import annotations

import sys
import traceback
from typing import Any, Callable, Optional

from search.front import Front, Objectives
from search.outcome import classify, metrics_of


class TrialEvents:
    def __init__(self, *, ledger: Any, tracker: Any, progress: Any, optuna_study: Any, objectives: Objectives,
                 stop: Any, drop_checkpoint: Callable[[int], None]):
        self.ledger = ledger
        self.tracker = tracker
        self.progress = progress
        self.optuna = optuna_study
        self.objectives = objectives
        self.stop = stop
        self.drop_checkpoint = drop_checkpoint

    def guard(self, fn: Callable[..., None], number: Any, *args: Any) -> None:
        """One failed write must not take the whole search down: it is reported and the search goes on."""
        if number is None:
            return
        try:
            fn(int(number), *args)
        except Exception as err:  # noqa: BLE001
            print(f"warning: trial {number}: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            traceback.print_exc(file=sys.stderr)

    # ---- the three events -----------------------------------------------------------------------
    def started(self, number: int) -> None:
        live = self.ledger.live.get(number)
        if live is None or self.tracker.child_of(number):
            return
        run_id = None
        if live.record.mlflow_run_id:  # a retry of an interrupted trial continues its MLflow run
            run_id = self.tracker.resume_child(live.record.mlflow_run_id, number,
                                               tags={"requeued_from": str(live.record.requeued_from)})
        if run_id is None:
            run_id = self.start_child(number, live.params, live.config, live.key, live.record.requeued_from)
        self.ledger.note_run(number, run_id)

    def epoch(self, number: int, result: dict) -> None:
        run_id = self.tracker.child_of(number)
        if number in self.ledger.live and run_id is not None and "epoch" in result:
            metrics = {k: v for k, v in metrics_of(result).items() if k != "epoch"}
            self.tracker.log_epoch(run_id, metrics, step=int(result["epoch"]))

    def ended(self, number: int, last_result: Optional[dict], error: Optional[str] = None) -> None:
        live = self.ledger.live.get(number)
        if live is None:
            return
        outcome = classify(last_result, objectives=self.objectives.metrics, stopped_early=live.stopped_early,
                           stopping=self.stop.is_set(), error=error)
        if outcome.state == "INTERRUPTED":
            self.interrupt(number)
            return
        if self.tracker.child_of(number) is None:
            self.started(number)
        run_id = self.tracker.child_of(number)
        root = live.record.lineage if live.record.lineage is not None else number
        self.ledger.finish(number, outcome)  # Optuna first: what a resume reads
        self.tracker.end_child(run_id, outcome.state, metrics=outcome.metrics if outcome.state == "COMPLETE" else {},
                               step=outcome.epochs, error=outcome.error, traceback=outcome.traceback)
        if outcome.state != "COMPLETE":
            self.drop_checkpoint(root)  # never resumed: only disk space
        front = self.update_front()
        self.progress.trial_finished(number=number, state=outcome.state, metrics=outcome.metrics, error=outcome.error,
                                     config=live.config, counts=self.ledger.counts, running=len(self.ledger.live),
                                     front_size=len(front), hypervolume=front.hypervolume)

    def interrupt(self, number: int) -> None:
        run_id = self.tracker.child_of(number)
        self.ledger.interrupt(number, "interrupted: the search was stopped before the trial finished; queued again")
        if run_id is not None:
            self.tracker.end_child(run_id, "INTERRUPTED", error="interrupted (Ctrl-C); queued again for --resume")

    def interrupt_all(self) -> None:
        for number in list(self.ledger.live):
            self.guard(self.interrupt, number)
        self.ledger.interrupt_waiting_repeats()

    # ---- MLflow side ----------------------------------------------------------------------------
    def start_child(self, number: int, params: dict, config: dict, key: str, requeued_from: Optional[int]) -> str:
        train = config.get("train") or {}
        child_params = {**params, "depth": config.get("depth"), "embed_dim": config.get("embed_dim"),
                        "num_heads": config.get("num_heads"), "mlp_ratio": config.get("mlp_ratio"),
                        "epochs": train.get("epochs"), "batch_size": train.get("batch_size"), "lr": train.get("lr"),
                        "seed": train.get("seed"), "dataset": (config.get("data") or {}).get("name"),
                        "energy_model": (config.get("energy") or {}).get("model")}
        tags = {"canonical_key": key}
        if requeued_from is not None:
            tags["requeued_from"] = str(requeued_from)
        return self.tracker.start_child(number, params={k: v for k, v in child_params.items() if v is not None},
                                        tags=tags, config=config)

    def update_front(self) -> Front:
        """Rewrite the `pareto` tags that changed and log the hypervolume at this many finished trials."""
        front = Front.of_study(self.optuna, self.objectives)
        flags = {}
        for t in front.trials:
            run_id = self.tracker.child_of(t.number)
            if run_id is not None:
                flags[run_id] = t.number in front.numbers
        self.tracker.set_pareto(flags)
        self.tracker.log_hypervolume(front.hypervolume, self.ledger.finished)
        return front
