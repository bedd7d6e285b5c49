"""Hooks: turn Airflow Connections into driftloop core clients."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.sdk import BaseHook


class DriftloopHook(BaseHook):
    """A hook whose connection form is declared as data on the class.

    ``connection_form`` holds the ``ui-field-behaviour`` and ``conn-fields`` entries of the
    connection type; :func:`driftloop_provider.provider_info.get_provider_info` publishes them,
    so the form Airflow shows and the hook that reads the connection cannot drift apart.
    """

    connection_form: ClassVar[dict[str, Any]] = {}

    @classmethod
    def connection_type_info(cls) -> dict[str, Any]:
        """The hook's entry under ``connection-types`` in the provider metadata."""
        return {
            "connection-type": cls.conn_type,
            "hook-class-name": f"{cls.__module__}.{cls.__qualname__}",
            "hook-name": cls.hook_name,
            **cls.connection_form,
        }
