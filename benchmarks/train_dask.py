"""Training in one process against training on two memory-limited Dask workers.

Per size (5M and 20M rows by default; ``python -m benchmarks.train_dask 200000`` picks
others) the rows are published on main as daily batches (at least 10, of at most 1M rows:
the partitions the workers share), then trained on with the same parameters (200 rounds,
early stopping) and scored on the same holdout rows:

- one process: ``fit_locally`` (what ``driftloop_train``'s task runs with ``engine=local``);
- Dask: a ``dask scheduler`` and two ``dask worker`` processes (one thread each) started for
  the run, each with a memory limit, and a client process running ``fit_on_dask`` (what the
  task runs with ``engine=dask``; only the holdout comes back to it).

The workers' limit is 60% of what one process needed at the largest size (1 GiB at least),
so the largest size cannot fit in one worker. Reported: wall time, the peak RSS of the
training process (the client, for Dask) and of each worker process (``VmHWM`` in
``/proc/<pid>/status``, read from the OS before the worker stops), whether a worker was
restarted (its pid changed: Dask's nanny restarts a worker past 95% of its limit), and the
holdout ROC AUC beside the one-process model's.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.common import timed_command
from driftloop.config import Settings

REPO = Path(__file__).resolve().parent.parent
SIZES = (5_000_000, 20_000_000)
BATCH_ROWS = 1_000_000
MIN_BATCHES = 10
WORKERS = 2
ROUNDS = 200
LIMIT_SHARE = 0.6
MIN_LIMIT_MIB = 1024

TRAIN = """
import json, sys
from driftloop.config import Settings
from driftloop.spec import load_spec
from driftloop.training import TrainingParams, evaluate
from driftloop.training import steps
from driftloop.versioning.factory import open_store

settings = Settings(home=HOME, project_dir=REPO)
store, spec = open_store(settings), load_spec(settings.dataset_spec_path)
params = TrainingParams(num_boost_round=ROUNDS)
if SCHEDULER:
    from driftloop.training.distributed import connect
    cluster = connect(SCHEDULER, timeout_seconds=60)
    fit = steps.fit_on_dask(store, spec, COMMIT, params, settings=settings, cluster=cluster)
else:
    fit = steps.fit_locally(store, spec, COMMIT, params, settings=settings)
auc = evaluate(fit.trained.booster, fit.holdout, spec, threshold=0.5).roc_auc
print("RESULT " + json.dumps({"auc": auc, "rows": fit.rows, "holdout": len(fit.holdout),
      "placement": fit.placement}))
"""


@dataclass
class Run:
    """One engine's training at one size."""

    engine: str
    rows: int
    seconds: float
    peak_mib: float
    auc: float
    holdout: int
    worker_peaks_mib: list[float]
    restarted: bool = False


