"""The whole loop under real Airflow components (scheduler, dag-processor, triggerer,
api-server on LocalExecutor) and a real BentoML server: a quality loss in, a retrain for
quality out; drift in, a retrain for drift out; then the driftloop pages inside Airflow's UI,
with real logins, in a real browser.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.launcher.airflow import airflow_home
from driftloop.launcher.loop import TRAIN, LoopReport, run_loop
from driftloop.launcher.stack import AirflowStack, stack_logins
from driftloop.registry import Registry
from tests.support.browser import Browser
from tests.support.serving import free_port

# The loop (the first test's fixture) and the browser flows share one stack.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
PAGES = ("models", "batches", "drift", "approvals")


@dataclass
class Loop:
    settings: Settings
    stack: AirflowStack
    report: LoopReport
    lines: list[str]

    @property
    def registry(self) -> Registry:
        return Registry(url=self.settings.registry_database_url)


@pytest.fixture(scope="module")
def loop(repo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    settings = Settings(
        home=tmp_path_factory.mktemp("stack") / "home",
        project_dir=repo_dir,
        airflow_port=18080,
        serving_port=free_port(),
    )
    lines: list[str] = []
    with AirflowStack(settings) as stack:
        report = run_loop(stack, rows=1500, good_days=2, say=lines.append)
        yield Loop(settings, stack, report, lines)


def test_quality_then_drift_trigger_retrains_and_the_service_follows(loop: Loop) -> None:
    report, lines = loop.report, loop.lines
    train_runs = loop.stack.runs(TRAIN)
    states = list(report.ingested.values())
    assert states.count("failed") == 1 and states.count("success") == 5, lines
    assert report.decisions[0].startswith("version 1 PROMOTED"), lines
    assert "NOT promoted" in report.decisions[1], lines
    # the degraded day's inputs did not move: its quality alone retrained, with the evidence
    quality = report.quality_conf
    assert quality["signals"] == ["quality"], lines
    assert quality["reason"].startswith("quality: roc_auc"), lines
    evidence = quality["evidence"]["quality"]
    assert evidence["pooled"]["value"] < evidence["holdout"] - evidence["tolerance"], evidence
    assert evidence["pooled"]["high"] < evidence["holdout"], evidence
    assert evidence["rows"] >= evidence["min_rows"], evidence
    assert report.decisions[2].startswith("version 3 "), lines  # promoted or not, with why
    # then the drifted days: the monitor triggered the train DAG with the drifted features
    assert "drift" in report.retrain_conf["signals"], lines
    assert "income" in report.retrain_conf["drifted_features"], lines
    assert report.decisions[3].startswith("version 4 "), lines
    assert any(r["conf"].get("triggered_by") for r in train_runs if r.get("conf")), train_runs
    champion = loop.registry.get_alias("credit_risk", "champion")
    assert champion is not None and champion.reference_profile_uri
    # the service answered with the champion of the moment, before and after the retrain
    assert report.served_versions[0] == 1
    assert report.served_versions[-1] == champion.version, lines


def _status(loop: Loop, method: str, path: str, token: str | None = None) -> int:
    request = urllib.request.Request(
        f"{loop.stack.base_url}{path}",
        method=method,
        data=b"expected_champion=1&choice=Approve" if method == "POST" else None,
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    if method == "POST":
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


READS = [f"/driftloop/{page}" for page in PAGES] + [
    "/driftloop/models/1",
    "/driftloop/models/1/plots/roc_curve.png",
    "/driftloop/batches/x/docs",
    "/driftloop/drift/report/x.html",
]
ACTIONS = ["/driftloop/models/1/promote", "/driftloop/models/rollback", "/driftloop/approvals/r"]


def test_every_route_needs_a_login_and_actions_need_an_editor(loop: Loop) -> None:
    moves = len(loop.registry.audit_log("credit_risk"))
    for path in READS + ACTIONS:
        method = "POST" if path in ACTIONS else "GET"
        assert _status(loop, method, path) in (401, 403), path
        assert _status(loop, method, path, token="forged") in (401, 403), path
    assert _status(loop, "GET", "/api/v2/dags") == 401
    viewer = loop.stack.login("viewer")
    for path in READS[:5]:
        assert _status(loop, "GET", path, viewer) == 200, path
    for path in ACTIONS:
        assert _status(loop, "POST", path, viewer) == 403, path
    assert len(loop.registry.audit_log("credit_risk")) == moves


def _wait_for_approval(loop: Loop, run_id: str, timeout: float = 600) -> None:
    """Wait until the approval is asked for and the scheduler has seen its task pause.

    Airflow 3.3 parks the task (``awaiting_input``) before its process has ended; an answer
    that resumes it before the scheduler hears of that end makes the scheduler fail the
    resumed task. A person takes longer than that second; this test waits for the
    scheduler's own word.
    """
    deadline = time.monotonic() + timeout
    path = f"/dags/{TRAIN}/dagRuns/{run_id}/taskInstances/approve"
    paused = f"TaskInstance Finished: dag_id={TRAIN}, task_id=approve, run_id={run_id},"
    scheduler_log = airflow_home(loop.settings) / "logs" / "scheduler.log"
    while time.monotonic() < deadline:
        state = loop.stack.api("GET", path)["state"]
        assert state not in ("skipped", "failed", "upstream_failed"), (state, loop.lines)
        lines = scheduler_log.read_text(encoding="utf-8").splitlines()
        if state == "awaiting_input" and any(
            paused in line and "state=awaiting_input" in line for line in lines
        ):
            return
        time.sleep(1)
    raise AssertionError(f"the approval of {run_id} was never asked for")


def test_the_pages_in_a_browser_viewer_reads_admin_acts(loop: Loop) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    logins, _ = stack_logins(loop.settings)
    registry = loop.registry
    weak = next(d.version for d in registry.decisions("credit_risk") if not d.promoted)
    before = registry.get_alias("credit_risk", "champion").version

    with Browser(loop.stack.base_url, only_local=True) as browser:
        viewer = browser.login("viewer", logins["viewer"])
        for page in PAGES:
            viewer.open(f"/driftloop/{page}")
            viewer.screenshot(SCREENSHOTS / f"viewer-{page}.png")
        viewer.open(f"/driftloop/models/{before}")
        assert viewer.count("img.plot") == 2  # the ROC and importance plots
        viewer.screenshot(SCREENSHOTS / "viewer-version.png")
        viewer.open("/driftloop/models/1")  # the first champion, scored on the degraded day
        assert viewer.count("#quality figure.chart line.interval") > 0
        viewer.screenshot(SCREENSHOTS / "viewer-quality.png")
        viewer.open("/driftloop/drift")
        assert viewer.count("figure.chart polyline, figure.chart circle") > 0
        report = viewer.open_link("report")
        assert report.count("svg") > 0, "the drift report drew no chart offline"
        report.screenshot(SCREENSHOTS / "drift-report.png")
        viewer.open("/driftloop/batches")
        docs = viewer.open_link("page")
        assert docs.count("table") > 0
        docs.screenshot(SCREENSHOTS / "data-docs.png")
        assert not browser.blocked, f"requests left 127.0.0.1: {browser.blocked}"

        admin = browser.login("admin", logins["admin"])
        admin.open(f"/driftloop/models/{weak}")
        admin.click("Promote to champion")
        assert registry.get_alias("credit_risk", "champion").version == weak
        admin.open("/driftloop/models")
        admin.click("Roll back")
        assert registry.get_alias("credit_risk", "champion").version == before
        admin.screenshot(SCREENSHOTS / "admin-models.png")
        moves = registry.audit_log("credit_risk")[-2:]
        assert [m.actor for m in moves] == ["airflow-ui:admin"] * 2
        assert moves[-1].rollback_of == moves[-2].id

        # a challenger waits for a person; the champion it must beat is the weak one
        admin.open(f"/driftloop/models/{weak}")
        admin.click("Promote to champion")
        run_id = loop.stack.trigger(
            TRAIN, conf={"reason": "ui approval", "promotion_mode": "require_approval"}
        )
        _wait_for_approval(loop, run_id)
        viewer.open("/driftloop/approvals")
        assert viewer.count("form button") == 2
        viewer.screenshot(SCREENSHOTS / "viewer-approvals.png")
        viewer.click("Approve")
        assert "403" in viewer.text() or "Forbidden" in viewer.text()
        admin.open("/driftloop/approvals")
        admin.screenshot(SCREENSHOTS / "admin-approvals.png")
        admin.click("Approve")
        assert loop.stack.wait_for_run(TRAIN, run_id, timeout=300) == "success", loop.lines

    champion = registry.get_alias("credit_risk", "champion").version
    approved = [d for d in registry.decisions("credit_risk") if d.actor == "airflow-ui:admin"]
    assert champion == approved[-1].version and approved[-1].promoted
    assert json.loads(json.dumps(approved[-1].evidence))["champion_seen"] == weak
