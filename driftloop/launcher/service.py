"""Start the BentoML service (``bentoml serve``) on the same homes and stores as the caller.

Stopping ``driftloop serve`` (SIGTERM or SIGINT) stops BentoML's process manager and its
workers with it (``driftloop.launcher.processes``).
"""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from bento.environment import SERVICE, bentoml_env
from driftloop.exceptions import DriftloopError
from driftloop.launcher import processes

if TYPE_CHECKING:
    import subprocess
    from pathlib import Path

    from driftloop.config import Settings

READY_TIMEOUT_SECONDS = 120


def serve_command(
    settings: Settings, port: int | None = None, bento: str | None = None
) -> list[str]:
    """``bentoml serve`` of ``bento`` (default: the service from source) on 127.0.0.1."""
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        bento or SERVICE,
        "--host",
        "127.0.0.1",
        "--port",
        str(port or settings.serving_port),
    ]


def serve(settings: Settings, port: int | None = None, *, bento: str | None = None) -> int:
    """Serve in the foreground until the service exits or driftloop is stopped.

    Returns the service's exit code; :class:`~driftloop.launcher.processes.Interrupted`
    goes on once the service and its workers have stopped.

    Args:
        settings: Where the registry, store and BentoML's home are.
        port: Port to listen on (default ``settings.serving_port``).
        bento: A built Bento's tag to serve; default: the service from source.
    """
    command = serve_command(settings, port, bento)
    return processes.run(command, cwd=settings.project_dir, env=bentoml_env(settings)).returncode


def start_service(settings: Settings) -> subprocess.Popen[bytes]:
    """Serve the champion in the background, in its own process group, once it is ready.

    Its output goes to ``serving.log`` under driftloop's home. If it is not ready (or
    driftloop is interrupted first), it is stopped before the error goes on.

    Raises:
        DriftloopError: the service exited, or was not ready in two minutes.
    """
    log = settings.home_dir / "serving.log"
    process = processes.spawn(
        serve_command(settings), cwd=settings.project_dir, env=bentoml_env(settings), output=log
    )
    try:
        _wait_ready(process, settings, log)
    except BaseException:
        processes.stop_trees(process)
        raise
    return process


def _wait_ready(process: subprocess.Popen[bytes], settings: Settings, log: Path) -> None:
    ready = f"http://127.0.0.1:{settings.serving_port}/readyz"
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise DriftloopError(f"the service exited; see {log}")
        try:
            with urllib.request.urlopen(ready, timeout=5) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.5)
    raise DriftloopError(f"the service was not ready in {READY_TIMEOUT_SECONDS} s; see {log}")
