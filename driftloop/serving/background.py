"""A job that runs every few seconds in a daemon thread, beside the requests it must not stall."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls ``job`` every ``interval`` seconds in a daemon thread, between start and stop.

    An exception in one call is logged and the next call happens on time: the thread outlives
    any bug in the job, so the service keeps serving.

    Args:
        job: What to run; its return value is ignored.
        interval: Seconds between the end of one call and the start of the next.
        name: The thread's name (shown in logs and thread dumps).
        join_grace: Extra seconds :meth:`stop` waits for a call in progress.
    """

    def __init__(
        self, job: Callable[[], object], *, interval: float, name: str, join_grace: float = 5.0
    ) -> None:
        self.job = job
        self.interval = interval
        self.name = name
        self.join_grace = join_grace
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread; a second call while running does nothing."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for a call in progress to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + self.join_grace)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.job()
            except Exception:
                log.exception("%s failed; running again in %s s", self.name, self.interval)
