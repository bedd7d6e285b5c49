"""The whole pipeline, ingest then train, through Airflow against its core steps run directly.

Per size (100k, 1M and 5M rows by default; ``DRIFTLOOP_BENCH_ROWS=100000,1000000`` or
``python -m benchmarks.pipeline 100000 1000000`` picks others) one generated batch is written
as Parquet, then:

- through Airflow: ``airflow dags test driftloop_ingest`` with the file in the run's conf
  (stage, validate, publish, profile), then ``airflow dags test driftloop_train`` with 200
  rounds (resolve_data, train, register, decide, promote, package). Each task's wall time
  and peak RSS are measured inside the process that runs it, by the listener plugin in
  ``benchmarks/airflow_plugins`` (loaded only for these runs): it resets the process's peak
  RSS when the task starts and reads it when the task ends. The pipeline's wall time is
  both commands from start to end, Airflow's start-up included.
- directly: the same core functions the operators call, in one process, in a fresh home,
  each step measured the same way.

Ratio = pipeline wall time / sum of the direct steps: what orchestration costs. Issue 15's
goals are judged on the scheduler's path, where a deployment runs: a LocalExecutor stack
(scheduler, dag-processor, triggerer, api-server) runs the same two DAG runs, each timed from
queued to its end as Airflow's API reports them. ``airflow dags test`` (the CLI's path, which
``driftloop ingest`` and ``train`` take) is shown beside it with its per-task memory.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.common import (
    Figure,
    Step,
    StepMeter,
    api_time,
    print_goal,
    print_table,
    process_peak,
    read_steps,
    run_in_subprocess,
    timed_dag_run,
)
from driftloop.config import Settings
from driftloop.launcher.airflow import airflow_env, ensure_airflow_db
from driftloop.launcher.stack import FINISHED, AirflowStack, StackError

REPO = Path(__file__).resolve().parent.parent
PLUGINS = Path(__file__).resolve().parent / "airflow_plugins"
SIZES = (100_000, 1_000_000, 5_000_000)
GOALS = {100_000: 1.8, 1_000_000: 1.3}
"""Issue 15's goals: the pipeline's wall time at most this many times the direct steps'."""
ROWS_VARIABLE = "DRIFTLOOP_BENCH_ROWS"
ROUNDS = 200
RUN_KEY = "benchmark"


def run_direct(data: Path, home: Path, log: Path) -> None:
    """Run the pipeline's core steps in this process, as its operators call them.

    Each step imports what its operator imports inside ``execute``, so imports are paid
    once here, as in one task process.
    """
    from driftloop.spec import load_spec
    from driftloop.versioning.factory import open_store

    settings = Settings(home=home, project_dir=REPO, ingest_roots=[data.parent])
    spec = load_spec(settings.dataset_spec_path)
    store = open_store(settings)
    meter = StepMeter(log)
    with meter.step("driftloop_ingest.stage"):
        from driftloop.ingest.steps import stage_batch

        batch = stage_batch(store, spec, settings=settings, path=str(data), run_id=RUN_KEY)
    with meter.step("driftloop_ingest.validate"):
        from driftloop.ingest.steps import validate_batch

        report = validate_batch(store, spec, batch, settings=settings)
    with meter.step("driftloop_ingest.publish"):
        from driftloop.ingest.steps import publish_batch

        publish_batch(store, batch, report.statistics, settings=settings, run_id=RUN_KEY)
    with meter.step("driftloop_ingest.profile"):
        from driftloop.monitoring.steps import profile_new_batches

        profile_new_batches(store, spec, settings)
    with meter.step("driftloop_train.resolve_data"):
        commit = store.resolve(settings.main_branch)
    with meter.step("driftloop_train.train"):
        from driftloop.registry import Registry
        from driftloop.training import TrainingParams
        from driftloop.training.steps import train_candidate

        registry = Registry(url=settings.registry_database_url)
        registry.upgrade()
        candidate = train_candidate(
            store,
            registry,
            spec,
            settings=settings,
            data_ref=settings.main_branch,
            data_commit=commit,
            run_key=RUN_KEY,
            params=TrainingParams(num_boost_round=ROUNDS),
        )
    with meter.step("driftloop_train.register"):
        from driftloop.training.steps import register_candidate

        version = register_candidate(
            registry, store, spec, candidate, settings=settings, created_by=RUN_KEY
        )
    with meter.step("driftloop_train.decide"):
        from driftloop.training.steps import decide_promotion

        decision = decide_promotion(
            registry, version, candidate, policy=settings.promotion, mode="auto", actor=RUN_KEY
        )
    if not decision.promote:
        return
    with meter.step("driftloop_train.promote"):
        from driftloop.training.steps import promote_version

        promote_version(
            registry,
            version,
            reason=decision.reason,
            evidence=decision.evidence,
            actor=RUN_KEY,
            run_key=RUN_KEY,
            compared_with=candidate.champion_version,
        )
    with meter.step("driftloop_train.package"):
        from bento.packaging import package_version

        package_version(settings, version, store)


def _write_batch(rows: int, path: Path) -> None:
    from driftloop.data.sources import to_parquet_bytes
    from driftloop.data.synthetic import GeneratorConfig, generate_batch

    start = datetime(2026, 6, 1, tzinfo=UTC)
    frame = generate_batch(
        GeneratorConfig(seed=23, rows_per_batch=rows), start=start, end=start + timedelta(days=1)
    )
    path.write_bytes(to_parquet_bytes(frame))


def _dag_test(
    settings: Settings, dag_id: str, conf: dict[str, object], log: Path
) -> tuple[float, float]:
    env = airflow_env(settings) | {
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS),
        "DRIFTLOOP_BENCH_TASK_LOG": str(log),
        # The batch is written beside the log, outside the landing zone.
        "DRIFTLOOP_INGEST_ROOTS": str(log.parent),
    }
    return timed_dag_run(dag_id, conf, env=env)


