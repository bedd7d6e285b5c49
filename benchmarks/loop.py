"""From a drifted or degraded batch being published to the retrain being queued (median per path).

Real components: scheduler, dag-processor, triggerer and api-server (LocalExecutor on SQLite).
Each round ingests one batch; the figure is the time from the end of its ``publish`` task to
the ``queued_at`` of the train run the monitor triggers. Three paths, in turn:

- **event** (the goal: at most 15 s): the monitor is idle; the ingest DAG's ``profile`` task
  emits the batch-profiles Asset event, which starts a monitor run whose sensor finds the
  profile on its first look.
- **waiting run**: a monitor run already waits in its deferred sensor, as a run of the
  10-minute timer waits for serving profiles; the trigger finds the batch profile at its next
  poll (``poke_interval``, 15 s), and the event's run, queued behind it, finds nothing new
  and skips.
- **quality** (the same event path): the batch's inputs do not move but its labels no longer
  follow them (``relationship_shift``), so the champion's quality on it drops and the quality
  rule asks for the retrain (drift may fire too: the window still holds earlier drifted
  batches, as the champion never changes here).

The retrain guards keep their defaults (the benchmark refuses to run with any of them set):
every round's retrain must pass the cooldown, the dedupe, the daily budget and the breaker,
which is checked in the guard state after each round. Between rounds that state is aged by a
day, as if the rounds were a day apart (the breaker's failure count is left alone), and each
round waits for the previous retrain to finish. Promotion is off (``min_improvement`` 1.0),
so every round is judged against the same champion. No service writes serving profiles here,
so a run of the timer waits for the whole hour: before an event round, such a run is marked
done through the REST API, so that the round measures the event path.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import api_time, print_goal
from driftloop.config import Settings
from driftloop.launcher.loop import (
    DRIFT,
    INGEST,
    MONITOR,
    RELATIONSHIP_SHIFT,
    TRAIN,
    event_runs,
    ingest,
    pass_a_day,
    train,
)
from driftloop.launcher.models import model_name
from driftloop.launcher.stack import AirflowStack, StackError

REPO = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 15.0
PROMOTION_OFF = {"DRIFTLOOP_PROMOTION__MIN_IMPROVEMENT": "1.0"}
GUARD_SETTINGS = "DRIFTLOOP_MONITORING__GUARDS__"
ACTIVE = ("queued", "running")


def _wait(condition: Callable[[], object], what: str, timeout: float = 900) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise StackError(f"timed out waiting for {what}")


def _task(stack: AirflowStack, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    return stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")


def _active_monitor_runs(stack: AirflowStack) -> list[dict[str, Any]]:
    return [r for r in stack.runs(MONITOR) if r["state"] in ACTIVE]


def _waiting_monitor_run(stack: AirflowStack) -> str | None:
    """The active monitor run whose sensor is deferred, if any."""
    for run in _active_monitor_runs(stack):
        if _task(stack, MONITOR, run["dag_run_id"], "wait_for_profiles")["state"] == "deferred":
            return run["dag_run_id"]
    return None


def _queued_events(stack: AirflowStack) -> int:
    return stack.api("GET", f"/dags/{MONITOR}/assets/queuedEvents")["total_entries"]


def _make_idle(stack: AirflowStack) -> None:
    """Wait until no monitor run is active and no event is queued; end a waiting timer run."""

    def idle() -> bool:
        waiting = _waiting_monitor_run(stack)
        if waiting and waiting.startswith("scheduled__"):
            print(f"  (ending the timer's waiting run {waiting} for an event round)", flush=True)
            stack.api("PATCH", f"/dags/{MONITOR}/dagRuns/{waiting}", {"state": "success"})
            return False
        return not _active_monitor_runs(stack) and not _queued_events(stack)

    _wait(idle, "an idle drift monitor")


PATHS = ("event", "waiting", "quality")
SIGNAL = {"event": "drift", "waiting": "drift", "quality": "quality"}
"""The signal each path's retrain must name."""


def _retrains(stack: AirflowStack, signal: str) -> dict[str, dict[str, Any]]:
    """The train runs the monitor triggered naming ``signal`` among their signals."""
    return {
        r["dag_run_id"]: r
        for r in stack.runs(TRAIN)
        if signal in (r.get("conf") or {}).get("signals", [])
    }


def _check_guards_admitted(settings: Settings, scope: str, monitor_run: str) -> None:
    """The round's retrain went through the guards: the gate recorded it under its run.

    Raises:
        StackError: it did not.
    """
    from driftloop.monitoring.guards import RetrainGuard

    state = RetrainGuard(
        url=settings.registry_database_url, scope=scope, settings=settings.monitoring.guards
    ).state()
    if state.last_trigger_key != monitor_run or state.breaker_open_since is not None:
        raise StackError(f"the guards did not record the retrain of {monitor_run}: {state}")


def _timeline(
    stack: AirflowStack, ingest_run: str, monitor_run: str, retrain: dict[str, Any]
) -> str:
    """Seconds after ``publish`` ended at which each step up to the retrain's queueing ended."""
    published = api_time(_task(stack, INGEST, ingest_run, "publish")["end_date"])
    marks = [("profiled", _task(stack, INGEST, ingest_run, "profile")["end_date"])]
    run = stack.api("GET", f"/dags/{MONITOR}/dagRuns/{monitor_run}")
    if run["run_type"] == "asset_triggered":
        marks.append(("run queued", run["queued_at"]))
    tasks = stack.api("GET", f"/dags/{MONITOR}/dagRuns/{monitor_run}/taskInstances")
    marks += [(t["task_id"], t["end_date"]) for t in tasks["task_instances"] if t["end_date"]]
    queued = (api_time(retrain["queued_at"]) - published).total_seconds()
    offsets = sorted(((api_time(at) - published).total_seconds(), name) for name, at in marks)
    steps = [f"{name} +{seconds:.1f}" for seconds, name in offsets if 0 <= seconds <= queued]
    return ", ".join([*steps, f"retrain queued +{queued:.1f}"])