def publish(settings: Settings, rows: int) -> str:
    """Publish ``rows`` generated rows on main as daily batches; return main's head.

    A batch holds at most 1M rows, and there are at least 10 batches (partitions to share).
    """
    from driftloop.data.synthetic import GeneratorConfig, generate_batch
    from driftloop.ingest.batch import batch_bytes
    from driftloop.spec import load_spec
    from driftloop.versioning.factory import open_store

    spec = load_spec(settings.dataset_spec_path)
    store = open_store(settings)
    store.ensure_repository(settings.main_branch)
    store.create_branch("bench-seed", settings.main_branch, exist_ok=True)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    batch_rows = min(BATCH_ROWS, -(-rows // MIN_BATCHES))
    for day, first in enumerate(range(0, rows, batch_rows)):
        size = min(batch_rows, rows - first)
        begin = start + timedelta(days=day)
        frame = generate_batch(
            GeneratorConfig(seed=100 + day, rows_per_batch=size),
            start=begin,
            end=begin + timedelta(days=1),
        )
        key = begin.strftime("%Y-%m-%dT%H%MZ")
        store.write_if_changed(
            "bench-seed", f"data/{spec.name}/{key}.parquet", batch_bytes(frame, spec)
        )
        del frame
    store.commit("bench-seed", f"benchmark data, {rows} rows", {"rows": str(rows)})
    return store.merge("bench-seed", settings.main_branch, "benchmark data", {})


def _train(settings: Settings, commit: str, scheduler: str | None) -> tuple[float, float, dict]:
    code = (
        f"HOME = {str(settings.home)!r}\nREPO = {str(REPO)!r}\nCOMMIT = {commit!r}\n"
        f"ROUNDS = {ROUNDS}\nSCHEDULER = {scheduler!r}\n" + TRAIN
    )
    seconds, peak, output = timed_command(
        [sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(REPO))
    )
    line = next(ln for ln in reversed(output.splitlines()) if ln.startswith("RESULT "))
    return seconds, peak, json.loads(line.removeprefix("RESULT "))


def _vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM (Linux only)")


class Cluster:
    """A ``dask scheduler`` and worker processes on this machine, stopped with their trees."""

    def __init__(self, *, workers: int, memory_limit_mib: int, log_dir: Path) -> None:
        from tests.support.serving import free_port

        dask = str(Path(sys.executable).parent / "dask")
        port = free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        local = ["--host", "127.0.0.1", "--no-dashboard"]
        worker = [dask, "worker", self.address, "--nworkers", "1", "--nthreads", "1"]
        limit = ["--memory-limit", f"{memory_limit_mib}MiB"]
        commands = [
            [dask, "scheduler", "--port", str(port), *local],
            *([*worker, *limit, "--name", f"bench-{i}", *local] for i in range(workers)),
        ]
        self.processes: list[subprocess.Popen[bytes]] = []
        for number, command in enumerate(commands):
            with (log_dir / f"dask-{number}.log").open("wb") as log:
                self.processes.append(
                    subprocess.Popen(
                        command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                    )
                )

    def worker_pids(self) -> dict[str, int]:
        """Each worker's process id, as the worker itself reports it."""
        from distributed import Client

        with Client(self.address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(len(self.processes) - 1, timeout=120)
            return client.run(os.getpid)

    def stop(self) -> None:
        """Stop the workers, then the scheduler; kill what does not stop."""
        import psutil

        for process in reversed(self.processes):
            if process.poll() is not None:
                continue
            tree = [process, *psutil.Process(process.pid).children(recursive=True)]
            process.send_signal(signal.SIGTERM)
            _, alive = psutil.wait_procs(tree, timeout=30)
            for leftover in alive:
                leftover.kill()
            process.wait(timeout=10)


def run(sizes: tuple[int, ...] = SIZES) -> list[Run]:
    """Measure and print; return the runs."""
    root = Path(tempfile.mkdtemp(prefix="driftloop-bench-dask-"))
    homes = {}
    runs: list[Run] = []
    for rows in sizes:
        settings = Settings(home=root / f"home-{rows}", project_dir=REPO)
        commit = publish(settings, rows)
        homes[rows] = (settings, commit)
        seconds, peak, result = _train(settings, commit, None)
        runs.append(Run("1 process", rows, seconds, peak, result["auc"], result["holdout"], []))
    largest = max(r.peak_mib for r in runs if r.rows == max(sizes))
    limit = max(int(largest * LIMIT_SHARE), MIN_LIMIT_MIB)
    for rows in sizes:
        settings, commit = homes[rows]
        cluster = Cluster(workers=WORKERS, memory_limit_mib=limit, log_dir=root)
        try:
            before = cluster.worker_pids()
            seconds, peak, result = _train(settings, commit, cluster.address)
            after = cluster.worker_pids()
            peaks = [_vm_hwm_mib(pid) for pid in after.values()]
        finally:
            cluster.stop()
        runs.append(
            Run(
                f"dask, {WORKERS} workers",
                rows,
                seconds,
                peak,
                result["auc"],
                result["holdout"],
                peaks,
                restarted=before != after,
            )
        )
    _print(runs, limit)
    return runs


def _print(runs: list[Run], limit: int) -> None:
    single = {r.rows: r for r in runs if not r.worker_peaks_mib}
    print(f"\n## train: one process vs {WORKERS} Dask workers of {limit:,} MiB each")
    print(
        f"{'engine':<18} {'rows':>11} {'seconds':>8} {'task peak MiB':>14} "
        f"{'worker peaks MiB':>18} {'holdout':>9} {'ROC AUC':>8} {'vs 1 process':>12}"
    )
    for run_ in runs:
        workers = " / ".join(f"{p:,.0f}" for p in run_.worker_peaks_mib) or "-"
        if run_.restarted:
            workers += " (restarted)"
        delta = run_.auc - single[run_.rows].auc
        print(
            f"{run_.engine:<18} {run_.rows:>11,} {run_.seconds:>8.1f} {run_.peak_mib:>14,.0f} "
            f"{workers:>18} {run_.holdout:>9,} {run_.auc:>8.4f} {delta:>+12.4f}"
        )


if __name__ == "__main__":
    run(tuple(int(arg) for arg in sys.argv[1:]) or SIZES)
