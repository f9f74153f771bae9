"""The MLflow outbox (search.tracking.outbox): order kept, transient failures retried, refusals dropped."""
from __future__ import annotations

import pytest

from search.tracking import Outbox, is_transient


class Refused(Exception):
    """An MLflow client error for a request the server will never accept (HTTP 400)."""

    def get_http_status_code(self):
        return 400


class ServerDown(Exception):
    def get_http_status_code(self):
        return 500


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def outbox_with(down: list, said: list, clock: Clock) -> tuple[Outbox, list]:
    written = []

    def writer(name):
        def write():
            if down[0]:
                raise ServerDown("API request failed with exception ConnectionError")
            written.append(name)
        return write

    box = Outbox(say=said.append, where="http://127.0.0.1:5000", retry_every=10, clock=clock)
    box.writer = writer
    return box, written


def test_writes_wait_in_order_through_an_outage_and_catch_up():
    down, said, clock = [False], [], Clock()
    box, written = outbox_with(down, said, clock)
    box.submit("a", box.writer("a"))
    down[0] = True
    box.submit("b", box.writer("b"))
    box.submit("c", box.writer("c"))
    assert written == ["a"] and len(box) == 2
    assert len(said) == 1 and said[0].startswith("tracking is behind: http://127.0.0.1:5000 does not answer")
    down[0] = False
    assert not box.flush(), "while behind, retries wait `retry_every`"
    clock.now = 10
    assert box.flush() and written == ["a", "b", "c"] and len(box) == 0
    assert said[-1] == "tracking caught up: http://127.0.0.1:5000 answers again after 10 s"


def test_a_refused_write_is_dropped_and_the_rest_goes_on(capsys):
    said, clock = [], Clock()
    box = Outbox(say=said.append, where="x", clock=clock)
    written = []
    box.submit("bad", lambda: (_ for _ in ()).throw(Refused("INVALID_PARAMETER_VALUE")))
    box.submit("good", lambda: written.append("good"))
    assert written == ["good"] and not said
    assert "could not write bad to MLflow: Refused: INVALID_PARAMETER_VALUE" in capsys.readouterr().err


def test_drain_waits_out_an_outage_or_stops_when_asked():
    down, said, clock = [True], [], Clock()
    box, written = outbox_with(down, said, clock)
    box.submit("a", box.writer("a"))
    naps = []

    def sleep(seconds):
        naps.append(seconds)
        clock.now += seconds
        if len(naps) == 3:
            down[0] = False  # the server comes back after three waits

    assert box.drain(sleep=sleep) and written == ["a"] and naps == [10, 10, 10]
    down[0] = True
    box.submit("b", box.writer("b"))
    assert not box.drain(stop=lambda: True, sleep=sleep)
    assert "--resume rebuilds them from the Optuna study" in said[-1]


@pytest.mark.parametrize("err, transient", [(ServerDown(), True), (Refused(), False), (OSError("reset"), True),
                                            (TimeoutError(), True), (KeyError(3), False)])
def test_transient_failures(err, transient):
    assert is_transient(err) is transient
