"""A small batch on the LocalExecutor: trigger → published, and the fixed cost of a DAG run.

Real components (scheduler, dag-processor, triggerer, api-server, LocalExecutor). Each round
triggers ``driftloop_ingest`` for one generated 2,000-row day and reads back from Airflow's
API when the run was queued and when its ``publish`` task ended. The *direct* figure is the
same core steps the operators call (``stage_batch``, ``validate_batch``, ``publish_batch``)
in one warm process; the fixed cost of a run is its trigger → published time minus that.
Per task, the gap before it (scheduling and process start) and its own run time are shown,
so a change can be judged by where it saves.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.common import api_time, print_goal
from driftloop.config import Settings
from driftloop.launcher.loop import INGEST, day_interval
from driftloop.launcher.stack import AirflowStack, StackError

REPO = Path(__file__).resolve().parent.parent
ROWS = 2000
START = date(2026, 5, 1)
STEPS = ("stage", "validate", "publish")
GOAL_SECONDS = 8.0
FIXED_GOAL_SECONDS = 3.0


def _direct_seconds(settings: Settings, days: list[date]) -> list[float]:
    """Stage, validate and publish each day with the core steps in this (warm) process."""
    from driftloop.ingest.steps import publish_batch, stage_batch, validate_batch
    from driftloop.spec import load_spec
    from driftloop.versioning.factory import open_store

    spec = load_spec(settings.dataset_spec_path)
    store = open_store(settings)
    store.ensure_repository(settings.main_branch)
    seconds = []
    for number, day in enumerate(days):
        began = time.perf_counter()
        batch = stage_batch(
            store, spec, settings=settings, interval=day_interval(day), run_id=f"direct-{number}"
        )
        report = validate_batch(store, spec, batch, settings=settings)
        if not report.success:
            raise StackError(f"direct: batch {day} failed validation")
        publish_batch(
            store,
            batch,
            report.statistics,
            settings=settings,
            run_id=f"direct-{number}",
            warnings=report.warning_records(),
        )
        seconds.append(time.perf_counter() - began)
    return seconds


def _round(stack: AirflowStack, day: date) -> tuple[float, dict[str, tuple[float, float]]]:
    """Trigger one day; return trigger → published and, per task, (gap before, run time)."""
    run_id = stack.trigger(INGEST, logical_date=day_interval(day).end)
    if stack.wait_for_run(INGEST, run_id) != "success":
        raise StackError(f"{INGEST} {run_id} did not succeed")
    run = stack.api("GET", f"/dags/{INGEST}/dagRuns/{run_id}")
    previous = api_time(run["queued_at"])
    tasks: dict[str, tuple[float, float]] = {}
    for task in STEPS:
        ti = stack.api("GET", f"/dags/{INGEST}/dagRuns/{run_id}/taskInstances/{task}")
        began, ended = api_time(ti["start_date"]), api_time(ti["end_date"])
        tasks[task] = ((began - previous).total_seconds(), (ended - began).total_seconds())
        previous = ended
    return (previous - api_time(run["queued_at"])).total_seconds(), tasks


def run(repeats: int = 5) -> dict[str, float]:
    """Measure ``repeats`` rounds and the direct steps; print the table; return the medians."""
    from driftloop.data.synthetic import GeneratorConfig, generate_batches

    home = Path(tempfile.mkdtemp(prefix="driftloop-bench-small-"))
    settings = Settings(home=home / "home", project_dir=REPO, airflow_port=18092)
    days = [START + timedelta(days=i) for i in range(repeats + 1)]
    generate_batches(
        GeneratorConfig(seed=11, rows_per_batch=ROWS),
        start=START,
        days=len(days),
        out_dir=settings.landing_dir,
    )
    direct_settings = settings.model_copy(
        update={"home": home / "direct", "landing": settings.landing_dir}
    )
    direct = statistics.median(_direct_seconds(direct_settings, days[1:]))

    totals: list[float] = []
    per_task: list[dict[str, tuple[float, float]]] = []
    with AirflowStack(settings) as stack:
        stack.wait_for_dags(INGEST)
        stack.unpause(INGEST)
        _round(stack, days[0])  # the first run also warms the api-server and the workers
        for day in days[1:]:
            total, tasks = _round(stack, day)
            totals.append(total)
            per_task.append(tasks)
            print(f"{day}: trigger -> published {total:.1f} s", flush=True)
    median = statistics.median(totals)
    print(f"\n## {ROWS:,}-row batch on the LocalExecutor ({repeats} rounds, medians)")
    print("| task | gap before (s) | runs (s) |\n|---|---|---|")
    for task in STEPS:
        gap = statistics.median(t[task][0] for t in per_task)
        ran = statistics.median(t[task][1] for t in per_task)
        print(f"| {task} | {gap:.1f} | {ran:.1f} |")
    print(
        f"\ntrigger -> published {median:.1f} s, direct core steps {direct:.2f} s; "
        f"measured {datetime.now(UTC):%Y-%m-%d %H:%M}Z"
    )
    print_goal("trigger -> published (s)", median, GOAL_SECONDS, at_least=False, unit=" s")
    print_goal(
        "fixed cost per DAG run (s)", median - direct, FIXED_GOAL_SECONDS, at_least=False, unit=" s"
    )
    return {"trigger_to_published": median, "direct": direct, "fixed": median - direct}


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
