"""The processes the launcher starts, and stopping each with its whole tree.

Each child runs in its own session (:func:`spawn`), so a terminal's Ctrl-C reaches only
driftloop, which decides what to stop. While a ``driftloop`` command runs, SIGTERM and
SIGINT raise :class:`Interrupted` in its main thread (:func:`interruptible`), the way
Ctrl-C raises ``KeyboardInterrupt``: the ``finally`` blocks and context managers that own
children stop them with :func:`stop_trees`, and the command exits with ``128 + signal``.

:func:`stop_trees` sends the signal to the child's process group, waits a grace period for the
whole tree, then SIGKILLs what is left. The tree is read before the signal: BentoML's
process manager (circus) starts every worker in a session of its own, outside the group, and
a worker whose parent has died can no longer be found from it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

GRACE_SECONDS = 30.0
"""How long a stopped tree has to exit before SIGKILL: the service's request timeout."""

KILL_WAIT_SECONDS = 5.0
SIGNALS = (signal.SIGTERM, signal.SIGINT)
_POLL_SECONDS = 0.05


class Interrupted(BaseException):
    """SIGTERM or SIGINT reached driftloop (a ``BaseException``, like ``KeyboardInterrupt``).

    Attributes:
        signum: The signal received.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by this signal: ``128 + signum``."""
        return 128 + self.signum


@contextmanager
def interruptible() -> Iterator[None]:
    """Within, SIGTERM and SIGINT raise :class:`Interrupted` in the main thread.

    Only the first one does: later ones are ignored while the children stop (each stop is
    bounded by its grace period). The previous handlers are restored on the way out. Outside
    the main thread (where Python cannot set handlers) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if not received:
            received.append(signum)
            raise Interrupted(signum)

    previous = {sig: signal.signal(sig, handler) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, action in previous.items():
            signal.signal(sig, action)


def spawn(
    command: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path | None = None,
    output: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``command`` in the background, in a session of its own (its group id is its pid).

    Args:
        command: The program and its arguments.
        env: Its whole environment.
        cwd: Its working directory (default: this one).
        output: A file its stdout and stderr are appended to (default: this process's).
    """
    if output is None:
        return _session(command, env=env, cwd=cwd)
    with output.open("ab") as out:
        return _session(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)


def run(
    command: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path | None = None,
    capture: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a session of its own and wait for it.

    A child ended by a signal gets the return code ``128 + signal``. On
    :class:`Interrupted` (or any other exception while waiting) the child's tree is stopped,
    with the signal driftloop received, before the exception goes on.

    Args:
        command: The program and its arguments.
        env: Its whole environment.
        cwd: Its working directory (default: this one).
        capture: Return its stdout and stderr as text (default: they are this process's).
    """
    pipe = subprocess.PIPE if capture else None
    process = _session(command, env=env, cwd=cwd, stdout=pipe, stderr=pipe, text=capture)
    try:
        stdout, stderr = process.communicate()
    except BaseException as exc:
        stop_trees(process, signum=exc.signum if isinstance(exc, Interrupted) else signal.SIGTERM)
        raise
    code = process.returncode
    return subprocess.CompletedProcess(command, code if code >= 0 else 128 - code, stdout, stderr)


def _session(
    command: Sequence[str], *, env: dict[str, str], cwd: Path | None, **streams: Any
) -> subprocess.Popen[Any]:
    return subprocess.Popen(command, cwd=cwd, env=env, start_new_session=True, **streams)


def stop_trees(
    *targets: subprocess.Popen[bytes] | int,
    signum: int = signal.SIGTERM,
    grace: float = GRACE_SECONDS,
) -> None:
    """Stop each target's process group and every process of its tree; wait until they end.

    ``signum`` goes to each target's group at once. Once a target has exited, its descendants
    that had left its group (and so got no signal) are orphans, and get ``signum`` too;
    whatever is still running when ``grace`` is over gets SIGKILL. Targets already gone are
    skipped, and a ``Popen`` target is reaped.

    Args:
        targets: Processes started by :func:`spawn`, or the pids of such processes.
        signum: The signal asking them to stop (SIGTERM, or the SIGINT a user sent).
        grace: Seconds they have before SIGKILL.
    """
    pids = [target if isinstance(target, int) else target.pid for target in targets]
    leaders = [leader for pid in pids if (leader := _process(pid)) is not None]
    trees = [_tree(leader) for leader in leaders]
    # Descendants that left the leader's group (BentoML's workers) get no group signal.
    outside = {leader.pid: [p for p in tree if _group(p) != leader.pid] for leader, *tree in trees}
    for pid in pids:
        _signal_group(pid, signum)
    deadline = time.monotonic() + grace
    _wait_ended(leaders, deadline)
    ended = [leader.pid for leader in leaders if not _running(leader)]
    _signal([p for pid in ended for p in outside[pid]], signum)
    members = [p for tree in trees for p in tree]
    _wait_ended(members, deadline)
    left = [p for p in members if _running(p)]
    if left:
        left += [child for p in left for child in _tree(p)[1:]]
        for pid in pids:
            _signal_group(pid, signal.SIGKILL)
        _signal(left, signal.SIGKILL)
        _wait_ended(left, time.monotonic() + KILL_WAIT_SECONDS)
    for target in targets:
        if isinstance(target, subprocess.Popen):
            try:
                target.wait(timeout=KILL_WAIT_SECONDS)
            except subprocess.TimeoutExpired:
                pass


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def _tree(process: psutil.Process) -> list[psutil.Process]:
    """``process`` and all its descendants, as they are now (the process first)."""
    try:
        return [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return [process]


def _group(process: psutil.Process) -> int | None:
    try:
        return os.getpgid(process.pid)
    except ProcessLookupError:
        return None


def _running(process: psutil.Process) -> bool:
    """Whether it still runs: a zombie has ended (only its parent's ``wait`` is missing)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True


def _wait_ended(processes: Iterable[psutil.Process], deadline: float) -> None:
    waiting = list(processes)
    while waiting and time.monotonic() < deadline:
        waiting = [p for p in waiting if _running(p)]
        if waiting:
            time.sleep(_POLL_SECONDS)


def _signal(processes: Iterable[psutil.Process], signum: int) -> None:
    for process in processes:
        try:
            # psutil checks the pid still names the same process (no reuse) before sending.
            process.send_signal(signum)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def _signal_group(pid: int, signum: int) -> None:
    try:
        os.killpg(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
