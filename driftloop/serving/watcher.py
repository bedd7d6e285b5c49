"""Follow the registry: swap the served handle when the champion alias moves."""

from __future__ import annotations

import logging
import threading
import time

from pydantic import (
    JsonValue,
)

from driftloop.exceptions import (
    ArtifactCorrupt,
    DriftloopError,
    SchemaMismatch,
)
from driftloop.serving.background import Periodic
from driftloop.serving.handle import ChampionLoader, ModelHandle

log = logging.getLogger(__name__)


class ChampionWatcher:
    """Polls the alias and swaps the served handle when it moves (promotion or rollback).

    The handle is one attribute: a request reads it once and keeps that model to the end,
    the next request gets the new one. A version that fails to load (corrupt artifact,
    schema that no longer fits) is logged and skipped, and the old model keeps serving;
    registry or store outages are logged and retried at the next poll.
    """

    def __init__(
        self, loader: ChampionLoader, handle: ModelHandle, *, interval: float = 2.0
    ) -> None:
        """Start from ``handle``; poll every ``interval`` seconds once :meth:`start` is called."""
        self.loader = loader
        self.interval = interval
        self._handle = handle
        self._rejected: dict[int, str] = {}
        self._last_error: str | None = None
        self._last_poll: float | None = None
        self._lock = threading.Lock()
        self._poller = Periodic(self.poll, interval=interval, name="driftloop-champion-watcher")

    @property
    def handle(self) -> ModelHandle:
        """The model to serve the next request with."""
        return self._handle

    def poll(self) -> bool:
        """Check the alias once; load and swap in a new version. Return whether it swapped."""
        with self._lock:
            self._last_poll = time.time()
            try:
                version = self.loader.current_version()
            except DriftloopError as exc:
                self._note_error(f"cannot read the {self.loader.alias!r} alias: {exc}")
                return False
            if version is None or version == self._handle.version or version in self._rejected:
                return False
            try:
                handle = self.loader.load(version)
            except (ArtifactCorrupt, SchemaMismatch) as exc:
                self._rejected[version] = str(exc)
                log.error(
                    "not serving version %s of %r, keeping version %s: %s",
                    version,
                    self.loader.model,
                    self._handle.version,
                    exc,
                )
                return False
            except DriftloopError as exc:
                self._note_error(f"cannot load version {version}: {exc}")
                return False
            previous, self._handle, self._last_error = self._handle.version, handle, None
            log.info("now serving version %s of %r (was %s)", version, handle.model, previous)
            return True

    def status(self) -> dict[str, JsonValue]:
        """When it last polled, its last transient error, and the versions it refused."""
        return {
            "alias": self.loader.alias,
            "interval_seconds": self.interval,
            "last_poll": self._last_poll,
            "last_error": self._last_error,
            "rejected_versions": {str(v): reason for v, reason in self._rejected.items()},
        }

    def start(self) -> None:
        """Poll in a daemon thread until :meth:`stop`."""
        self._poller.start()

    def stop(self) -> None:
        """Stop polling and wait for the thread."""
        self._poller.stop()

    def _note_error(self, message: str) -> None:
        if message != self._last_error:
            log.warning("%s; still serving version %s", message, self._handle.version)
        self._last_error = message
