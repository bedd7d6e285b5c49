"""Process-tree checks for tests that stop real processes."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

import psutil


def tree(pid: int) -> list[int]:
    """``pid`` and the pids of all its descendants, as they are now."""
    return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]


def running(pids: Iterable[int]) -> list[int]:
    """Those of ``pids`` still running (a zombie has ended: only its parent's wait is missing)."""
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def kill(pids: Iterable[int]) -> None:
    """SIGKILL those of ``pids`` still running: a failed test leaves nothing behind."""
    for pid in running(pids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
