"""Paths named at run time stay inside the folders the operator allowed.

A file named in a DAG run's conf comes from whoever may trigger the DAG, not from the
project's owner, and ``/**/*.csv`` would walk the worker's whole filesystem. Such a path or
glob must lie in an allowed root (the landing zone and ``ingest_roots``): the folder before
its first wildcard is checked before anything is listed, and every match is checked before
anything is read, both after symlinks and ``..`` are resolved.
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from itertools import takewhile
from pathlib import Path

from driftloop.exceptions import PathNotAllowed


def literal_folder(pattern: str) -> Path:
    """The part of a path or glob before its first wildcard, where listing its matches starts."""
    parts = takewhile(lambda part: not glob.has_magic(part), Path(pattern).parts)
    return Path(*parts)


def is_inside(resolved: Path, roots: Sequence[Path]) -> bool:
    """Whether a resolved path is one of ``roots`` or lies under one."""
    return any(resolved.is_relative_to(root) for root in roots)


def require_inside(path: Path, roots: Sequence[Path], *, named: str) -> Path:
    """``path`` with its symlinks and ``..`` resolved, if that lies in one of ``roots``.

    ``roots`` are resolved already; ``named`` says what the path is, for the message.

    Raises:
        PathNotAllowed: the resolved path is outside every root.
    """
    resolved = path.resolve()
    if is_inside(resolved, roots):
        return resolved
    allowed = ", ".join(str(root) for root in roots)
    raise PathNotAllowed(
        f"{named} is outside the folders ingest may read: with links and '..' followed it is "
        f"{resolved}, under none of {allowed}. Put the file in the landing zone, or add its "
        "folder to the ingest_roots setting (DRIFTLOOP_INGEST_ROOTS)"
    )
