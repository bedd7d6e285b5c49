"""Files that survive a crash, and the record of a store check (``driftloop store verify``).

A rename is durable only once the directory holding the new name is synced: fsyncing the
file alone can leave, after a power cut, a directory with no entry for it (or a fresh
directory with no entry in its parent), and then a committed ref points at nothing.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Flush a directory's entries (names created, renamed or removed in it) to disk."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_directories(directory: Path) -> None:
    """Create ``directory`` and its missing parents, each made durable in its parent."""
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        fsync_directory(path.parent)


def write_atomically(target: Path, data: bytes) -> None:
    """Replace ``target`` with ``data`` all at once, durably: a crash leaves old or new bytes.

    Raises:
        OSError: the directory cannot be created or the file cannot be written.

    """
    make_directories(target.parent)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks.

    Raises:
        OSError: the file cannot be read.

    """
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@dataclass(frozen=True)
class BlobReference:
    """Where the store uses a blob: an object path on a branch, committed or not."""

    path: str
    branch: str
    commit: str | None
    """The commit holding it; ``None`` for an uncommitted change on ``branch``."""

    def describe(self) -> str:
        """``path`` at ``branch`` and where on it, in words."""
        where = f"commit {self.commit[:12]}" if self.commit else "uncommitted"
        return f"{self.path!r} on {self.branch!r} ({where})"


@dataclass(frozen=True)
class DamagedBlob:
    """A blob whose file is missing or whose bytes no longer hash to its name."""

    file: Path
    expected: str
    actual: str | None
    """The bytes' SHA-256; ``None`` when the file is missing or unreadable."""
    references: tuple[BlobReference, ...]

    def describe(self) -> str:
        """One line: the file, what is wrong, and the objects that use it."""
        problem = (
            "missing or unreadable"
            if self.actual is None
            else f"corrupt: sha256 {self.actual}, expected {self.expected}"
        )
        first, *others = self.references
        more = f" and {len(others)} more reference(s)" if others else ""
        return f"{self.file}: {problem}; used by {first.describe()}{more}"


@dataclass(frozen=True)
class StoreCheck:
    """What ``driftloop store verify`` found: every blob reachable from every branch."""

    repository: str
    branches: int
    commits: int
    blobs: int
    damaged: tuple[DamagedBlob, ...]

    @property
    def ok(self) -> bool:
        """Whether every blob is present and intact."""
        return not self.damaged

    def summary(self) -> str:
        """One line: what was checked and how many blobs are damaged."""
        checked = (
            f"repository {self.repository!r}: {self.blobs} blob(s) in {self.commits} commit(s) "
            f"reachable from {self.branches} branch(es)"
        )
        if self.ok:
            return f"{checked}: all intact"
        return f"{checked}: {len(self.damaged)} damaged"
