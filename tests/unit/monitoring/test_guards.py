from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from driftloop.config.monitoring import GuardSettings
from driftloop.monitoring.guards import RetrainGuard
from driftloop.registry import Registry
from driftloop.registry.database import MIGRATIONS_DIR
from tests.support.postgres import admin_url, temporary_schema

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LIMITS = GuardSettings(cooldown_minutes=60, max_retrains_per_day=3, breaker_failures=2)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The registry's database: SQLite, or PostgreSQL when the local server is up."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        with temporary_schema(admin_url(), "guards") as schema_url:
            yield schema_url


@pytest.fixture
def guard(url: str) -> RetrainGuard:
    return RetrainGuard(url=url, scope="credit_risk", settings=LIMITS)


def test_a_first_retrain_is_allowed(guard: RetrainGuard) -> None:
    decision = guard.check(T0, "sig-a", False)

    assert decision.allowed
    assert "0 of 3" in decision.reason


def test_cooldown_withholds_a_retrain_until_it_has_passed(guard: RetrainGuard) -> None:
    guard.record_trigger(T0, "sig-a")

    during = guard.check(T0 + timedelta(minutes=59), "sig-b", False)
    after = guard.check(T0 + timedelta(minutes=60), "sig-b", False)

    assert not during.allowed
    assert during.reason.startswith("cooldown") and "2024-05-01 13:00 UTC" in during.reason
    assert after.allowed


def test_moving_the_record_back_lets_the_cooldown_and_budget_pass(guard: RetrainGuard) -> None:
    for minutes in (0, 1, 2):
        guard.record_trigger(T0 + timedelta(minutes=minutes), f"sig-{minutes}")
    guard.record_outcome(False, now=T0)
    now = T0 + timedelta(minutes=3)
    assert not guard.check(now, "sig-new", False).allowed

    guard.move_back(timedelta(days=1))

    assert guard.check(now, "sig-new", False).allowed
    state = guard.state()
    assert state.last_trigger_at == T0 + timedelta(minutes=2) - timedelta(days=1)
    assert state.consecutive_failures == 1  # the breaker's count stays


def test_the_same_drift_is_not_retrained_twice_while_a_retrain_runs(url: str) -> None:
    guard = RetrainGuard(
        url=url, scope="m", settings=GuardSettings(cooldown_minutes=0, max_retrains_per_day=10)
    )
    guard.record_trigger(T0, "sig-a")
    later = T0 + timedelta(minutes=5)

    assert not guard.check(later, "sig-a", True).allowed
    assert "already running" in guard.check(later, "sig-a", True).reason
    assert guard.check(later, "sig-a", False).allowed
    assert guard.check(later, "sig-b", True).allowed


def test_the_daily_budget_counts_the_last_24_hours(url: str) -> None:
    guard = RetrainGuard(
        url=url, scope="m", settings=GuardSettings(cooldown_minutes=0, max_retrains_per_day=3)
    )
    for hours in (0, 1, 2):
        guard.record_trigger(T0 + timedelta(hours=hours), f"sig-{hours}")

    spent = guard.check(T0 + timedelta(hours=3), "sig-x", False)
    refilled = guard.check(T0 + timedelta(hours=24, minutes=1), "sig-x", False)

    assert not spent.allowed
    assert spent.reason.startswith("daily budget spent: 3 retrains")
    assert "2024-05-02 12:00 UTC" in spent.reason
    assert refilled.allowed


def test_the_breaker_trips_after_failures_in_a_row_and_closes_on_success(
    guard: RetrainGuard,
) -> None:
    first = guard.record_outcome(False, now=T0, key="run-1")
    second = guard.record_outcome(False, now=T0, key="run-2")
    later = T0 + timedelta(days=2)

    assert not first.tripped and not first.breaker_open
    assert second.tripped and second.breaker_open and second.consecutive_failures == 2
    withheld = guard.check(later, "sig-a", False)
    assert not withheld.allowed and withheld.breaker_open
    assert "circuit breaker open" in withheld.reason
    assert not guard.record_outcome(False, now=later, key="run-3").tripped

    guard.record_outcome(True, now=later, key="run-4")

    assert guard.check(later, "sig-a", False).allowed
    assert guard.state().consecutive_failures == 0


def test_a_reset_closes_the_breaker(guard: RetrainGuard) -> None:
    guard.record_outcome(False, key="run-1")
    guard.record_outcome(False, key="run-2")

    guard.reset()

    assert guard.check(T0 + timedelta(days=1), "sig-a", False).allowed


def test_an_outcome_is_counted_once_per_key(guard: RetrainGuard) -> None:
    guard.record_outcome(False, key="run-1")
    repeated = guard.record_outcome(False, key="run-1")

    assert repeated.consecutive_failures == 1
    assert not repeated.breaker_open


def test_admit_records_the_trigger_and_is_idempotent_per_key(guard: RetrainGuard) -> None:
    admitted = guard.admit(T0, "sig-a", False, key="monitor-run-1")
    retried = guard.admit(T0 + timedelta(minutes=1), "sig-a", False, key="monitor-run-1")
    other = guard.admit(T0 + timedelta(minutes=1), "sig-a", False, key="monitor-run-2")

    assert admitted.allowed and retried.allowed
    assert "already admitted" in retried.reason
    assert not other.allowed and other.reason.startswith("cooldown")
    assert guard.state().recent_triggers == [T0]


def test_concurrent_monitor_runs_admit_one_retrain(url: str) -> None:
    guards = [RetrainGuard(url=url, scope="credit_risk", settings=LIMITS) for _ in range(6)]
    # Deployed, the registry's database exists before any monitor run decides.
    guards[0].state()

    with ThreadPoolExecutor(max_workers=6) as pool:
        decisions = list(
            pool.map(lambda i: guards[i].admit(T0, "sig-a", False, key=f"run-{i}"), range(6))
        )

    assert sum(d.allowed for d in decisions) == 1


def test_state_is_shared_through_the_database(url: str) -> None:
    RetrainGuard(url=url, scope="credit_risk", settings=LIMITS).record_trigger(T0, "sig-a")

    elsewhere = RetrainGuard(url=url, scope="credit_risk", settings=LIMITS)
    other_model = RetrainGuard(url=url, scope="other", settings=LIMITS)

    assert elsewhere.state().last_trigger_at == T0
    assert not elsewhere.check(T0, "sig-b", False).allowed
    assert other_model.check(T0, "sig-b", False).allowed


def test_the_guards_bring_a_fresh_database_to_the_registry_schema(url: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    registry = Registry(url=url)

    RetrainGuard(url=url, scope="credit_risk", settings=LIMITS).record_trigger(T0, "sig-a")

    assert registry.schema_revision() == ScriptDirectory.from_config(config).get_current_head()
    assert registry.list_models() == []
    registry.upgrade()
    assert RetrainGuard(url=url, scope="credit_risk", settings=LIMITS).state().last_trigger_at == T0
    registry.close()
