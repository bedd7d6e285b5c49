"""driftloop_ingest through real Airflow (``airflow dags test``, SQLite): publish, quarantine."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.launcher.airflow import airflow_env, airflow_home, ensure_airflow_db, run_dag_once

pytestmark = pytest.mark.integration

DAY_ONE = date(2026, 1, 1)
BAD_DAY = date(2026, 1, 3)


def _logical_date_for(day: date) -> datetime:
    """A daily run's logical date is the end of the interval it ingests."""
    return datetime(day.year, day.month, day.day + 1, tzinfo=UTC)


def _batch_profile_events(settings: Settings) -> list[dict[str, object]]:
    """The extras of the ``driftloop_batch_profiles`` Asset events in Airflow's database."""
    with sqlite3.connect(airflow_home(settings) / "airflow.db") as db:
        rows = db.execute(
            "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.name = 'driftloop_batch_profiles' ORDER BY e.id"
        ).fetchall()
    return [json.loads(extra) for (extra,) in rows]


@pytest.fixture(scope="module")
def project(repo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    from driftloop.data.synthetic import CorruptionConfig, GeneratorConfig, generate_batches

    settings = Settings(home=tmp_path_factory.mktemp("ingest") / "home", project_dir=repo_dir)
    good = GeneratorConfig(seed=11, rows_per_batch=500)
    generate_batches(good, start=DAY_ONE, days=2, out_dir=settings.landing_dir)
    bad = good.model_copy(
        update={
            "new_categories": {"purpose": ["crypto"]},
            "corruption": CorruptionConfig(out_of_range={"income": -1000.0}),
        }
    )
    generate_batches(bad, start=BAD_DAY, days=1, out_dir=settings.landing_dir)
    ensure_airflow_db(settings)
    return settings


@pytest.fixture()
def store(project: Settings):
    from driftloop.versioning.factory import open_store

    store = open_store(project)
    store.ensure_repository("main")
    return store


def test_good_interval_is_published_to_main(project: Settings, store, lineage_events) -> None:
    outcome = run_dag_once(project, "driftloop_ingest", logical_date=_logical_date_for(DAY_ONE))
    assert outcome.succeeded, outcome.output[-3000:]

    head = store.get_commit("main")
    assert [o.path for o in store.list_objects("main", "data/")] == [
        "data/credit_risk/2026-01-01T0000Z.parquet"
    ]
    assert head.metadata["rows"] == "500"
    assert head.metadata["interval_start"] == "2026-01-01T00:00:00+00:00"
    assert head.metadata["airflow_run_id"]
    assert "driftloop" in head.metadata["code_version"]
    assert json.loads(head.metadata["validation"])["success_percent"] == 100.0
    assert (
        "applications_2026-01-01" in head.metadata["source"] or "landing" in head.metadata["source"]
    )
    assert not any(b.startswith("ingest-") for b in store.list_branches())

    # OpenLineage: the source files in, the batch out on its branch, checked, then on main
    (stage,) = lineage_events.completed("driftloop_ingest.stage")
    assert {d["namespace"] for d in stage["inputs"]} == {"file"}
    assert any(d["name"].endswith("applications_2026-01-01.csv") for d in stage["inputs"])
    (validate,) = lineage_events.completed("driftloop_ingest.validate")
    (checked,) = [d for d in validate["inputs"] if "dataQualityAssertions" in d["facets"]]
    assertions = checked["facets"]["dataQualityAssertions"]["assertions"]
    assert assertions and all(a["success"] for a in assertions)
    (publish,) = lineage_events.completed("driftloop_ingest.publish")
    (published,) = publish["outputs"]
    assert published["namespace"] == "driftloop-local://driftloop"
    assert published["name"] == "main/data/credit_risk/2026-01-01T0000Z.parquet"
    assert published["facets"]["version"]["datasetVersion"] == head.id
    # the profile task announces the batch it profiled, which schedules the drift monitor
    assert _batch_profile_events(project) == [
        {"dataset": "credit_risk", "batches": ["2026-01-01T0000Z"], "rows": 500, "commit": head.id}
    ]


def test_rerunning_an_interval_changes_nothing(project: Settings, store) -> None:
    before = store.resolve("main")
    outcome = run_dag_once(project, "driftloop_ingest", logical_date=_logical_date_for(DAY_ONE))
    assert outcome.succeeded, outcome.output[-3000:]
    assert store.resolve("main") == before
    assert len(store.list_objects("main", "data/")) == 1
    assert len(_batch_profile_events(project)) == 1  # nothing profiled, nothing announced


def test_bad_interval_is_quarantined_and_main_untouched(project: Settings, store) -> None:
    from driftloop.ingest.quarantine import read_quarantine_note

    before = store.resolve("main")
    outcome = run_dag_once(project, "driftloop_ingest", logical_date=_logical_date_for(BAD_DAY))
    assert not outcome.succeeded
    assert store.resolve("main") == before
    branch = "ingest-credit_risk-2026-01-03T0000Z"
    assert branch in store.list_branches()

    note = read_quarantine_note(store, "credit_risk", "2026-01-03T0000Z")
    assert "income" in note["message"] and "purpose" in note["message"]
    assert "crypto" in note["message"]
    assert Path(note["docs_path"]).exists()
    # GX's result and page are in the store too, not only on the worker that validated
    assert json.loads(store.read_object(branch, note["result_object"]))["success"] is False
    assert b"income" in store.read_object(branch, note["docs_object"])
    # the staged data is kept on the quarantine branch for inspection
    assert store.list_objects(branch, "data/credit_risk/2026-01-03")
    assert len(_batch_profile_events(project)) == 1  # no profile, no event for the monitor


def _cli(project: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = airflow_env(project)
    return subprocess.run(
        [sys.executable, "-m", "driftloop.launcher.cli", *args],
        check=False,
        env=env,
        cwd=project.project_dir,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_conf_path_outside_the_landing_zone_fails_the_run(project: Settings, store) -> None:
    before, branches = store.resolve("main"), store.list_branches()
    outcome = run_dag_once(project, "driftloop_ingest", conf={"path": "/**/*.csv"})
    assert not outcome.succeeded
    assert "is outside the folders ingest may read" in outcome.output
    assert store.resolve("main") == before and store.list_branches() == branches


def test_cli_ingests_a_file_from_outside_the_landing_zone_through_it(
    project: Settings, store, tmp_path: Path
) -> None:
    mine = tmp_path / "mine.csv"
    mine.write_bytes((project.landing_dir / "applications_2026-01-02.csv").read_bytes())
    result = _cli(project, "ingest", str(mine))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"landed {mine} as {project.landing_dir / 'credit_risk'}" in result.stdout
    assert "published data/credit_risk/file-" in result.stdout
    assert store.resolve("main") in result.stdout


def test_cli_reports_quarantine_reasons_for_a_bad_file(project: Settings, store) -> None:
    before = store.resolve("main")
    result = _cli(project, "ingest", str(project.landing_dir / "applications_2026-01-03.csv"))
    assert result.returncode == 1
    assert "quarantined on branch ingest-credit_risk-file-" in result.stderr
    assert "income" in result.stderr
    assert store.resolve("main") == before


def test_cli_names_a_missing_file(project: Settings) -> None:
    missing = os.path.join(str(project.landing_dir), "nope.csv")
    result = _cli(project, "ingest", missing)
    assert result.returncode == 1
    assert "nope.csv" in result.stderr
