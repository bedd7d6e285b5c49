"""Provider metadata for Airflow's ``apache_airflow_provider`` entry point.

The connection types come from :mod:`driftloop_provider.connection_types`, which the hooks
read too, so the form Airflow shows and the hook that reads the connection are written once.
"""

from __future__ import annotations

from typing import Any

from driftloop_provider.connection_types import CONNECTION_TYPES

INTEGRATION = "driftloop"
MODULES = {
    "operators": [
        "driftloop_provider.ingest",
        "driftloop_provider.train",
        "driftloop_provider.monitoring",
    ],
    "sensors": ["driftloop_provider.sensors"],
    "triggers": ["driftloop_provider.triggers"],
    "hooks": [
        "driftloop_provider.hooks.lakefs",
        "driftloop_provider.hooks.registry",
        "driftloop_provider.hooks.dask",
    ],
}


def get_provider_info() -> dict[str, Any]:
    """Describe the driftloop provider: its modules, notifiers and connection types."""
    return {
        "package-name": "driftloop",
        "name": "driftloop",
        "description": "driftloop's Airflow 3 provider: lakeFS, registry and Dask hooks, "
        "ingest, training and monitoring operators, sensors and triggers.",
        "versions": ["0.1.0"],
        "integrations": [{"integration-name": INTEGRATION, "tags": ["software"]}],
        **{
            kind: [{"integration-name": INTEGRATION, "python-modules": modules}]
            for kind, modules in MODULES.items()
        },
        "notifications": [
            "driftloop_provider.notifiers.DriftloopNotifier",
            "driftloop_provider.notifiers.RetrainOutcomeNotifier",
        ],
        "connection-types": [connection.provider_info() for connection in CONNECTION_TYPES],
    }
