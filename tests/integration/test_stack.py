"""The whole loop under real Airflow components (scheduler, dag-processor, triggerer,
api-server on LocalExecutor) and a real BentoML server: drift in, retrain run out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.launcher.loop import TRAIN, run_loop
from driftloop.launcher.stack import AirflowStack
from driftloop.registry import Registry
from tests.support.serving import free_port

pytestmark = pytest.mark.integration


def test_drift_triggers_a_retrain_and_the_service_follows(repo_dir: Path, tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path / "home",
        project_dir=repo_dir,
        airflow_port=18080,
        serving_port=free_port(),
    )
    lines: list[str] = []
    with AirflowStack(settings) as stack:
        report = run_loop(stack, rows=1500, good_days=2, say=lines.append)
        train_runs = stack.runs(TRAIN)

    states = list(report.ingested.values())
    assert states.count("failed") == 1 and states.count("success") == 4, lines
    assert report.decisions[0].startswith("version 1 PROMOTED"), lines
    assert "NOT promoted" in report.decisions[1], lines
    # the monitor triggered the train DAG with the reason and the drifted features
    assert "income" in report.retrain_conf["drifted_features"], lines
    assert report.retrain_conf["reason"].startswith("drift"), lines
    assert any(r["conf"].get("triggered_by") for r in train_runs if r.get("conf")), train_runs
    registry = Registry(url=settings.registry_database_url)
    champion = registry.get_alias("credit_risk", "champion")
    assert champion is not None and champion.reference_profile_uri
    # the service answered with the champion of the moment, before and after the retrain
    assert report.served_versions[0] == 1
    assert report.served_versions[-1] == champion.version, lines