def _round(stack: AirflowStack, settings: Settings, scope: str, day: datetime, path: str) -> float:
    """Publish the batch of ``day`` on ``path``; return its latency in seconds."""
    waiting, seen = None, set[str]()
    if path != "waiting":
        _make_idle(stack)
        seen = {r["dag_run_id"] for r in event_runs(stack, set())}
    else:
        if not _waiting_monitor_run(stack):
            stack.trigger(MONITOR)
        waiting = _wait(lambda: _waiting_monitor_run(stack), "a waiting monitor sensor")
    signal = SIGNAL[path]
    before = set(_retrains(stack, signal))
    run_id = stack.trigger(INGEST, logical_date=day + timedelta(days=1))
    if stack.wait_for_run(INGEST, run_id) != "success":
        raise StackError(f"the batch of {day.date()} was not published")
    new = _wait(lambda: set(_retrains(stack, signal)) - before, f"a retrain for {signal}")
    retrain = _retrains(stack, signal)[sorted(new)[0]]
    monitor_run = retrain["conf"]["triggered_by"].removeprefix(f"{MONITOR}/")
    expected = {waiting} if waiting else {r["dag_run_id"] for r in event_runs(stack, seen)}
    if monitor_run not in expected:
        raise StackError(f"the retrain came from {monitor_run}, not from the {path} path")
    published = _task(stack, INGEST, run_id, "publish")["end_date"]
    latency = (api_time(retrain["queued_at"]) - api_time(published)).total_seconds()
    # The monitor run waits for the retrain; the next round starts after both.
    if stack.wait_for_run(MONITOR, monitor_run, timeout=1800) != "success":
        raise StackError(f"monitor run {monitor_run} failed")
    _check_guards_admitted(settings, scope, monitor_run)
    steps = _timeline(stack, run_id, monitor_run, retrain)
    print(f"{path:>7} {day.date()}: {latency:.1f} s ({steps})", flush=True)
    pass_a_day(settings, scope)
    return latency


def _summary(name: str, latencies: list[float]) -> None:
    print(
        f"{name}: median {statistics.median(latencies):.1f} s "
        f"(min {min(latencies):.1f}, max {max(latencies):.1f}; {len(latencies)} rounds)"
    )


def run(repeats: int = 5, rows: int = 3000) -> dict[str, list[float]]:
    """Measure ``repeats`` rounds of each path; print each latency and the medians."""
    from driftloop.data.synthetic import GeneratorConfig, generate_batches

    loosened = sorted(k for k in os.environ if k.startswith(GUARD_SETTINGS))
    if loosened:
        raise SystemExit(f"the drift-loop benchmark runs with the default guards; unset {loosened}")
    os.environ.update(PROMOTION_OFF)
    home = Path(tempfile.mkdtemp(prefix="driftloop-bench-loop-"))
    settings = Settings(home=home / "home", project_dir=REPO, airflow_port=18090)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    good = GeneratorConfig(seed=7, rows_per_batch=rows)
    generate_batches(good, start=start.date(), days=3, out_dir=settings.landing_dir)
    drift_start = start + timedelta(days=3)
    changes = {
        "quality": {"relationship_shift": RELATIONSHIP_SHIFT},
        "event": {"shift": DRIFT},
        "waiting": {"shift": DRIFT},
    }
    rounds = [PATHS[i % len(PATHS)] for i in range(len(PATHS) * repeats)]
    for i, path in enumerate(rounds):
        generate_batches(
            good.model_copy(update=changes[path]),
            start=(drift_start + timedelta(days=i)).date(),
            days=1,
            out_dir=settings.landing_dir,
        )
    guards = settings.monitoring.guards
    print(
        f"guards: cooldown {guards.cooldown_minutes:g} min, {guards.max_retrains_per_day} a day, "
        f"breaker after {guards.breaker_failures} failures; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        flush=True,
    )
    latencies: dict[str, list[float]] = {path: [] for path in PATHS}
    with AirflowStack(settings) as stack:
        stack.wait_for_dags(INGEST, TRAIN, MONITOR)
        stack.unpause(INGEST)
        stack.unpause(TRAIN)
        ingest(stack, [(start + timedelta(days=i)).date() for i in range(3)], say=lambda _: None)
        train(stack, "bench: champion", say=lambda _: None)
        scope = model_name(settings)  # the guards' scope: the spec's name
        stack.unpause(MONITOR)
        for i, path in enumerate(rounds):
            day = drift_start + timedelta(days=i)
            latencies[path].append(_round(stack, settings, scope, day, path))
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n## batch published -> retrain queued ({repeats} rounds each)")
    _summary("drift, event (monitor idle)", latencies["event"])
    _summary("drift, a run already waiting (15 s poll)", latencies["waiting"])
    _summary("quality, event (labelled batch)", latencies["quality"])
    for path, name in (("event", "drifted"), ("quality", "labelled")):
        median = statistics.median(latencies[path])
        print_goal(
            f"{name} batch -> retrain queued, median (s)",
            median,
            GOAL_SECONDS,
            at_least=False,
            unit=" s",
        )
    print(f"load average at the end: {load}")
    return latencies


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
