"""MLflow as the supernet strategy's phases see it: every write through the study's `Outbox`, as
the trial events' (`search.tracking.trial_log`), so a tracking outage during supernet training, candidate
scoring or confirmation delays the view and never stops a phase; nothing is lost and nothing is
written twice.

Runs are created by their first queued write; later writes for a run resolve it when they run
(`RunRef`, or the candidate's number), and skip it only if its creation was refused for good. The
supernet's run id is kept in the Optuna study once the run exists (`on_created`), so a resumed
study reopens it instead of starting a second one; a run created just before a driver died, its id
not yet kept, is found again by its `role` tag.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from search.supernet import candidates as cand


class RunRef:
    """A run that exists once its queued creation has been written; `reopened`: it existed before."""

    def __init__(self, reopened: bool = False) -> None:
        self.id: Optional[str] = None
        self.reopened = reopened


class SupernetLog:
    """Reads what MLflow holds once, when it is made (right after the study's setup reached the store),
    and only writes afterwards: a later outage cannot stop a phase on a read either."""

    def __init__(self, tracker: Any, outbox: Any):
        self.tracker = tracker
        self.outbox = outbox
        children = tracker.children()
        self._supernet_runs = {r.data.tags["role"]: r.info.run_id for r in reversed(children) if "role" in r.data.tags}
        self.candidate_runs: dict[int, str] = cand.logged_candidates(children)  # number -> run id, once written
        self._candidates: set[int] = set(self.candidate_runs)  # candidates whose run exists or is queued

    # ---- the study's parent run -----------------------------------------------------------------------
    def parent_tags(self, tags: Mapping[str, str]) -> None:
        tags = dict(tags)
        self.outbox.submit("the study's strategy tag", lambda: self.tracker.set_tags(self.tracker.parent_id, tags))

    def parent_text(self, text: str, name: str) -> None:
        self.outbox.submit(name, lambda: self.tracker.log_parent_text(text, name))

    # ---- the supernet's training run ---------------------------------------------------------------
    def open_supernet_run(self, previous: Optional[str], *, params: Mapping[str, Any], tags: Mapping[str, str],
                          on_created: Callable[[str], None]) -> RunRef:
        """The supernet's run: `previous` reopened when it exists, else a run already tagged with
        `tags["role"]`, else a new one; `on_created(run_id)` once it exists."""
        params, tags = dict(params), dict(tags)
        previous = previous or self._supernet_runs.get(tags.get("role"))
        ref = RunRef(reopened=previous is not None)

        def write() -> None:
            ref.id = self.tracker.open_labelled_child("supernet", run_id=previous, params=params, tags=tags)
            on_created(ref.id)

        self.outbox.submit("the supernet's run", write)
        return ref

    def epoch(self, ref: RunRef, metrics: Mapping[str, Any], step: int) -> None:
        metrics = dict(metrics)
        self._for(ref, f"epoch {step} of the supernet", lambda run: self.tracker.log_epoch(run, metrics, step=step))

    def close(self, ref: RunRef, status: str) -> None:
        self._for(ref, "the supernet run's status", lambda run: self.tracker.close_run(run, status))

    def _for(self, ref: RunRef, what: str, action: Callable[[str], None]) -> None:
        def write() -> None:
            if ref.id is not None:  # its creation was refused for good: nothing to write to
                action(ref.id)

        self.outbox.submit(what, write)

    # ---- scored candidates ----------------------------------------------------------------------------
    def candidate(self, trial: Any, metrics: Mapping[str, Any], key: str) -> None:
        """The finished child run of scored candidate `trial` (once, whatever happens to the store)."""
        if trial.number in self._candidates:
            return
        self._candidates.add(trial.number)
        metrics = dict(metrics)

        def write() -> None:
            self.candidate_runs[trial.number] = cand.candidate_run(self.tracker, trial, metrics, key)

        self.outbox.submit(f"the run of candidate {trial.number}", write)

    def candidate_tags(self, tags: Mapping[int, Mapping[str, str]]) -> None:
        """Tags by candidate number, written to their runs when those exist."""
        tags = {n: dict(t) for n, t in tags.items()}

        def write() -> None:
            for number, t in tags.items():
                run = self.candidate_runs.get(number)
                if run is not None:
                    self.tracker.set_tags(run, t)

        self.outbox.submit("the candidates' front tags", write)
