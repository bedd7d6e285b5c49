"""The plugin's pages served by its FastAPI app, on a real registry, without a running Airflow.

Logins are Airflow's (the integration tests drive them); here a viewer stands in for
``get_user``, and everything else is the real app: routes, templates, charts, headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from airflow.api_fastapi.core_api.security import get_user

# Airflow put the plugins folder on sys.path when it was imported, as in its api-server.
from driftloop_ui import app as ui
from fastapi.testclient import TestClient

from driftloop.config import Settings
from driftloop.monitoring.quality import QualityStore
from driftloop.registry import open_registry
from driftloop.versioning.factory import open_store
from tests.conftest import REPO
from tests.support.quality import scored
from tests.support.registry import sample_lineage

MODEL = "credit_risk"


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """Version 1 (champion, scored on two batches) and version 2 (not scored yet)."""
    settings = Settings(home=tmp_path / "home", project_dir=REPO)
    store = open_store(settings)
    store.ensure_repository()
    registry = open_registry(settings.registry_database_url)
    lineage = sample_lineage().model_copy(
        update={"artifact_commit": store.resolve("main"), "metrics": {"roc_auc": 0.8}}
    )
    for run in ("run-1", "run-2"):
        registry.register_version(MODEL, run_key=run, lineage=lineage, created_by="t")
    registry.move_alias(MODEL, "champion", 1, actor="t", reason="first", expected=None)
    quality = QualityStore(url=settings.registry_database_url)
    for day, auc in ((2, 0.79), (3, 0.7)):
        quality.record(scored(1, day, roc_auc=auc))
    monkeypatch.setattr(ui, "_settings", lambda: settings)
    monkeypatch.setattr(ui, "_quality", lambda: quality)
    ui.app.dependency_overrides[get_user] = lambda: SimpleAuthManagerUser(
        username="ana", role="viewer"
    )
    try:
        yield TestClient(ui.app)
    finally:
        ui.app.dependency_overrides.pop(get_user)
        quality.close()


def _quality_section(page: str) -> str:
    return page.split('<section id="quality">', 1)[1].split("</section>", 1)[0]


def test_the_version_page_charts_its_quality_on_each_labelled_batch(client: TestClient) -> None:
    response = client.get("/models/1")

    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == ui.CSP  # no script may run
    assert "<script" not in response.text
    section = _quality_section(response.text)
    assert '<figure class="chart">' in section
    assert section.count('<line class="interval"') == 2 and section.count("<polyline") == 1
    assert "<title>holdout 0.800</title>" in section
    assert "<title>holdout \u2212 tolerance 0.02: 0.780</title>" in section
    assert "<td>0.700 [0.670, 0.730]</td>" in section
    assert "<code>2026-03-03T0000Z</code></td><td>900 / 1000</td>" in section


def test_a_version_not_scored_yet_says_so(client: TestClient) -> None:
    section = _quality_section(client.get("/models/2").text)

    assert "No labelled batch has been scored for this version yet." in section
    assert "<figure" not in section


def test_the_drift_page_points_to_the_champions_quality(client: TestClient) -> None:
    response = client.get("/drift")

    assert response.status_code == 200
    assert 'href="/driftloop/models/1#quality"' in response.text
