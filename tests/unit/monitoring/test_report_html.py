from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from typing import Any

import pytest

from driftloop.config.monitoring import DriftPolicy
from driftloop.monitoring.drift import (
    DriftResult,
    WhylogsDriftScorer,
    score_drift,
    write_drift_report,
)
from driftloop.monitoring.profiles import profile_frame
from driftloop.monitoring.quality import QualitySummary
from driftloop.monitoring.report_html import DRIFT_REPORT_CSP, render_drift_report
from driftloop.monitoring.sketches import FeatureDistribution
from driftloop.spec import DatasetSpec
from driftloop.versioning.base import VersionStore
from tests.support.page_urls import page_urls
from tests.unit.monitoring.conftest import make_batch, quality_summary

EVIL = "</script><script>alert(1)</script>"


@pytest.fixture(scope="module")
def evil_profile(spec: DatasetSpec) -> bytes:
    """2k rows where about 10% of loans have the purpose ``</script><script>...``."""
    return profile_frame(make_batch(2, rows=2_000, new_categories={"purpose": [EVIL]}), spec)


@pytest.fixture(scope="module")
def evil_report(spec: DatasetSpec, evil_profile: bytes, reference_profile: bytes) -> str:
    result = score_drift(evil_profile, reference_profile, spec, DriftPolicy())
    assert EVIL in result.reason and result.drifted_features == ["purpose"]
    distributions = WhylogsDriftScorer().distributions(
        evil_profile, reference_profile, result.features
    )
    return render_drift_report(result, distributions)


def test_a_category_that_is_markup_is_shown_escaped_and_never_as_script(evil_report: str) -> None:
    assert EVIL not in evil_report
    assert html.escape(EVIL) in evil_report
    assert "<script" not in evil_report.lower()
    assert "<iframe" not in evil_report.lower()


def test_the_report_names_no_url_at_all(evil_report: str) -> None:
    assert page_urls(evil_report) == []
    assert not re.search(r"https?:|//\w", evil_report)


def test_the_only_style_is_the_one_its_policy_allows(evil_report: str) -> None:
    (style,) = re.findall(r"<style>(.*?)</style>", evil_report, re.S)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in DRIFT_REPORT_CSP
    assert f'content="{DRIFT_REPORT_CSP}"' in evil_report
    assert " style=" not in evil_report
    assert "prefers-color-scheme:dark" in style


def test_every_feature_is_drawn_from_both_profiles(
    spec: DatasetSpec, income_shift_profile: bytes, reference_profile: bytes
) -> None:
    result = score_drift(income_shift_profile, reference_profile, spec, DriftPolicy())

    drawn = WhylogsDriftScorer().distributions(
        income_shift_profile, reference_profile, result.features
    )

    assert [d.name for d in drawn] == [f.name for f in result.features]
    for distribution in drawn:
        assert len(distribution.bins) == len(distribution.reference) == len(distribution.target)
        assert sum(distribution.reference) == pytest.approx(1, abs=1e-6)
        assert sum(distribution.target) == pytest.approx(1, abs=1e-6)
    income = next(d for d in drawn if d.name == "income")
    assert income.numeric and income.bins[0].startswith("< ")
    # shifted up by half a standard deviation: less of the target in the lowest bins
    assert sum(income.target[:3]) < sum(income.reference[:3])
    purpose = next(d for d in drawn if d.name == "purpose")
    assert not purpose.numeric and purpose.bins[-1] == "(other)"
    page = render_drift_report(result, drawn)
    assert page.count('role="img"') == len(result.features)


def test_names_from_data_are_escaped_everywhere() -> None:
    name = '"><img src=x onerror=alert(1)>'
    result = DriftResult.model_validate(
        {
            "dataset": "<b>credit</b>",
            "drifted": True,
            "reason": f"drift: {name}",
            "drifted_features": [name],
            "features": [
                {
                    "name": name,
                    "role": "categorical",
                    "new_categories": [EVIL],
                    "thresholds": {"p_value": 0.05, "hellinger": 0.1, "new_category_share": 0.01},
                    "drifted": True,
                    "validation_warning": f"in <i>batch</i>: {EVIL}",
                }
            ],
            "signature": "s",
            "reference_id": "lakefs://repo/main/<ref>",
            "target_rows": 10,
            "reference_rows": 10,
            "checked_at": "2024-01-02T00:00:00Z",
        }
    )
    drawn = FeatureDistribution(
        name=name, numeric=False, bins=[EVIL, "(other)"], reference=[1.0, 0.0], target=[0.5, 0.5]
    )

    page = render_drift_report(result, [drawn])

    for markup in (name, "<img", "<script", "<b>", "<i>", "<ref>"):
        assert markup not in page
    assert html.escape(name) in page and "&lt;b&gt;credit&lt;/b&gt;" in page
    assert page == render_drift_report(result, [drawn])


