"""What tests do when a local service they need is missing."""

from __future__ import annotations

import os

import pytest


def skip_unless_ci(reason: str) -> None:
    """Skip on a developer's machine without the service; in CI (``CI`` set), fail instead.

    CI starts PostgreSQL itself, so a missing server there is a broken run, not a skip.
    """
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must provide it)")
    pytest.skip(reason)
