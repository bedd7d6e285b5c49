"""Provider metadata for Airflow's ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Describe the driftloop provider: its hooks and connection types, declared as data."""
    return {
        "package-name": "driftloop",
        "name": "driftloop",
        "description": "driftloop's Airflow 3 provider: lakeFS and registry hooks, "
        "ingest, validation and publishing operators.",
        "versions": ["0.1.0"],
        "integrations": [
            {"integration-name": "driftloop", "tags": ["software"]},
        ],
        "operators": [
            {
                "integration-name": "driftloop",
                "python-modules": [
                    "driftloop_provider.ingest",
                    "driftloop_provider.train",
                    "driftloop_provider.monitoring",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "driftloop", "python-modules": ["driftloop_provider.sensors"]}
        ],
        "triggers": [
            {"integration-name": "driftloop", "python-modules": ["driftloop_provider.triggers"]}
        ],
        "hooks": [
            {
                "integration-name": "driftloop",
                "python-modules": [
                    "driftloop_provider.hooks.lakefs",
                    "driftloop_provider.hooks.registry",
                ],
            }
        ],
        "notifications": [
            "driftloop_provider.notifiers.DriftloopNotifier",
            "driftloop_provider.notifiers.RetrainOutcomeNotifier",
        ],
        "connection-types": [
            {
                "connection-type": "lakefs",
                "hook-class-name": "driftloop_provider.hooks.lakefs.LakeFSHook",
                "hook-name": "lakeFS",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "extra"],
                    "relabeling": {
                        "host": "lakeFS endpoint",
                        "login": "Access key ID",
                        "password": "Secret access key",
                    },
                    "placeholders": {
                        "host": "http://lakefs:8000",
                        "login": "AKIAIOSFODNN7EXAMPLE",
                    },
                },
                "conn-fields": {
                    "repository": {
                        "label": "Repository",
                        "schema": {"type": ["string", "null"]},
                    },
                    "storage_namespace": {
                        "label": "Storage namespace (for a new repository)",
                        "schema": {"type": ["string", "null"]},
                    },
                },
            },
            {
                "connection-type": "driftloop_registry",
                "hook-class-name": "driftloop_provider.hooks.registry.RegistryHook",
                "hook-name": "driftloop model registry",
                "ui-field-behaviour": {
                    "hidden-fields": ["port", "schema", "login", "password", "extra"],
                    "relabeling": {"host": "SQLAlchemy URL"},
                    "placeholders": {
                        "host": "postgresql+psycopg2://driftloop:***@postgres:5432/registry"
                    },
                },
            },
        ],
    }
