"""What produced an artifact: the code version stamped on commits and model versions.

The launcher stamps the processes it starts with ``DRIFTLOOP_CODE_VERSION`` (the git commit,
``+dirty`` when tracked files changed); a deployment sets it in its image. Elsewhere the
commit is read from the project's git files, without starting a process.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from driftloop import __version__

CODE_VERSION_ENV = "DRIFTLOOP_CODE_VERSION"


@cache
def code_version(project_dir: Path | None = None) -> str:
    """``driftloop <version>`` plus the project's git commit, when either is known."""
    stamped = os.environ.get(CODE_VERSION_ENV)
    if stamped:
        return stamped
    sha = git_head(project_dir or Path.cwd())
    return f"driftloop {__version__}" + (f" git {sha[:12]}" if sha else "")


def git_head(folder: Path) -> str | None:
    """The commit HEAD names in the git repository holding ``folder``, read from git's files."""
    git_dir = _git_dir(folder.resolve())
    head = _read(git_dir / "HEAD") if git_dir else None
    if git_dir is None or not head or not head.startswith("ref: "):
        return head or None
    ref = head.removeprefix("ref: ")
    common = _common_dir(git_dir)
    loose = _read(git_dir / ref) or _read(common / ref)
    if loose:
        return loose
    for line in (_read(common / "packed-refs") or "").splitlines():
        sha, _, name = line.partition(" ")
        if name == ref:
            return sha
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None


def _git_dir(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        dot_git = candidate / ".git"
        if dot_git.is_dir():
            return dot_git
        if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
            target = dot_git.read_text(encoding="utf-8").strip().removeprefix("gitdir: ")
            return (candidate / target).resolve()
    return None


def _common_dir(git_dir: Path) -> Path:
    common = _read(git_dir / "commondir")
    return (git_dir / common).resolve() if common else git_dir
