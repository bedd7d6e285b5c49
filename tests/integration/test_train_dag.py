"""driftloop_train through real Airflow: the first model promoted, a worse one kept out."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.launcher.airflow import airflow_env, ensure_airflow_db, run_dag_once
from driftloop.registry import Registry
from driftloop_provider.testing import publish_synthetic_days

pytestmark = pytest.mark.integration

FAST = {"num_boost_round": 60}


@pytest.fixture(scope="module")
def project(repo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("train") / "home", project_dir=repo_dir)
    publish_synthetic_days(settings, start=date(2026, 2, 1), days=2, rows=2000)
    ensure_airflow_db(settings)
    return settings


@pytest.fixture()
def registry(project: Settings) -> Registry:
    registry = Registry(url=project.registry_database_url)
    registry.upgrade()
    return registry


def _cli(project: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftloop.launcher.cli", *args],
        env=airflow_env(project),
        cwd=project.project_dir,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_first_model_is_promoted_with_lineage(
    project: Settings, registry: Registry, lineage_events
) -> None:
    from driftloop.versioning.factory import open_store

    outcome = run_dag_once(project, "driftloop_train", conf={"reason": "first", **FAST})
    assert outcome.succeeded, outcome.output[-4000:]

    champion = registry.get_alias("credit_risk", "champion")
    assert champion is not None and champion.version == 1
    lineage = champion.lineage
    store = open_store(project)
    assert lineage.data_commit == store.resolve("main")
    assert lineage.params["num_boost_round"] == 60
    assert lineage.metrics["roc_auc"] > 0.7
    assert len(lineage.validation["batches"]) == 2
    assert store.read_object(lineage.artifact_commit, lineage.artifact_uri)[:1] == b"{"
    (decision,) = registry.decisions("credit_risk")
    assert decision.promoted and decision.reason.startswith("first model")
    (move,) = registry.audit_log("credit_risk")
    assert move.to_version == 1 and move.from_version is None

    # OpenLineage: training read the batches at the pinned commit; the version is an output
    (train,) = lineage_events.completed("driftloop_train.train")
    read = {d["name"] for d in train["inputs"]}
    batches = {
        f"{lineage.data_commit}/data/credit_risk/{key}.parquet"
        for key in lineage.validation["batches"]
    }
    assert batches <= read, read
    (register,) = lineage_events.completed("driftloop_train.register")
    (model,) = [d for d in register["outputs"] if d["namespace"].startswith("driftloop-registry")]
    assert model["name"] == "credit_risk/versions/1"
    assert "registry.db" in model["namespace"]


def test_a_worse_model_is_registered_not_promoted(project: Settings, registry: Registry) -> None:
    conf = {"reason": "worse", "max_depth": 1, "num_boost_round": 3, "eta": 0.05}
    outcome = run_dag_once(project, "driftloop_train", conf=conf)
    assert outcome.succeeded, outcome.output[-4000:]

    assert [v.version for v in registry.list_versions("credit_risk")] == [1, 2]
    assert registry.get_alias("credit_risk", "champion").version == 1
    decision = registry.decisions("credit_risk")[-1]
    assert decision.version == 2 and not decision.promoted
    assert "kept champion" in decision.reason and "roc_auc" in decision.reason
    # the challenger and the champion were scored on the same holdout rows
    challenger, champion = decision.evidence["challenger"], decision.evidence["champion"]
    assert challenger["rows"] == champion["rows"]
    assert len(registry.audit_log("credit_risk")) == 1


def test_training_on_a_commit_without_data_fails_and_keeps_the_champion(
    project: Settings, registry: Registry
) -> None:
    from driftloop.versioning.factory import open_store

    first = open_store(project).log("main")[-1].id  # the repository's empty initial commit
    outcome = run_dag_once(
        project, "driftloop_train", conf={"reason": "bad ref", "data_ref": first, **FAST}
    )
    assert not outcome.succeeded
    assert "holds no published data" in outcome.output
    assert registry.get_alias("credit_risk", "champion").version == 1
    assert len(registry.list_versions("credit_risk")) == 2


def test_cli_lists_reproduces_promotes_and_rolls_back(project: Settings, registry) -> None:
    listing = _cli(project, "models", "list")
    assert listing.returncode == 0, listing.stderr
    assert "champion" in listing.stdout

    reproduced = _cli(project, "models", "reproduce", "1")
    assert reproduced.returncode == 0, reproduced.stdout + reproduced.stderr
    assert "byte-identical" in reproduced.stdout

    assert _cli(project, "models", "promote", "2", "--reason", "try it").returncode == 0
    assert registry.get_alias("credit_risk", "champion").version == 2
    rolled = _cli(project, "models", "rollback", "--reason", "worse in the field")
    assert rolled.returncode == 0, rolled.stderr
    assert "2 -> 1" in rolled.stdout
    assert registry.get_alias("credit_risk", "champion").version == 1
    moves = registry.audit_log("credit_risk")
    assert [(m.from_version, m.to_version) for m in moves] == [(None, 1), (1, 2), (2, 1)]
    assert moves[-1].reason == "worse in the field" and moves[-1].actor.startswith("cli:")


def test_a_quarantine_branch_is_refused_unless_allowed_and_then_kept_from_champion(
    project: Settings, registry: Registry
) -> None:
    from driftloop.versioning.factory import open_store

    store = open_store(project)
    store.create_branch("ingest-quarantined", "main")
    store.write_object("ingest-quarantined", "quarantine/reasons.json", b'{"failed": ["ids"]}')
    quarantined = store.commit("ingest-quarantined", "Quarantine: validation failed").id
    versions = len(registry.list_versions("credit_risk"))

    refused = run_dag_once(
        project,
        "driftloop_train",
        conf={"reason": "quarantined", "data_ref": "ingest-quarantined", **FAST},
    )
    assert not refused.succeeded
    assert f"data ref 'ingest-quarantined' (commit {quarantined}) is not on 'main'" in (
        refused.output
    )
    assert len(registry.list_versions("credit_risk")) == versions

    allowed = _cli(project, "train", "--data-ref", "ingest-quarantined", "--allow-unpublished-data")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    latest = registry.latest_version("credit_risk")
    assert latest.version == versions + 1
    assert latest.lineage.unpublished_data
    assert (latest.lineage.data_ref, latest.lineage.data_commit) == (
        "ingest-quarantined",
        quarantined,
    )
    decision = registry.decisions("credit_risk")[-1]
    assert decision.version == latest.version and not decision.promoted
    assert decision.evidence["unpublished_data"] is True
    assert f"version {latest.version}: registered, not promoted" in allowed.stdout
    assert registry.get_alias("credit_risk", "champion").version == 1
