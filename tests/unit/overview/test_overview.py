"""The read models behind the UI pages, and the plugin's charts."""

from __future__ import annotations

from pathlib import Path

from driftloop.config import Settings
from driftloop.overview.batches import published_batches, quarantined_batches
from driftloop.overview.drift import drift_history
from driftloop.overview.models import version_rows
from driftloop.registry import open_registry
from driftloop.versioning.factory import open_store
from plugins.driftloop_ui.charts import line_chart


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
