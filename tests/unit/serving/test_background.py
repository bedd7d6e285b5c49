"""The background job helper: runs on time, survives a failing call, stops cleanly."""

from __future__ import annotations

import threading
import time

from driftloop.serving.background import Periodic


def test_the_job_runs_again_after_it_fails_and_stops_on_request(caplog) -> None:
    calls: list[float] = []
    third = threading.Event()

    def job() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("first call breaks")
        if len(calls) >= 3:
            third.set()

    worker = Periodic(job, interval=0.01, name="test-periodic")
    worker.start()
    worker.start()  # a second start is ignored: still one thread
    assert third.wait(5), calls
    worker.stop()
    stopped_at = len(calls)
    time.sleep(0.05)

    assert len(calls) == stopped_at
    assert "test-periodic failed" in caplog.text
    assert [t.name for t in threading.enumerate()].count("test-periodic") == 0


def test_nothing_runs_before_start() -> None:
    calls = []
    worker = Periodic(lambda: calls.append(1), interval=0.01, name="idle")
    time.sleep(0.05)
    worker.stop()
    assert calls == []
