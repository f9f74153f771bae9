"""A stop request: set by Ctrl-C or SIGTERM, read by the searcher (no new trials), the stopper (end
the running ones) and the trial events (a trial ended by the stop is interrupted, not failed).

The first signal asks for a clean stop; a second one stops at once (KeyboardInterrupt).
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator


class StopRequest:
    def __init__(self) -> None:
        self._event = threading.Event()

    def is_set(self) -> bool:
        return self._event.is_set()

    def request(self) -> None:
        self._event.set()

    @contextmanager
    def on_signals(self, announce: Callable[[], None]) -> Iterator[None]:
        """Within the block, SIGINT and SIGTERM request a stop (`announce` tells the user);
        the previous handlers come back afterwards."""

        def handler(signum, frame) -> None:
            if self.is_set():  # the second one: stop now
                signal.signal(signal.SIGINT, signal.default_int_handler)
                raise KeyboardInterrupt
            self.request()
            announce()

        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        for s in previous:
            signal.signal(s, handler)
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)
