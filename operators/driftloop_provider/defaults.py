"""What the tasks of every driftloop DAG share, set in driftloop's settings."""

from __future__ import annotations

from datetime import timedelta


def task_timeout() -> timedelta:
    """A task's ``execution_timeout``: the ``task_timeout_minutes`` setting (default 60).

    Meant for a DAG's ``default_args``, so it runs while the DAG file is parsed: it reads the
    settings (environment, secret files, ``driftloop.yaml``) and nothing else.
    """
    from driftloop.config import get_settings

    return timedelta(minutes=get_settings().task_timeout_minutes)
