"""The driftloop entry in Airflow's UI: a FastAPI app under /driftloop and a navigation link."""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin
from driftloop_ui.app import app


class DriftloopPlugin(AirflowPlugin):
    """Models, batches, drift and approvals, behind Airflow's own logins."""

    name = "driftloop"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": app, "url_prefix": "/driftloop", "name": "driftloop"}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "driftloop",
            "href": "/driftloop/models",
            "destination": "nav",
            "url_route": "driftloop",
        }
    ]