def _runs(batch: Path) -> dict[str, dict[str, object]]:
    """The pipeline's DAG runs and their confs: ingest the batch, then train on it."""
    return {
        "driftloop_ingest": {"path": str(batch)},
        "driftloop_train": {"reason": "benchmark", "num_boost_round": ROUNDS},
    }


def _on_the_scheduler(root: Path, data: Path) -> float:
    """Run each DAG once on a LocalExecutor stack; return the runs' seconds, queued to end.

    Unpausing the ingest DAG starts its run for the last scheduled interval; the runs
    measured here start once that one has ended.
    """
    settings = Settings(home=root / "stack", project_dir=REPO, airflow_port=18094)
    batch = settings.landing_dir / data.name
    batch.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data, batch)
    runs, total = _runs(batch), 0.0
    with AirflowStack(settings) as stack:
        stack.wait_for_dags(*runs)
        for dag_id in runs:
            stack.unpause(dag_id)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = stack.runs("driftloop_ingest")
            if started and all(run["state"] in FINISHED for run in started):
                break
            time.sleep(1)
        for dag_id, conf in runs.items():
            run_id = stack.trigger(dag_id, conf=conf)
            if stack.wait_for_run(dag_id, run_id, timeout=3600) != "success":
                raise StackError(f"{dag_id} {run_id} did not succeed")
            run = stack.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")
            seconds = (api_time(run["end_date"]) - api_time(run["queued_at"])).total_seconds()
            print(f"{dag_id} on the scheduler: {seconds:.1f} s", flush=True)
            total += seconds
    return total


def _print_steps(
    rows: int, dag: list[Step], direct: list[Step], commands: dict[str, float]
) -> None:
    direct_by_name = {step.name: step for step in direct}
    print(f"\n## pipeline tasks, {rows:,} rows (peak RSS of the task's process; RSS at start)")
    print(
        f"{'task':<32} {'DAG s':>8} {'peak MiB':>9} {'start':>7}   {'direct s':>8} {'peak MiB':>9}"
    )
    for step in dag:
        mine = direct_by_name.get(step.name)
        direct_part = f"{mine.seconds:>8.2f} {mine.peak_rss_mib:>9.0f}" if mine else f"{'-':>18}"
        print(
            f"{step.name:<32} {step.seconds:>8.2f} {step.peak_rss_mib:>9.0f} "
            f"{step.start_rss_mib:>7.0f}   {direct_part}"
        )
    for dag_id, seconds in commands.items():
        steps = sum(step.seconds for step in direct if step.name.startswith(f"{dag_id}."))
        print(f"{dag_id + ' (whole command)':<32} {seconds:>8.2f} {'':>17}   {steps:>8.2f}")


def run_size(rows: int) -> list[Figure]:
    """Measure one size and print its tables; return the direct and pipeline figures."""
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-pipeline-") as tmp:
        root = Path(tmp)
        data = root / f"batch_{rows}.parquet"
        _write_batch(rows, data)

        settings = Settings(home=root / "dag", project_dir=REPO)
        ensure_airflow_db(settings)
        tasks_log = root / "tasks.jsonl"
        measured = {
            dag_id: _dag_test(settings, dag_id, conf, tasks_log)
            for dag_id, conf in _runs(data).items()
        }
        scheduled = _on_the_scheduler(root, data)

        direct_home, direct_log = root / "direct", root / "direct.jsonl"
        code = (
            "from pathlib import Path\nfrom benchmarks.pipeline import run_direct\n"
            f"run_direct(Path({str(data)!r}), Path({str(direct_home)!r}), "
            f"Path({str(direct_log)!r}))\n"
        )
        _, direct_rss = run_in_subprocess(
            code, env=airflow_env(Settings(home=direct_home, project_dir=REPO))
        )
        dag_steps, direct_steps = read_steps(tasks_log), read_steps(direct_log)

    _print_steps(rows, dag_steps, direct_steps, {k: v[0] for k, v in measured.items()})
    direct = Figure(
        "direct: the same core steps, one process (sum)",
        sum(step.seconds for step in direct_steps),
        process_peak(direct_rss, direct_steps),
        rows,
    )
    cli = Figure(
        "pipeline: ingest + train (2 airflow dags test)",
        sum(seconds for seconds, _ in measured.values()),
        process_peak(max(rss for _, rss in measured.values()), dag_steps),
        rows,
    )
    pipeline = Figure("pipeline: ingest + train on the scheduler", scheduled, float("nan"), rows)
    print_table(
        f"pipeline, {rows:,} rows (ratio = orchestration overhead)",
        [direct, pipeline, cli],
        baseline=direct,
    )
    if rows in GOALS:
        print_goal(
            f"pipeline / direct steps, {rows:,} rows",
            pipeline.seconds / direct.seconds,
            GOALS[rows],
            at_least=False,
        )
    return [direct, pipeline, cli]


def sizes_from(args: list[str]) -> list[int]:
    """Row counts from the arguments, else from ``DRIFTLOOP_BENCH_ROWS``, else the defaults."""
    given = args or [s for s in os.environ.get(ROWS_VARIABLE, "").split(",") if s.strip()]
    return [int(size) for size in given] or list(SIZES)


def run(sizes: list[int] | None = None) -> list[Figure]:
    """Measure and print every size; return the figures."""
    figures: list[Figure] = []
    for rows in sizes or sizes_from([]):
        figures += run_size(rows)
    return figures


if __name__ == "__main__":
    run(sizes_from(sys.argv[1:]))
