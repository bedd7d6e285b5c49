"""SQLite settings shared by the embedded stores (the local versioning store, the registry)."""

from __future__ import annotations

import sqlite3
import time
from typing import Any


def enable_wal(connection: Any, *, timeout: float = 60.0) -> None:
    """Put a SQLite database in WAL mode, waiting while another process does the same.

    Switching the journal mode takes the database's exclusive lock and, unlike ordinary
    writes, does not wait on the busy timeout: two processes opening a brand-new file at
    once would see "database is locked". WAL persists in the file, so once one process has
    switched it the others only need to read the mode.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if str(connection.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
