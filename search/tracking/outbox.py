"""MLflow writes in order, kept and retried while the tracking store is away.

Optuna is told first and is the source of truth; MLflow is the view. A write that fails because the
tracking server or database is unreachable (a connection error, a timeout, a 5xx answer) stays at the
head of the queue and everything after it waits, so the order of writes is kept; the driver goes on
training and telling Optuna, says once in the terminal that tracking is behind, tries again every
`retry_every` seconds, and says when it has caught up. A write the server refuses for good (a 4xx
answer: it would fail the same way forever) is dropped with a warning. At the end the queue is
drained, waiting out the outage; whatever a killed driver left queued, `--resume` rebuilds from Optuna
(`search.run.resume.reconcile`, `backfill_hypervolume`).
"""
from __future__ import annotations

import sys
import time
from collections import deque
from typing import Callable, Optional


def is_transient(err: BaseException) -> bool:
    """A failure that may pass: the store unreachable, overloaded or failing on its side (a connection
    error, a timeout, a 5xx or 429 answer, a locked database), not a refused request or a bug."""
    get_status = getattr(err, "get_http_status_code", None)
    if callable(get_status):
        try:
            status = int(get_status())
        except (TypeError, ValueError):
            status = None
        if status is not None:
            return status >= 500 or status == 429
    return isinstance(err, (OSError, TimeoutError)) or type(err).__name__ == "OperationalError"


class Outbox:
    def __init__(self, *, say: Callable[[str], None], where: str, retry_every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        self.say = say
        self.where = where
        self.retry_every = retry_every
        self.clock = clock
        self.pending: deque[tuple[str, Callable[[], None]]] = deque()
        self.behind_since: Optional[float] = None
        self._last_try = float("-inf")

    def __len__(self) -> int:
        return len(self.pending)

    def submit(self, what: str, write: Callable[[], None]) -> None:
        """Queue `write` (described by `what`) and write whatever can be written now."""
        self.pending.append((what, write))
        self.flush()

    def flush(self, *, force: bool = False) -> bool:
        """Write queued writes in order; True when none is left. While behind, retries at most every
        `retry_every` seconds unless `force`."""
        if self.behind_since is not None and not force and self.clock() - self._last_try < self.retry_every:
            return False
        self._last_try = self.clock()
        while self.pending:
            what, write = self.pending[0]
            try:
                write()
            except Exception as err:  # noqa: BLE001 - classified below; nothing here may stop the search
                if not is_transient(err):
                    print(f"warning: could not write {what} to MLflow: {type(err).__name__}: {str(err)[:300]}",
                          file=sys.stderr)
                    self.pending.popleft()
                    continue
                if self.behind_since is None:
                    self.behind_since = self.clock()
                    self.say(f"tracking is behind: {self.where} does not answer ({type(err).__name__}); "
                             f"{len(self.pending)} write(s) kept, retrying every {self.retry_every:g} s; "
                             f"training and Optuna go on")
                return False
            self.pending.popleft()
        if self.behind_since is not None:
            self.say(f"tracking caught up: {self.where} answers again after "
                     f"{self.clock() - self.behind_since:.0f} s")
            self.behind_since = None
        return True

    def drain(self, *, stop: Callable[[], bool] = lambda: False, sleep: Callable[[float], None] = time.sleep) -> bool:
        """Wait until every queued write is written (an outage is waited out), or `stop()`."""
        while not self.flush(force=True):
            if stop():
                self.say(f"tracking left behind: {len(self.pending)} write(s) not written to {self.where}; "
                         f"--resume rebuilds them from the Optuna study")
                return False
            sleep(self.retry_every)
        return True
