"""Stopping what the launcher started: real process trees of ``sleep``s, real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from driftloop.launcher.processes import Interrupted, interruptible, spawn, stop_trees
from tests.conftest import REPO
from tests.support.processes import kill, running
from tests.support.serving import free_port

# A process like BentoML's manager: one child in its group, one in a session of its own
# (circus calls setsid for every worker). It writes its tree to <folder>/<name>.json once
# started, and the signal it gets to <folder>/<name>.signal; with IGNORE set it ignores SIGTERM.
TREE = textwrap.dedent(
    """
    import json, os, signal, subprocess, sys, time
    from pathlib import Path

    folder, name = Path(os.environ["TREE_DIR"]), sys.argv[1]
    def noted(signum, frame):
        (folder / f"{name}.signal").write_text(str(signum))
        if not os.environ.get("IGNORE"):
            sys.exit(0)
    signal.signal(signal.SIGTERM, noted)
    signal.signal(signal.SIGINT, noted)
    grouped = subprocess.Popen(["sleep", "300"])
    alone = subprocess.Popen(["sleep", "300"], start_new_session=True)
    pids = [os.getpid(), grouped.pid, alone.pid]
    (folder / f"{name}.json.tmp").write_text(json.dumps(pids))
    (folder / f"{name}.json.tmp").rename(folder / f"{name}.json")
    while True:
        time.sleep(1)
    """
)


@pytest.fixture
def tree_dir(tmp_path: Path) -> Path:
    (tmp_path / "tree.py").write_text(TREE, encoding="utf-8")
    return tmp_path


def _env(tree_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "TREE_DIR": str(tree_dir), "PYTHONPATH": str(REPO), **extra}


def _started(tree_dir: Path, name: str, process: subprocess.Popen) -> list[int]:
    """The pids of the tree ``name`` once it has started (it fails the test if it dies)."""
    ready = tree_dir / f"{name}.json"
    deadline = time.monotonic() + 60
    while not ready.exists() and time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args} exited with {process.returncode}"
        time.sleep(0.05)
    return json.loads(ready.read_text())


def test_stop_ends_the_tree_with_children_outside_the_group(tree_dir: Path) -> None:
    process = spawn([sys.executable, str(tree_dir / "tree.py"), "one"], env=_env(tree_dir))
    pids = _started(tree_dir, "one", process)
    try:
        stop_trees(process, grace=30)

        assert running(pids) == []
        assert process.returncode == 0
        assert (tree_dir / "one.signal").read_text() == str(signal.SIGTERM)
    finally:
        kill(pids)


def test_a_tree_ignoring_the_signal_is_killed_after_the_grace(tree_dir: Path) -> None:
    command = [sys.executable, str(tree_dir / "tree.py"), "stubborn"]
    process = spawn(command, env=_env(tree_dir, IGNORE="1"))
    pids = _started(tree_dir, "stubborn", process)
    try:
        stop_trees(process, grace=0.5)

        assert running(pids) == []
        assert process.returncode == -signal.SIGKILL
        assert (tree_dir / "stubborn.signal").read_text() == str(signal.SIGTERM)
    finally:
        kill(pids)


def test_stopping_what_is_gone_is_a_no_op(tree_dir: Path) -> None:
    process = spawn([sys.executable, "-c", "pass"], env=_env(tree_dir))
    process.wait()

    stop_trees(process, process.pid)

    assert process.returncode == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_runner_is_forwarded_and_waited_for(tree_dir: Path, signum: int) -> None:
    runner = textwrap.dedent(
        f"""
        import os, sys
        from driftloop.launcher.processes import Interrupted, interruptible, run
        try:
            with interruptible():
                run([sys.executable, {str(tree_dir / "tree.py")!r}, "child"], env=dict(os.environ))
        except Interrupted as exc:
            sys.exit(exc.exit_code)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", runner], env=_env(tree_dir))
    pids = _started(tree_dir, "child", process)
    try:
        os.kill(process.pid, signum)

        assert process.wait(timeout=60) == 128 + signum
        assert running(pids) == []
        assert (tree_dir / "child.signal").read_text() == str(signum)
    finally:
        kill([process.pid, *pids])


def test_interruptible_raises_once_and_restores_the_handlers() -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    with pytest.raises(Interrupted) as caught, interruptible():
        signal.raise_signal(signal.SIGTERM)
        pytest.fail("the handler did not raise")

    assert caught.value.exit_code == 143
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_sigterm_to_driftloop_up_stops_every_component_it_started(tree_dir: Path) -> None:
    """``driftloop up`` with each Airflow component a tree of ``sleep``s, stopped mid-start."""
    airflow = tree_dir / "airflow"
    airflow.write_text(f"#!{sys.executable}\n{TREE}", encoding="utf-8")
    airflow.chmod(0o755)
    # The components never answer the health check: `up` waits until it is stopped.
    up = textwrap.dedent(
        f"""
        import sys
        import driftloop.launcher.stack as stack
        stack.airflow_command = lambda: {str(airflow)!r}
        stack.ensure_airflow_db = lambda settings: None
        from driftloop.launcher.cli import main
        sys.exit(main(["up"]))
        """
    )
    home = tree_dir / "home"
    env = _env(tree_dir, DRIFTLOOP_HOME=str(home), DRIFTLOOP_AIRFLOW_PORT=str(free_port()))
    process = subprocess.Popen([sys.executable, "-c", up], env=env)
    pids = [process.pid]
    try:
        for component in ("scheduler", "dag-processor", "triggerer", "api-server"):
            pids += _started(tree_dir, component, process)

        os.kill(process.pid, signal.SIGTERM)

        assert process.wait(timeout=120) == 128 + signal.SIGTERM
        assert running(pids) == []
        assert not (home / "airflow" / "stack.pids").exists()
    finally:
        kill(pids)
