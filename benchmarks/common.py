"""Timing, memory and table helpers shared by the benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
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


def run_in_subprocess(code: str, *, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Run Python ``code`` in a fresh process; return (wall seconds, peak RSS MiB)."""
    seconds, rss, _ = timed_command([sys.executable, "-c", code], env=env or dict(os.environ))
    return seconds, rss


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
