"""The driftloop entry in Airflow's UI: a FastAPI app under /driftloop and a navigation link.

Every Airflow process loads the plugins (each task does), but only the api-server serves the
pages: the app (FastAPI, Airflow's API security, templates) is imported on its first request,
so the others do not pay for it. ``.airflowignore`` keeps Airflow from importing
``driftloop_ui`` as plugin modules of their own.

In the scheduler, which forks the LocalExecutor's tasks, the plugin also imports what the
tasks need, once (:mod:`driftloop_provider.preload`). A Celery worker loads no plugin before
it forks its pool: :mod:`driftloop_provider.celery_config` preloads there.
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.plugins_manager import AirflowPlugin

from driftloop_provider import preload

if preload.wanted():
    preload.preload()


class LazyApp:
    """An ASGI app that imports ``driftloop_ui.app`` on its first request."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Serve the request with the pages' FastAPI app."""
        if self._app is None:
            from driftloop_ui.app import app

            self._app = app
        await self._app(scope, receive, send)


class DriftloopPlugin(AirflowPlugin):
    """Models, batches, drift and approvals, behind Airflow's own logins."""

    name = "driftloop"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = [
        {"app": LazyApp(), "url_prefix": "/driftloop", "name": "driftloop"}
    ]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "driftloop",
            "href": "/driftloop/models",
            "destination": "nav",
            "url_route": "driftloop",
        }
    ]
