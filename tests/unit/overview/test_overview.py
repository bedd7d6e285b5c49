"""The read models behind the UI pages, and the plugin's charts."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from driftloop.config import Settings
from driftloop.exceptions import AliasMoved
from driftloop.overview.batches import published_batches, quarantined_batches
from driftloop.overview.drift import drift_history
from driftloop.overview.models import VersionDetail, version_detail, version_rows
from driftloop.overview.quality import QualityHistory
from driftloop.registry import open_registry
from driftloop.versioning.factory import open_store
from plugins.driftloop_ui.charts import line_chart
from tests.conftest import REPO
from tests.support.registry import sample_lineage

MODEL = "credit_risk"


def test_a_fresh_install_shows_empty_pages_not_errors(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", project_dir=tmp_path)
    store = open_store(settings)  # its repository does not exist yet
    assert version_rows(open_registry(settings.registry_database_url), "credit_risk") == []
    assert published_batches(store, "main", "credit_risk") == []
    assert quarantined_batches(store, "credit_risk") == []
    assert drift_history(store, "credit_risk", "monitoring").checks == []


def test_charts_escape_what_comes_from_data() -> None:
    payload = "</script><script>alert(1)</script>"
    svg = line_chart(
        {payload: [0.1, None, 0.3], "income": [0.2, 0.25, 0.4]}, ["a", "b", "c"], title="Hellinger"
    )
    assert "<script" not in svg
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert svg.count("<circle") == 2 and svg.count("<polyline") == 1  # the gap breaks the line
    assert "nothing yet" in line_chart({}, [], title="Hellinger")


def _version_page(detail: VersionDetail) -> str:
    templates = jinja2.Environment(
        loader=jinja2.FileSystemLoader(REPO / "plugins" / "driftloop_ui" / "templates"),
        autoescape=True,
    )
    quality = QualityHistory(
        version=detail.version.version,
        metric="roc_auc",
        holdout=None,
        tolerance=0.02,
        min_rows=1000,
        results=[],
    )
    return templates.get_template("version.html").render(
        detail=detail,
        quality=quality,
        champion=2,
        dag="driftloop_train",
        dataset=MODEL,
        user="u",
        path="/",
    )


def test_a_version_page_lists_the_moves_refused_beside_those_made(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", project_dir=tmp_path)
    store = open_store(settings)
    store.ensure_repository()
    registry = open_registry(settings.registry_database_url)
    lineage = sample_lineage().model_copy(update={"artifact_commit": store.resolve("main")})
    for run in ("run-1", "run-2", "run-3"):
        registry.register_version(MODEL, run_key=run, lineage=lineage, created_by="t")
    registry.move_alias(MODEL, "champion", 1, actor="dag", reason="first", expected=None)
    registry.move_alias(MODEL, "champion", 2, actor="airflow-ui:ana", reason="manual", expected=1)
    before = version_detail(registry, store, MODEL, 3)
    with pytest.raises(AliasMoved):
        registry.move_alias(MODEL, "champion", 3, actor="dag", reason="<b>approved</b>", expected=1)
    with pytest.raises(AliasMoved):
        registry.rollback(MODEL, actor="airflow-ui:bo", reason="bad", expected=1)

    detail = version_detail(registry, store, MODEL, 3)

    assert before.refused == []
    assert [(r.actor, r.expected_version, r.actual_version) for r in detail.refused] == [
        ("dag", 1, 2)
    ]
    # version 1 was expected by both; the rollback's target was 1 as well
    assert [r.actor for r in version_detail(registry, store, MODEL, 1).refused] == [
        "airflow-ui:bo",
        "dag",
    ]
    assert "Refused moves" not in _version_page(before)
    refused = _version_page(detail).split("<h2>Refused moves</h2>")[1].split("<h2>")[0]
    assert "<td>champion</td><td>1</td><td>2</td><td>3</td><td>dag</td>" in refused
    assert "&lt;b&gt;approved&lt;/b&gt;" in refused
