"""From a drifted batch being published to the retrain run being queued (median of N).

Real components: scheduler, dag-processor, triggerer and api-server. Each round a monitor run
is waiting (its sensor deferred to the triggerer) when a drifted batch is ingested; the figure
is the time from the end of that batch's ``publish`` task to the ``queued_at`` of the train run
the monitor triggers. The retrain guards' cooldown and budget are relaxed, and promotion is
switched off so every round is judged against the same champion reference.
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

from driftloop.config import Settings
from driftloop.launcher.loop import DRIFT, INGEST, MONITOR, TRAIN, ingest, train
from driftloop.launcher.stack import AirflowStack, StackError

REPO = Path(__file__).resolve().parent.parent
RELAXED = {
    "DRIFTLOOP_MONITORING__GUARDS__COOLDOWN_MINUTES": "0",
    "DRIFTLOOP_MONITORING__GUARDS__MAX_RETRAINS_PER_DAY": "1000",
    "DRIFTLOOP_PROMOTION__MIN_IMPROVEMENT": "1.0",
}


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _wait(condition: Callable[[], object], what: str, timeout: float = 600) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(1)
    raise StackError(f"timed out waiting for {what}")


def _deferred_monitor(stack: AirflowStack) -> str | None:
    for run in reversed(stack.runs(MONITOR)):
        if run["state"] != "running":
            continue
        path = f"/dags/{MONITOR}/dagRuns/{run['dag_run_id']}/taskInstances/wait_for_profiles"
        if stack.api("GET", path)["state"] == "deferred":
            return run["dag_run_id"]
    return None


def _drift_retrains(stack: AirflowStack) -> dict[str, dict]:
    return {
        r["dag_run_id"]: r
        for r in stack.runs(TRAIN)
        if (r.get("conf") or {}).get("drifted_features")
    }


def run(repeats: int = 5, rows: int = 3000) -> list[float]:
    """Measure ``repeats`` rounds; print each latency and the median; return them."""
    from driftloop.data.synthetic import GeneratorConfig, generate_batches

    os.environ.update(RELAXED)
    home = Path(tempfile.mkdtemp(prefix="driftloop-bench-loop-"))
    settings = Settings(home=home / "home", project_dir=REPO, airflow_port=18090)
    start = datetime(2026, 3, 1).date()
    good = GeneratorConfig(seed=7, rows_per_batch=rows)
    generate_batches(good, start=start, days=3, out_dir=settings.landing_dir)
    drift_start = start + timedelta(days=3)
    generate_batches(
        good.model_copy(update={"shift": DRIFT}),
        start=drift_start,
        days=repeats,
        out_dir=settings.landing_dir,
    )
    latencies: list[float] = []
    with AirflowStack(settings) as stack:
        stack.wait_for_dags(INGEST, TRAIN, MONITOR)
        stack.unpause(INGEST)
        stack.unpause(TRAIN)
        ingest(stack, [start + timedelta(days=i) for i in range(3)], say=lambda _: None)
        train(stack, "bench: champion", say=lambda _: None)
        stack.unpause(MONITOR)
        for day in range(repeats):
            if not _deferred_monitor(stack):
                stack.trigger(MONITOR)
            monitor_run = _wait(lambda: _deferred_monitor(stack), "a deferred monitor sensor")
            before = set(_drift_retrains(stack))
            drifted_day = drift_start + timedelta(days=day)
            end = datetime.combine(drifted_day + timedelta(days=1), datetime.min.time())
            run_id = stack.trigger(INGEST, logical_date=end.replace(tzinfo=UTC))
            if stack.wait_for_run(INGEST, run_id) != "success":
                raise StackError(f"drifted batch {drifted_day} was not published")
            publish = stack.api("GET", f"/dags/{INGEST}/dagRuns/{run_id}/taskInstances/publish")
            new = _wait(
                lambda seen=before: set(_drift_retrains(stack)) - seen, "a drift-triggered retrain"
            )
            retrain = _drift_retrains(stack)[sorted(new)[0]]
            latency = (_when(retrain["queued_at"]) - _when(publish["end_date"])).total_seconds()
            latencies.append(latency)
            print(
                f"round {day + 1}: published {publish['end_date']} -> retrain queued "
                f"{retrain['queued_at']}: {latency:.1f} s",
                flush=True,
            )
            stack.wait_for_run(MONITOR, str(monitor_run), timeout=900)
    print(f"\n## drifted batch published -> retrain queued ({repeats} rounds)")
    print(
        f"median {statistics.median(latencies):.1f} s, min {min(latencies):.1f} s, "
        f"max {max(latencies):.1f} s (target: under 60 s)"
    )
    return latencies


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
