from __future__ import annotations

import asyncio
import importlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from airflow.triggers.base import TriggerEvent

from driftloop.config import get_settings
from driftloop.exceptions import VersioningError
from driftloop.monitoring.profiles import write_profile
from driftloop.versioning.base import VersionStore
from driftloop.versioning.factory import open_store
from driftloop_provider.triggers import NewProfileTrigger

DATASET = "credit_risk"


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> VersionStore:
    """The local store the trigger finds through the settings, as in the triggerer."""
    monkeypatch.setenv("DRIFTLOOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DRIFTLOOP_MONITORING__SETTLE_SECONDS", "0")
    store = open_store(get_settings())
    store.ensure_repository("main")
    return store


def _write(store: VersionStore, key: str, kind: str = "batch") -> datetime:
    profile = write_profile(store, dataset=DATASET, kind=kind, key=key, data=key.encode(), rows=7)  # type: ignore[arg-type]
    return profile.recorded_at


def _rebuild(trigger: NewProfileTrigger) -> NewProfileTrigger:
    """What the triggerer does: import the class path, call it with the JSON kwargs."""
    classpath, kwargs = trigger.serialize()
    module, name = classpath.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**json.loads(json.dumps(kwargs)))


def test_serialize_round_trips_exactly() -> None:
    trigger = NewProfileTrigger(
        dataset=DATASET,
        since_iso="2024-05-01T12:00:00+00:00",
        poll_seconds=2.5,
        kind="serving",
        lakefs_conn_id="lakefs_prod",
    )

    classpath, kwargs = trigger.serialize()

    assert classpath == "driftloop_provider.triggers.NewProfileTrigger"
    assert kwargs == {
        "dataset": DATASET,
        "since_iso": "2024-05-01T12:00:00+00:00",
        "poll_seconds": 2.5,
        "kind": "serving",
        "lakefs_conn_id": "lakefs_prod",
    }
    assert _rebuild(trigger).serialize() == (classpath, kwargs)


def test_serialize_round_trips_the_defaults() -> None:
    trigger = NewProfileTrigger(dataset=DATASET, since_iso=None)

    assert _rebuild(trigger).serialize() == trigger.serialize()


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        NewProfileTrigger(dataset=DATASET, since_iso=None, kind="reference")


def test_it_fires_on_a_new_profile_and_not_before(store: VersionStore) -> None:
    since = _write(store, "old")
    _write(store, "ref", kind="reference")
    trigger = _rebuild(
        NewProfileTrigger(dataset=DATASET, since_iso=since.isoformat(), poll_seconds=0.05)
    )

    async def scenario() -> tuple[bool, TriggerEvent, datetime]:
        events = trigger.run()
        waiting = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0.5)  # ten polls that find only the old and the reference profile
        fired_early = waiting.done()
        recorded = await asyncio.to_thread(_write, store, "new")
        event = await asyncio.wait_for(waiting, timeout=30)
        with pytest.raises(StopAsyncIteration):
            await anext(events)
        return fired_early, event, recorded

    fired_early, event, recorded = asyncio.run(scenario())

    assert not fired_early
    assert event.payload == {
        "status": "found",
        "since": since.isoformat(),
        "newest": recorded.isoformat(),
        "count": 1,
        "rows": 7,
        "profiles": [f"monitoring/{DATASET}/batch/new.bin"],
    }


def test_it_fires_at_once_when_profiles_are_already_there(store: VersionStore) -> None:
    _write(store, "b1")
    trigger = NewProfileTrigger(dataset=DATASET, since_iso=None, poll_seconds=60)

    async def first_event() -> TriggerEvent:
        return await asyncio.wait_for(anext(trigger.run()), timeout=30)

    assert asyncio.run(first_event()).payload["count"] == 1


def test_a_store_error_ends_the_wait_with_an_error_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_: object) -> list[object]:
        raise VersioningError("lakeFS answered 503")

    monkeypatch.setattr("driftloop_provider.triggers.find_new_profiles", broken)
    trigger = NewProfileTrigger(dataset=DATASET, since_iso=None, poll_seconds=0.01)

    async def first_event() -> TriggerEvent:
        return await asyncio.wait_for(anext(trigger.run()), timeout=30)

    assert asyncio.run(first_event()).payload == {
        "status": "error",
        "message": "lakeFS answered 503",
    }


def test_a_naive_since_is_taken_as_utc(store: VersionStore) -> None:
    recorded = _write(store, "b1")
    naive = recorded.astimezone(UTC).replace(tzinfo=None).isoformat()
    trigger = NewProfileTrigger(dataset=DATASET, since_iso=naive, poll_seconds=0.05)

    async def first_event_or_none() -> TriggerEvent | None:
        try:
            return await asyncio.wait_for(anext(trigger.run()), timeout=0.3)
        except TimeoutError:
            return None

    assert asyncio.run(first_event_or_none()) is None
