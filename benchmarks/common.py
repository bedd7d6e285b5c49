"""Timing, memory and table helpers shared by the benchmarks."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path


@dataclass
class Figure:
    """One measured step."""

    name: str
    seconds: float
    peak_rss_mib: float
    rows: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("nan")


# Linux carries a process's peak RSS across fork and exec, so a child of a big benchmark
# process would report the parent's peak. Each measured command therefore runs under this
# small wrapper, whose own peak stays low, and reports the peak of its one child.
_WRAPPER = (
    "import resource, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "elapsed = time.perf_counter() - start\n"
    "sys.stdout.write(done.stdout); sys.stderr.write(done.stderr)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "print(f'BENCH {elapsed} {peak} {done.returncode}')\n"
)


def timed_command(command: list[str], *, env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, peak RSS MiB of its process tree, output).

    Raises:
        RuntimeError: the command failed.
    """
    out = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *command],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    line = next((ln for ln in reversed(out.stdout.splitlines()) if ln.startswith("BENCH ")), "")
    if not line or line.split()[3] != "0":
        raise RuntimeError(f"{command} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    _, seconds, rss, _ = line.split()
    return float(seconds), float(rss), out.stdout + out.stderr


def api_time(text: str) -> datetime:
    """A timestamp from Airflow's REST API (ISO 8601, ``Z`` for UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def timed_dag_run(
    dag_id: str, conf: dict[str, object], *, env: dict[str, str]
) -> tuple[float, float]:
    """Run one DAG run as the CLI does (``dags test``); return (wall seconds, peak RSS MiB).

    Raises:
        RuntimeError: the run did not succeed.
    """
    from driftloop.launcher.airflow import dag_test_command

    seconds, rss, output = timed_command(dag_test_command(dag_id, conf=conf), env=env)
    if "state=success" not in output.replace(" ", ""):
        raise RuntimeError(f"{dag_id} did not succeed:\n{output[-3000:]}")
    return seconds, rss


def run_in_subprocess(code: str, *, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run Python ``code`` in a fresh process; return (wall seconds, peak RSS MiB)."""
    seconds, rss, _ = timed_command([sys.executable, "-c", code], env=env or dict(os.environ))
    return seconds, rss


def print_goal(name: str, value: float, goal: float, *, at_least: bool, unit: str = "x") -> None:
    """One figure beside its goal, and whether it is met (``unit`` ``""``: a whole number)."""
    met = value >= goal if at_least else value <= goal
    sign = ">=" if at_least else "<="
    shown = f"{value:,.2f}{unit}" if unit else f"{value:,.0f}"
    wanted = f"{goal:,.2f}{unit}" if unit else f"{goal:,.0f}"
    print(f"  {name:<58} {shown:>10}   goal {sign} {wanted:<8} {'met' if met else 'NOT MET'}")


def print_table(title: str, figures: list[Figure], *, baseline: Figure) -> None:
    """Print figures with their ratio to ``baseline``'s wall time."""
    print(f"\n## {title}")
    print(f"{'step':<48} {'rows':>10} {'seconds':>9} {'rows/s':>11} {'peak MiB':>9} {'ratio':>7}")
    for fig in figures:
        ratio = fig.seconds / baseline.seconds if baseline.seconds else float("nan")
        print(
            f"{fig.name:<48} {fig.rows:>10,} {fig.seconds:>9.2f} {fig.rows_per_second:>11,.0f} "
            f"{fig.peak_rss_mib:>9.0f} {ratio:>6.2f}x"
        )


def _status_mib(field: str) -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"/proc/self/status has no {field} (Linux only)")
    return int(match.group(1)) / 1024


def reset_peak_rss() -> float:
    """Reset this process's peak RSS (VmHWM) to its current RSS; return that RSS in MiB.

    Linux only: writing "5" to ``/proc/self/clear_refs`` resets the high-water mark, so
    several steps run one after another in one process each get their own peak.
    """
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mib("VmRSS")


@dataclass
class Step:
    """One step measured inside the process that ran it."""

    name: str
    seconds: float
    peak_rss_mib: float
    start_rss_mib: float
    state: str


class StepMeter:
    """Measures steps in this process and appends each as a JSON line to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._started: dict[str, tuple[float, float]] = {}

    def start(self, name: str) -> None:
        """Reset the peak RSS and start the clock of step ``name``."""
        self._started[name] = (time.perf_counter(), reset_peak_rss())

    def finish(self, name: str, state: str) -> None:
        """Record step ``name``: wall time, peak RSS since its start, RSS at its start.

        A step that was never started (a task that failed before it ran) is not recorded.
        """
        if name not in self._started:
            return
        began, start_rss = self._started.pop(name)
        step = Step(name, time.perf_counter() - began, _status_mib("VmHWM"), start_rss, state)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(step)) + "\n")

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Measure the body as step ``name`` (recorded as failed if it raises)."""
        self.start(name)
        state = "failed"
        try:
            yield
            state = "success"
        finally:
            self.finish(name, state)


def process_peak(reported_mib: float, steps: list[Step]) -> float:
    """A whole process's peak RSS when :class:`StepMeter` measured steps inside it.

    Resetting the peak at each step also resets what the process reports when it exits
    (``ru_maxrss``), which then covers only the time since the last reset.
    """
    return max([reported_mib, *(step.peak_rss_mib for step in steps)])


def read_steps(path: Path) -> list[Step]:
    """The steps a :class:`StepMeter` recorded in ``path``, in order."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Step(**json.loads(line)) for line in lines if line.strip()]
