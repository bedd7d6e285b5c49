"""A version's quality over time: the read model on a real registry database, and its chart."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftloop.config.monitoring import QualityMetric, QualityPolicy
from driftloop.monitoring.quality import QualityStore
from driftloop.overview.quality import QualityHistory, quality_history
from driftloop.registry import ModelVersion, Registry
from plugins.driftloop_ui.charts import interval_chart
from tests.support.page_urls import page_urls
from tests.support.quality import scored
from tests.support.registry import sample_lineage

MODEL = "credit_risk"
HOLDOUT = {"roc_auc": 0.8, "log_loss": 0.45}


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def quality(url: str) -> Iterator[QualityStore]:
    store = QualityStore(url=url)
    yield store
    store.close()


@pytest.fixture
def registry(url: str) -> Iterator[Registry]:
    registry = Registry(url=url)
    registry.upgrade()
    yield registry
    registry.close()


@pytest.fixture
def versions(registry: Registry, quality: QualityStore) -> list[ModelVersion]:
    """Version 1 with a holdout roc_auc and log loss, version 2 without; both scored."""
    with_holdout = sample_lineage().model_copy(update={"metrics": HOLDOUT})
    one = registry.register_version(MODEL, run_key="r1", lineage=with_holdout, created_by="t")
    two = registry.register_version(MODEL, run_key="r2", lineage=sample_lineage(), created_by="t")
    # recorded out of order, and a batch without roc_auc (one class only, say)
    for result in (
        scored(1, 4, roc_auc=0.71, log_loss=0.6),
        scored(1, 2, roc_auc=0.79),
        scored(1, 3, roc_auc=None),
        scored(2, 4, roc_auc=0.9),
    ):
        quality.record(result)
    return [one, two]


def test_a_version_not_scored_yet_has_an_empty_history(
    registry: Registry, quality: QualityStore
) -> None:
    lineage = sample_lineage().model_copy(update={"metrics": HOLDOUT})
    version = registry.register_version(MODEL, run_key="r1", lineage=lineage, created_by="t")

    history = quality_history(quality, version, QualityPolicy())

    assert history.results == [] and history.columns == [] and history.estimates() == []
    assert history.holdout == 0.8


def test_the_history_is_one_versions_batches_oldest_first_beside_its_holdout(
    quality: QualityStore, versions: list[ModelVersion]
) -> None:
    history = quality_history(quality, versions[0], QualityPolicy(tolerance=0.02))

    assert [r.batch for r in history.results] == [
        "2026-03-02T0000Z",
        "2026-03-03T0000Z",
        "2026-03-04T0000Z",
    ]
    assert [None if e is None else e.value for e in history.estimates()] == [0.79, None, 0.71]
    assert history.columns == ["roc_auc", "log_loss"]  # the monitor's order, not the stored one
    assert (history.metric, history.holdout, history.min_rows) == ("roc_auc", 0.8, 1000)
    assert history.limit == pytest.approx(0.78)  # worse is lower
    assert not history.lower_is_better


def test_for_a_loss_metric_the_rules_line_is_above_the_holdout(
    quality: QualityStore, versions: list[ModelVersion]
) -> None:
    history = quality_history(
        quality, versions[0], QualityPolicy(metric="log_loss", tolerance=0.05)
    )

    assert history.lower_is_better
    assert history.limit == pytest.approx(0.5)
    assert [e.value for e in history.estimates() if e is not None] == [0.5, 0.5, 0.6]


def test_without_a_holdout_value_there_is_no_line_to_draw(
    quality: QualityStore, versions: list[ModelVersion]
) -> None:
    history = quality_history(quality, versions[1], QualityPolicy())

    assert [r.batch for r in history.results] == ["2026-03-04T0000Z"]
    assert history.holdout is None and history.limit is None


def _chart(history: QualityHistory) -> str:
    """The chart the version page draws (the plugin's own function)."""
    # Airflow put the plugins folder on sys.path when it was imported, as in its api-server.
    import airflow  # noqa: F401
    from driftloop_ui.app import _quality_chart

    return _quality_chart(history)


def _reference_ys(svg: str) -> dict[str, float]:
    """Each reference line's height in the SVG (smaller is higher up): holdout, limit."""
    found = re.findall(
        r'<line class="reference"[^>]* y1="([\d.]+)"[^>]*><title>([^<]+)</title>', svg
    )
    return {"limit" if "tolerance" in label else "holdout": float(y) for y, label in found}


@pytest.mark.parametrize(("metric", "limit_above"), [("roc_auc", False), ("log_loss", True)])
def test_the_rules_line_is_drawn_on_the_worse_side_of_the_holdout(
    quality: QualityStore, versions: list[ModelVersion], metric: QualityMetric, limit_above: bool
) -> None:
    svg = _chart(quality_history(quality, versions[0], QualityPolicy(metric=metric)))

    ys = _reference_ys(svg)
    assert set(ys) == {"holdout", "limit"}
    assert (ys["limit"] < ys["holdout"]) is limit_above
    # one interval bar per batch with a value; the missing batch breaks the line
    assert svg.count('<line class="interval"') == (2 if metric == "roc_auc" else 3)
    assert svg.count("<polyline") == (0 if metric == "roc_auc" else 1)
    assert svg.count("<circle") == (2 if metric == "roc_auc" else 0)


def test_every_label_of_the_chart_is_escaped_and_nothing_is_fetched() -> None:
    payload = '"><script>alert(1)</script><image href="https://evil.example/x.png"/>'
    svg = interval_chart(
        [(0.7, 0.68, 0.72), (0.72, 0.7, 0.74)],
        [payload, "2026-03-02T0000Z"],
        title=payload,
        name=payload,
        baseline=(payload, 0.8),
        limit=(payload, 0.78),
    )

    assert "<script" not in svg and "<image" not in svg
    assert page_urls(svg) == []
    assert 'aria-label="&quot;&gt;&lt;script&gt;' in svg  # no way out of an attribute either
    assert svg.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 10  # every place a label goes


def test_a_chart_without_values_says_so_in_a_sentence() -> None:
    assert (
        interval_chart([], [], title="roc_auc", name="x")
        == '<p class="muted">roc_auc: nothing yet.</p>'
    )
    assert "nothing yet" in interval_chart([None], ["2026-03-02T0000Z"], title="roc_auc", name="x")
    one = interval_chart([(0.7, 0.6, 0.8)], ["<b>"], title="t", name="x")
    assert one.count("<circle") == 1
    assert one.count('class="tick" text-anchor="middle">&lt;b&gt;</text>') == 1  # under its dot
    assert "reference" not in one
