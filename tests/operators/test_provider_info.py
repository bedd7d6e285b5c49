"""The provider registers with Airflow: entry point, connection forms, importable modules."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from driftloop_provider.provider_info import get_provider_info


def test_entry_point_names_the_distribution() -> None:
    (entry,) = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("driftloop_provider.")
    ]
    info = entry.load()()
    assert info["package-name"] == "driftloop"


def test_every_listed_module_and_hook_imports() -> None:
    info = get_provider_info()
    modules = [
        m
        for key in ("operators", "sensors", "triggers", "hooks")
        for group in info[key]
        for m in group["python-modules"]
    ]
    for name in modules:
        importlib.import_module(name)
    for conn in info["connection-types"]:
        module, _, cls = conn["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), cls)
        assert hook.conn_type == conn["connection-type"]


def test_lakefs_connection_form_has_the_lakefs_fields() -> None:
    (lakefs,) = [
        c for c in get_provider_info()["connection-types"] if c["connection-type"] == "lakefs"
    ]
    labels = lakefs["ui-field-behaviour"]["relabeling"]
    assert labels == {
        "host": "lakeFS endpoint",
        "login": "Access key ID",
        "password": "Secret access key",
    }
    assert {"repository", "storage_namespace"} <= set(lakefs["conn-fields"])