def test_the_written_report_is_the_page_and_names_its_json(
    spec: DatasetSpec,
    local_store: VersionStore,
    evil_profile: bytes,
    reference_profile: bytes,
) -> None:
    scored = score_drift(evil_profile, reference_profile, spec, DriftPolicy(), target_ids=["t"])
    summary = quality_summary(degraded=True)
    result = scored.model_copy(update={"quality": QualitySummary.model_validate(summary)})

    written = write_drift_report(
        local_store, result, target=evil_profile, reference=reference_profile
    )

    page = local_store.read_object("monitoring", str(written.report_html)).decode()
    assert html.escape(str(written.report_json)) in page
    assert '<h2>Model quality <span class="badge drift">Degraded</span></h2>' in page
    stored = json.loads(local_store.read_object("monitoring", str(written.report_json)))
    assert stored["quality"] == summary  # every key, the ones the page does not show too
    assert DriftResult.model_validate(stored) == written
    distributions = WhylogsDriftScorer().distributions(
        evil_profile, reference_profile, result.features
    )
    assert page == render_drift_report(written, distributions)


def _checked(quality: dict[str, Any] | None) -> DriftResult:
    """A drift check (nothing scored) carrying the quality check's summary."""
    return DriftResult.model_validate(
        {
            "dataset": "credit_risk",
            "drifted": False,
            "reason": "no drift: no feature could be scored",
            "drifted_features": [],
            "features": [],
            "signature": "s",
            "target_rows": 4000,
            "reference_rows": 10_000,
            "checked_at": "2024-01-04T00:00:00Z",
            "quality": quality,
        }
    )


def _quality_section(page: str) -> str:
    """The page from the Model quality heading to the next section's."""
    return page.split("<h2>Model quality", 1)[1].split("<h2>", 1)[0]


@pytest.mark.parametrize(
    ("degraded", "badge", "roc_auc"),
    [
        (True, '<span class="badge drift">Degraded</span>', "0.700 [0.680, 0.720]"),
        (False, '<span class="badge steady">Holding</span>', "0.790 [0.770, 0.810]"),
    ],
)
def test_the_quality_section_shows_the_verdict_its_evidence_and_each_batch_scored(
    degraded: bool, badge: str, roc_auc: str
) -> None:
    summary = quality_summary(degraded=degraded)

    page = render_drift_report(_checked(summary), [])

    section = _quality_section(page)
    assert section.startswith(f" {badge}</h2>")
    assert f'<p class="reason">{html.escape(summary["reason"])}</p>' in section
    for term, value in [
        ("model version", "1"),
        ("metric", "roc_auc"),
        ("pooled over the window", roc_auc),
        ("champion's holdout", "0.800"),
        ("tolerance", "0.02"),
        ("labelled rows", "4000 (the rule needs 1000)"),
        ("batches pooled", "1"),
    ]:
        assert f"<dt>{term}</dt><dd>{value}</dd>" in section
    assert (
        "<tr><th>batch</th><th>labelled rows</th><th>roc_auc</th><th>log_loss</th></tr>"
        '</thead><tbody><tr><td>2024-01-03T0000Z</td><td class="num">4000</td>'
        f'<td class="num">{roc_auc}</td><td class="num">0.500 [0.480, 0.530]</td></tr>'
    ) in section
    assert page.index("<h2>Model quality") < page.index("<h2>What was compared</h2>")


def test_without_a_quality_check_the_section_says_quality_was_not_scored() -> None:
    page = render_drift_report(_checked(None), [])

    assert _quality_section(page) == (
        '</h2><p class="muted">No quality check result came with this check (nothing new was '
        "labelled, quality monitoring is off, or the check ran alone).</p>"
    )


def test_a_hostile_batch_key_reason_or_metric_name_is_escaped() -> None:
    name = '"><img src=x onerror=alert(1)>'
    summary = quality_summary(degraded=True, batch=EVIL, reason=f"quality: {name}")
    summary["scored"][0]["metrics"][name] = {"value": 0.5, "low": 0.4, "high": 0.6}

    page = render_drift_report(_checked(summary), [])

    for markup in (EVIL, name, "<img", "<script"):
        assert markup not in page
    assert f"<td>{html.escape(EVIL)}</td>" in page
    assert f"<th>{html.escape(name)}</th>" in page
    assert f'<p class="reason">quality: {html.escape(name)}</p>' in page
    assert page_urls(page) == []
    assert page == render_drift_report(_checked(summary), [])
