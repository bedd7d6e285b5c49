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


def test_provider_info_passes_airflows_own_schema() -> None:
    import json
    from pathlib import Path

    import airflow
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_hooks_and_forms_come_from_one_declaration() -> None:
    from driftloop_provider.connection_types import CONNECTION_TYPES

    for declared in CONNECTION_TYPES:
        module, _, name = declared.hook_class.rpartition(".")
        hook = getattr(importlib.import_module(module), name)
        assert (hook.conn_type, hook.hook_name, hook.default_conn_name) == (
            declared.conn_type,
            declared.hook_name,
            declared.default_conn_name,
        )
        # the form is in the provider metadata, not in a hook method Airflow 3.2 deprecated
        assert "get_ui_field_behaviour" not in vars(hook)
