"""Retrain guards: cooldown, dedupe, a daily budget and a circuit breaker, shared by every worker.

The state is one row per guarded model in the table ``monitoring_retrain_guard`` of
the registry's database, created by the registry's migrations: the guards apply them
on first use, as a monitor run may reach the database before any registry call does.
Every change runs in one write transaction that locks the row (``SELECT ... FOR
UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite), so two monitor runs deciding
at once cannot both trigger a retrain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from driftloop.config.monitoring import GuardSettings
from driftloop.registry.database import Database
from driftloop.registry.models import RetrainGuardRow

_DAY = timedelta(days=1)


class GuardState(BaseModel):
    """What the guards remember about one model's retrains."""

    model_config = ConfigDict(frozen=True)

    scope: str
    last_trigger_at: datetime | None = None
    last_trigger_key: str | None = None
    last_signature: str | None = None
    recent_triggers: list[datetime] = []
    consecutive_failures: int = 0
    breaker_open_since: datetime | None = None
    last_outcome_key: str | None = None


class GuardDecision(BaseModel):
    """Whether a retrain may be triggered now, and why (or why not)."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    reason: str
    signature: str
    breaker_open: bool = False


class OutcomeRecorded(BaseModel):
    """The guards after a retrain's outcome; ``tripped`` when this outcome opened the breaker."""

    model_config = ConfigDict(frozen=True)

    consecutive_failures: int
    breaker_open: bool
    tripped: bool


