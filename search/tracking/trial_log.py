"""MLflow as the driver's trial events see it: every write keyed by the Optuna trial number and sent
through the `Outbox`, so a tracking outage delays the view but never the search.

A trial's run is created by its first queued write (`start`); later writes find it by number when
they run. `run_of(number)` is the run's id once that write has run (None while it waits).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional


class TrialLog:
    def __init__(self, tracker: Any, outbox: Any):
        self.tracker = tracker
        self.outbox = outbox
        self.known: set[int] = set(tracker.known_trials())  # trials whose run exists or is queued
        self.created: dict[int, str] = {}  # trial number -> the run its `start` made or continued

    def has_run(self, number: int) -> bool:
        return number in self.known

    def run_of(self, number: int) -> Optional[str]:
        """The run `start` made for trial `number` in this session, once its write has run."""
        return self.created.get(number)

    # ---- children -------------------------------------------------------------------------------
    def start(self, number: int, *, params: Mapping[str, Any], tags: Mapping[str, str], config: Mapping[str, Any],
              continue_run: Optional[str] = None) -> None:
        """The run of trial `number`: `continue_run` (an interrupted trial's run) when it still exists,
        else a new one."""
        if number in self.known:
            return
        self.known.add(number)

        def write() -> None:
            run_id = None
            if continue_run:
                run_id = self.tracker.resume_child(continue_run, number, tags={k: v for k, v in tags.items()
                                                                                if k == "requeued_from"})
            if run_id is None:
                run_id = self.tracker.start_child(number, params=params, tags=tags, config=config)
            self.created[number] = run_id

        self.outbox.submit(f"the run of trial {number}", write)

    def epoch(self, number: int, metrics: Mapping[str, Any], step: int) -> None:
        self._for_run(number, f"epoch {step} of trial {number}",
                      lambda run: self.tracker.log_epoch(run, dict(metrics), step=step))

    def end(self, number: int, state: str, *, metrics: Mapping[str, Any], step: int, error: Optional[str],
            traceback: Optional[str]) -> None:
        self._for_run(number, f"the end of trial {number}", lambda run: self.tracker.end_child(
            run, state, metrics=dict(metrics), step=step, error=error, traceback=traceback))

    def note(self, number: int, tags: Mapping[str, str]) -> None:
        self._for_run(number, f"tags of trial {number}", lambda run: self.tracker.set_tags(run, dict(tags)))

    def pareto(self, flags: Mapping[int, bool]) -> None:
        flags = dict(flags)

        def write() -> None:
            runs = {self.tracker.child_of(n): on for n, on in flags.items()}
            self.tracker.set_pareto({run: on for run, on in runs.items() if run is not None})

        self.outbox.submit("the pareto tags", write)

    def _for_run(self, number: int, what: str, action: Callable[[str], None]) -> None:
        def write() -> None:
            run = self.tracker.child_of(number)
            if run is not None:  # its creation was refused for good: nothing to write to
                action(run)

        self.outbox.submit(what, write)

    # ---- the parent -----------------------------------------------------------------------------
    def hypervolume(self, value: float, step: int) -> None:
        self.outbox.submit(f"hypervolume at {step}", lambda: self.tracker.log_hypervolume(value, step))

    def parent_metrics(self, metrics: Mapping[str, float], step: int) -> None:
        self.outbox.submit("study metrics", lambda: self.tracker.log_parent_metrics(dict(metrics), step))

    def parent_artifacts(self, paths: Iterable[Path], *, folder: Optional[str] = None, what: str = "the front's files"
                         ) -> None:
        """Files for the parent run, into its artifact `folder` (None: the top level)."""
        paths = list(paths)
        self.outbox.submit(what, lambda: self.tracker.log_parent_artifacts(paths, folder))

    def close(self, status: str) -> None:
        self.outbox.submit("the study's status", lambda: self.tracker.close_parent(status))
