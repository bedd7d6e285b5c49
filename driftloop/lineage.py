"""What produced an artifact: the code version stamped on commits and model versions."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

from driftloop import __version__


@cache
def code_version(project_dir: Path | None = None) -> str:
    """``driftloop <version>`` plus the git commit of the project, marked ``+dirty`` if modified."""
    folder = project_dir or Path.cwd()
    try:
        sha = subprocess.run(
            ["git", "-C", str(folder), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(folder), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"driftloop {__version__}"
    return f"driftloop {__version__} git {sha}{'+dirty' if dirty else ''}"
