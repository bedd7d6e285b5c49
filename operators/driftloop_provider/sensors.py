"""Sensors: wait, without holding a worker slot, for new data profiles to judge."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from driftloop_provider.base import DriftloopResources
from driftloop_provider.triggers import (
    WATCHED_KINDS,
    NewProfileTrigger,
    find_new_profiles,
    parse_instant,
    profile_event,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

ASSET_TRIGGERED = "asset_triggered"
"""The ``run_type`` of a DAG run an Asset event started."""


class NewProfileSensor(DriftloopResources, BaseSensorOperator):
    """Wait until a batch or serving profile newer than the last drift check may be judged.

    "Newer" means recorded after ``since`` when it is given, else after the drift
    checkpoint (``monitoring/<dataset>/checkpoint.json`` on the monitoring branch, which
    :class:`~driftloop_provider.monitoring.ScoreDriftOperator` moves forward), else any profile.
    The checkpoint is read when the task runs, never while the DAG is parsed. A batch
    profile counts at once, a serving profile once ``monitoring.settle_seconds`` old.
    The sensor only wakes the check: what is judged is the champion's whole window
    (:mod:`driftloop.monitoring.steps`), not just the new profiles.

    Deferrable by default: it looks once, then hands the wait to
    :class:`~driftloop_provider.triggers.NewProfileTrigger` in the triggerer, polling every
    ``poke_interval`` seconds until ``timeout``. With ``deferrable=False`` it pokes in
    ``poke`` or ``reschedule`` mode like any sensor.

    A run started by an Asset event (the ingest DAG's batch profiles) never waits: its
    first look finds the profile the event announced, or, when an earlier run has judged
    it already (the event came while that run was active), nothing is new and it skips,
    leaving the DAG's run slot to the next run.

    Returns (XCom) ``{"since", "newest", "count", "rows", "profiles"}``.

    :param since: ISO timestamp overriding the checkpoint (templated).
    :param kind: ``batch`` or ``serving`` to wait for one kind; ``None`` waits for either.
    :param deferrable: wait in the triggerer instead of a worker.

    Takes the connection parameters of :class:`~driftloop_provider.base.DriftloopResources`.
    """

    template_fields: Sequence[str] = ("since",)

    def __init__(
        self,
        *,
        since: str | None = None,
        kind: str | None = None,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if kind is not None and kind not in WATCHED_KINDS:
            raise ValueError(f"kind must be one of {WATCHED_KINDS} or None (got {kind!r})")
        self.since = since
        self.kind = kind
        self.deferrable = deferrable

    def execute(self, context: Context) -> Any:
        """Return at once if new profiles exist; otherwise defer (or poke when not deferrable)."""
        if not self.deferrable:
            return super().execute(context)
        dataset, since = self._dataset_and_since()
        profiles = find_new_profiles(dataset, since, self.kind, self.lakefs_conn_id)
        if profiles:
            return profile_event(profiles, since)
        _skip_when_started_by_event(context, dataset, since)
        self.log.info("No new profiles of %s after %s: deferring", dataset, since or "the start")
        self.defer(
            trigger=NewProfileTrigger(
                dataset=dataset,
                since_iso=since.isoformat() if since else None,
                poll_seconds=self.poke_interval,
                kind=self.kind,
                lakefs_conn_id=self.lakefs_conn_id,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Context) -> PokeReturnValue:
        """Look once (the non-deferrable modes)."""
        dataset, since = self._dataset_and_since()
        profiles = find_new_profiles(dataset, since, self.kind, self.lakefs_conn_id)
        if not profiles:
            _skip_when_started_by_event(context, dataset, since)
        return PokeReturnValue(
            is_done=bool(profiles),
            xcom_value=profile_event(profiles, since) if profiles else None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Return the trigger's payload; fail when the trigger reported an error.

        Raises:
            AirflowException: the trigger could not read the store.
        """
        if event.get("status") == "error":
            raise AirflowException(f"waiting for new profiles failed: {event.get('message')}")
        self.log.info(
            "%s new profiles (%s rows), newest %s", event["count"], event["rows"], event["newest"]
        )
        return event

    def _dataset_and_since(self) -> tuple[str, datetime | None]:
        from driftloop.monitoring.steps import read_checkpoint

        dataset = self.spec.name
        if self.since:
            try:
                return dataset, parse_instant(self.since)
            except ValueError as bad:
                raise AirflowFailException(f"since {self.since!r} is not an ISO timestamp") from bad
        return dataset, read_checkpoint(self.store, dataset, ref=self.settings.monitoring.branch)


def _skip_when_started_by_event(context: Context, dataset: str, since: datetime | None) -> None:
    """Skip a run an Asset event started once it finds nothing new: it has nothing to wait for.

    Raises:
        AirflowSkipException: the run was started by an Asset event.
    """
    dag_run = context.get("dag_run")
    if dag_run is not None and dag_run.run_type == ASSET_TRIGGERED:
        raise AirflowSkipException(
            f"nothing new of {dataset} after {since.isoformat() if since else 'the start'}: "
            "an earlier run judged the profiles this run's Asset events announced"
        )
