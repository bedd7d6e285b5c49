"""Timing, memory and table helpers shared by the benchmarks."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass


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


def run_in_subprocess(code: str, *, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run Python ``code`` in a fresh process; return (wall seconds, peak RSS MiB of the tree)."""
    wrapper = (
        "import resource, time, sys\n"
        "t0 = time.perf_counter()\n"
        f"exec(compile({code!r}, '<bench>', 'exec'))\n"
        "elapsed = time.perf_counter() - t0\n"
        "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(f'BENCH {elapsed} {max(own, kids) / 1024}')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", wrapper], capture_output=True, text=True, env=env, check=False
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"benchmark step failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    _, seconds, rss = line.split()
    return float(seconds), float(rss)


def timed_command(command: list[str], *, env: dict[str, str]) -> tuple[float, float, str]:
    """Run a command; return (wall seconds, peak RSS MiB of its process tree, output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if out.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return elapsed, max(before, after) / 1024, out.stdout + out.stderr


def median_of(runs: int, measure: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """Median seconds and max peak RSS over ``runs`` measurements."""
    results = [measure() for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


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