class RetrainGuard:
    """The retrain guards of one model (``scope``), with state in a SQL database.

    Every method may raise :class:`~driftloop.exceptions.RegistryUnavailable` (the
    database cannot be reached or stayed locked: retry) or
    :class:`~driftloop.exceptions.RegistryError` (any other database error).
    """

    def __init__(
        self, *, url: str, scope: str, settings: GuardSettings, sqlite_timeout: float = 30.0
    ) -> None:
        """Prepare the engine; nothing connects until the first call.

        Args:
            url: SQLAlchemy URL of the registry's database (SQLite or PostgreSQL).
            scope: what is guarded, normally the model name.
            settings: cooldown, daily budget and breaker threshold.
            sqlite_timeout: seconds a SQLite writer waits for another's lock.

        Raises:
            RegistryError: the URL names an unsupported database.
        """
        self._db = Database(url, sqlite_timeout=sqlite_timeout)
        self.scope = scope
        self.settings = settings
        self._schema_ready = False

    def state(self) -> GuardState:
        """The current state (a fresh one when nothing was recorded yet)."""
        self._ensure_schema()
        with self._db.transaction(write=False) as session:
            row = session.get(RetrainGuardRow, self.scope)
            return _state(row) if row is not None else GuardState(scope=self.scope)

    def check(self, now: datetime, signature: str, train_running: bool) -> GuardDecision:
        """Decide whether a retrain for drift ``signature`` may start at ``now``; record nothing.

        Args:
            now: the decision time (timezone-aware).
            signature: identifies the drift (:attr:`DriftResult.signature`).
            train_running: whether a training run is queued or running right now.
        """
        return _decide(self.state(), now, signature, train_running, self.settings)

    def admit(
        self, now: datetime, signature: str, train_running: bool, *, key: str
    ) -> GuardDecision:
        """Check and, when allowed, record the trigger, in one locked transaction.

        Idempotent by ``key`` (e.g. the monitor run's id): asking again for the same
        key returns "allowed" without recording a second trigger, so a retried task
        still triggers the retrain it was admitted for.
        """
        with self._locked() as (session, row):
            if row.last_trigger_key == key:
                return GuardDecision(
                    allowed=True,
                    reason=f"retrain already admitted for {key!r} at {_at(row.last_trigger_at)}",
                    signature=signature,
                )
            decision = _decide(_state(row), now, signature, train_running, self.settings)
            if decision.allowed:
                _record_trigger(row, now, signature, key)
            session.flush()
            return decision

    def record_trigger(self, now: datetime, signature: str, *, key: str | None = None) -> None:
        """Record that a retrain was triggered (when it was not admitted through :meth:`admit`)."""
        with self._locked() as (session, row):
            _record_trigger(row, now, signature, key)
            session.flush()

    def record_outcome(
        self, success: bool, *, now: datetime | None = None, key: str | None = None
    ) -> OutcomeRecorded:
        """Record how a triggered retrain ended.

        A success closes the breaker and clears the failure streak; a failure extends
        it and opens the breaker at ``breaker_failures`` in a row. Idempotent by
        ``key`` (e.g. the training run's id): the same outcome is counted once.
        """
        moment = now or datetime.now(UTC)
        with self._locked() as (session, row):
            if key is not None and row.last_outcome_key == key:
                return OutcomeRecorded(
                    consecutive_failures=row.consecutive_failures,
                    breaker_open=row.breaker_open_since is not None,
                    tripped=False,
                )
            tripped = False
            if success:
                row.consecutive_failures = 0
                row.breaker_open_since = None
            else:
                row.consecutive_failures += 1
                if (
                    row.breaker_open_since is None
                    and row.consecutive_failures >= self.settings.breaker_failures
                ):
                    row.breaker_open_since = moment
                    tripped = True
            row.last_outcome_key = key
            row.updated_at = moment
            session.flush()
            return OutcomeRecorded(
                consecutive_failures=row.consecutive_failures,
                breaker_open=row.breaker_open_since is not None,
                tripped=tripped,
            )

    def reset(self, *, now: datetime | None = None) -> None:
        """Close the circuit breaker by hand (after fixing whatever made retrains fail)."""
        with self._locked() as (session, row):
            row.consecutive_failures = 0
            row.breaker_open_since = None
            row.updated_at = now or datetime.now(UTC)
            session.flush()

    def move_back(self, by: timedelta) -> None:
        """Move the record of earlier retrains ``by`` into the past; the breaker stays as is.

        For days that pass in seconds (the demo's and the benchmark's generated days): the
        cooldown and the daily budget then judge the next retrain as they would ``by`` later.
        """
        with self._locked() as (_, row):
            if row.last_trigger_at is not None:
                row.last_trigger_at -= by
            row.recent_triggers = [
                (datetime.fromisoformat(t) - by).isoformat() for t in row.recent_triggers
            ]

    def _ensure_schema(self) -> None:
        # The guards may be the first to use the registry's database (the outcome
        # notifier builds them without a registry), so they bring it to head themselves:
        # a no-op once migrated, and serialized across processes by Database.upgrade.
        if not self._schema_ready:
            self._db.upgrade()
            self._schema_ready = True

    @contextmanager
    def _locked(self) -> Iterator[tuple[Session, RetrainGuardRow]]:
        """A write transaction holding the scope's row (inserted first when missing)."""
        self._ensure_schema()
        with self._db.transaction(write=True) as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            session.execute(
                insert(RetrainGuardRow)
                .values(
                    scope=self.scope,
                    recent_triggers=[],
                    consecutive_failures=0,
                    updated_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing(index_elements=["scope"])
            )
            row = session.scalars(
                select(RetrainGuardRow).where(RetrainGuardRow.scope == self.scope).with_for_update()
            ).one()
            yield session, row


def _record_trigger(row: RetrainGuardRow, now: datetime, signature: str, key: str | None) -> None:
    recent = [t for t in _times(row.recent_triggers) if t > now - _DAY]
    row.recent_triggers = [t.isoformat() for t in [*recent, now]]
    row.last_trigger_at = now
    row.last_trigger_key = key
    row.last_signature = signature
    row.updated_at = now


def _decide(
    state: GuardState,
    now: datetime,
    signature: str,
    train_running: bool,
    settings: GuardSettings,
) -> GuardDecision:
    if state.breaker_open_since is not None:
        return GuardDecision(
            allowed=False,
            reason=(
                f"circuit breaker open since {_at(state.breaker_open_since)} after "
                f"{state.consecutive_failures} failed retrains in a row; a successful retrain "
                "or a reset closes it"
            ),
            signature=signature,
            breaker_open=True,
        )
    if train_running and signature == state.last_signature:
        return GuardDecision(
            allowed=False,
            reason=f"a retrain for this drift ({signature}) is already running",
            signature=signature,
        )
    cooldown = timedelta(minutes=settings.cooldown_minutes)
    if state.last_trigger_at is not None and now < state.last_trigger_at + cooldown:
        return GuardDecision(
            allowed=False,
            reason=(
                f"cooldown: the last retrain was triggered at {_at(state.last_trigger_at)}; "
                f"the next may start at {_at(state.last_trigger_at + cooldown)}"
            ),
            signature=signature,
        )
    recent = sorted(t for t in state.recent_triggers if t > now - _DAY)
    if len(recent) >= settings.max_retrains_per_day:
        return GuardDecision(
            allowed=False,
            reason=(
                f"daily budget spent: {len(recent)} retrains triggered in the last 24 hours "
                f"(at most {settings.max_retrains_per_day}); the next may start at "
                f"{_at(recent[-settings.max_retrains_per_day] + _DAY)}"
            ),
            signature=signature,
        )
    return GuardDecision(
        allowed=True,
        reason=(
            f"retrain allowed ({len(recent)} of {settings.max_retrains_per_day} triggered "
            "in the last 24 hours)"
        ),
        signature=signature,
    )


def _state(row: RetrainGuardRow) -> GuardState:
    return GuardState(
        scope=row.scope,
        last_trigger_at=row.last_trigger_at,
        last_trigger_key=row.last_trigger_key,
        last_signature=row.last_signature,
        recent_triggers=_times(row.recent_triggers),
        consecutive_failures=row.consecutive_failures,
        breaker_open_since=row.breaker_open_since,
        last_outcome_key=row.last_outcome_key,
    )


def _times(values: list[str]) -> list[datetime]:
    return [datetime.fromisoformat(v) for v in values]


def _at(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "never"
