"""Triggers that run in Airflow's triggerer while a deferred task waits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from driftloop.monitoring.profiles import ProfileKind, ProfileRef

WATCHED_KINDS = ("batch", "serving")
"""The profile kinds a trigger may watch (``None`` watches both)."""

EVENT_PROFILE_LIMIT = 50
"""At most this many profile paths travel in an event (the count is always exact)."""


def parse_instant(text: str) -> datetime:
    """Parse an ISO timestamp; one without a timezone is taken as UTC, like Airflow's.

    Raises:
        ValueError: not an ISO timestamp.
    """
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def find_new_profiles(
    dataset: str, since: datetime | None, kind: str | None, lakefs_conn_id: str | None
) -> list[ProfileRef]:
    """Profiles of ``dataset`` recorded after ``since`` that may be judged now (blocking).

    Batch profiles count at once, serving profiles once settled
    (:func:`~driftloop.monitoring.steps.ready_at`).

    Raises:
        DriftloopError: the settings are invalid or the store failed.
    """
    from driftloop.config import get_settings
    from driftloop.monitoring.profiles import list_profiles
    from driftloop.monitoring.steps import ready_at
    from driftloop_provider.hooks.lakefs import version_store

    settings = get_settings()
    store = version_store(settings, lakefs_conn_id=lakefs_conn_id)
    now = datetime.now(UTC)
    profiles = list_profiles(
        store,
        dataset=dataset,
        ref=settings.monitoring.branch,
        since=since,
        kind=cast("ProfileKind | None", kind),
    )
    return [p for p in profiles if ready_at(p, settings.monitoring) <= now]


def profile_event(profiles: list[ProfileRef], since: datetime | None) -> dict[str, Any]:
    """The JSON payload announcing new profiles: how many, the newest time, their paths."""
    return {
        "status": "found",
        "since": since.isoformat() if since else None,
        "newest": profiles[-1].recorded_at.isoformat(),
        "count": len(profiles),
        "rows": sum(p.rows for p in profiles),
        "profiles": [p.path for p in profiles[-EVENT_PROFILE_LIMIT:]],
    }


class NewProfileTrigger(BaseTrigger):
    """Fires once a batch or serving profile newer than ``since_iso`` is on the monitoring branch.

    :param dataset: the dataset whose profiles to watch.
    :param since_iso: ISO timestamp; only profiles recorded after it count (``None``: any).
    :param poll_seconds: pause between two looks at the store.
    :param kind: ``batch`` or ``serving`` to watch one kind; ``None`` watches both.
    :param lakefs_conn_id: the lakeFS connection, when the lakeFS backend is configured.
    """

    def __init__(
        self,
        *,
        dataset: str,
        since_iso: str | None,
        poll_seconds: float = 60.0,
        kind: str | None = None,
        lakefs_conn_id: str | None = None,
    ) -> None:
        super().__init__()
        if kind is not None and kind not in WATCHED_KINDS:
            raise ValueError(f"kind must be one of {WATCHED_KINDS} or None (got {kind!r})")
        self.dataset = dataset
        self.since_iso = since_iso
        self.poll_seconds = poll_seconds
        self.kind = kind
        self.lakefs_conn_id = lakefs_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and the keyword arguments that rebuild this trigger."""
        return (
            "driftloop_provider.triggers.NewProfileTrigger",
            {
                "dataset": self.dataset,
                "since_iso": self.since_iso,
                "poll_seconds": self.poll_seconds,
                "kind": self.kind,
                "lakefs_conn_id": self.lakefs_conn_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll the store until new profiles appear; yield one event and stop.

        A store or settings error ends the wait with an ``error`` event, so the task
        fails (and retries) instead of polling a broken configuration for days.
        """
        from driftloop.exceptions import DriftloopError

        since = parse_instant(self.since_iso) if self.since_iso else None
        while True:
            try:
                # The store's clients block: keep them off the triggerer's event loop.
                profiles = await asyncio.to_thread(
                    find_new_profiles, self.dataset, since, self.kind, self.lakefs_conn_id
                )
            except DriftloopError as exc:
                yield TriggerEvent({"status": "error", "message": str(exc)})
                return
            if profiles:
                yield TriggerEvent(profile_event(profiles, since))
                return
            self.log.debug("No %s profiles after %s yet", self.dataset, self.since_iso)
            await asyncio.sleep(self.poll_seconds)
