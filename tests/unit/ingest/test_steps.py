"""Write-audit-publish on both versioning backends, switched by settings alone."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from driftloop.config import LakeFSSettings, Settings
from driftloop.data.sources import Interval
from driftloop.data.synthetic import CorruptionConfig, GeneratorConfig, generate_batches
from driftloop.exceptions import EmptyBatch
from driftloop.ingest.quarantine import read_quarantine_note
from driftloop.ingest.steps import publish_batch, stage_batch, validate_batch
from driftloop.overview.batches import published_batches, quarantined_batches
from driftloop.spec import load_spec, save_spec
from driftloop.versioning.factory import open_store
from tests.support.lakefs_standin import LakeFSStandIn

DAY = datetime(2026, 4, 1, tzinfo=UTC)


def _interval(days: int = 0) -> Interval:
    start = DAY + timedelta(days=days)
    return Interval(start=start, end=start + timedelta(days=1))


@pytest.fixture(scope="module")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeFSStandIn]:
    with LakeFSStandIn(data_dir=tmp_path_factory.mktemp("standin")) as server:
        yield server


@pytest.fixture(params=["local", "lakefs"])
def settings(request, repo_dir: Path, tmp_path: Path, standin: LakeFSStandIn) -> Settings:
    extra = {}
    if request.param == "lakefs":
        extra = {
            "versioning_backend": "lakefs",
            "repository": f"ingest-{uuid.uuid4().hex[:8]}",
            "lakefs": LakeFSSettings(
                endpoint=standin.endpoint,
                access_key_id=standin.access_key_id,
                secret_access_key=SecretStr(standin.secret_access_key),
                storage_namespace="local://tests",
            ),
        }
    settings = Settings(home=tmp_path / "home", project_dir=repo_dir, **extra)
    good = GeneratorConfig(seed=3, rows_per_batch=400)
    generate_batches(good, start=DAY.date(), days=1, out_dir=settings.landing_dir)
    bad = good.model_copy(update={"corruption": CorruptionConfig(null_fraction={"age": 0.2})})
    generate_batches(
        bad, start=(DAY + timedelta(days=1)).date(), days=1, out_dir=settings.landing_dir
    )
    return settings


def test_good_batch_is_published_once(settings: Settings) -> None:
    store, spec = open_store(settings), load_spec(settings.dataset_spec_path)
    batch = stage_batch(store, spec, settings=settings, interval=_interval(), run_id="r1")
    assert store.resolve(batch.branch) == batch.commit_id
    assert store.list_objects("main", "data/") == []
    staged = store.get_commit(batch.commit_id)
    assert staged.message == f"Stage batch {batch.key} of {spec.name}"
    assert staged.metadata["batch"] == batch.key and staged.metadata["airflow_run_id"] == "r1"
    assert staged.metadata["interval_start"] == _interval().start.isoformat()
    # staging the same interval again commits nothing new
    restaged = stage_batch(store, spec, settings=settings, interval=_interval(), run_id="r1")
    assert restaged.commit_id == batch.commit_id == store.resolve(batch.branch)
    report = validate_batch(store, spec, batch, settings=settings)
    head = publish_batch(store, batch, report.statistics, settings=settings, run_id="r1")

    assert [o.path for o in store.list_objects("main", "data/")] == [batch.path]
    assert store.get_commit("main").metadata["airflow_run_id"] == "r1"
    assert json.loads(store.get_commit("main").metadata["validation"])["success_percent"] == 100
    assert batch.branch not in store.list_branches()

    # a retry of every step lands on the same state: no new commit on main
    again = stage_batch(store, spec, settings=settings, interval=_interval(), run_id="r2")
    report = validate_batch(store, spec, again, settings=settings)
    assert publish_batch(store, again, report.statistics, settings=settings, run_id="r2") == head
    assert store.resolve("main") == head


def test_bad_batch_stays_on_its_branch_with_the_reasons(settings: Settings) -> None:
    store, spec = open_store(settings), load_spec(settings.dataset_spec_path)
    batch = stage_batch(store, spec, settings=settings, interval=_interval(1), run_id="r1")
    main_before = store.resolve("main")
    report = validate_batch(store, spec, batch, settings=settings)
    assert not report.success and "age" in report.describe(batch.source)
    assert report.failures and report.docs_path.exists()
    assert store.resolve("main") == main_before
    assert batch.branch == f"ingest-{spec.name}-{batch.key}"
    assert "age" in read_quarantine_note(store, spec.name, batch.key)["message"]
    verdict = store.get_commit(batch.branch)
    assert verdict.message == f"Quarantine batch {batch.key} of {spec.name}"
    assert verdict.metadata == {"quarantined": "true"}
    assert verdict.parents == [batch.commit_id]

    # validating the same data again adds no commit to the quarantine branch
    head = store.resolve(batch.branch)
    again = stage_batch(store, spec, settings=settings, interval=_interval(1), run_id="r2")
    assert not validate_batch(store, spec, again, settings=settings).success
    assert store.resolve(batch.branch) == head


def test_a_retry_commits_what_a_failed_stage_left_on_its_branch(settings: Settings) -> None:
    store, spec = open_store(settings), load_spec(settings.dataset_spec_path)
    batch = stage_batch(store, spec, settings=settings, interval=_interval(), run_id="r1")
    # As if a first attempt had written the batch to a fresh branch and died before committing.
    store.delete_branch(batch.branch)
    store.create_branch(batch.branch, "main")
    store.write_object(batch.branch, batch.path, store.read_object(batch.commit_id, batch.path))

    retried = stage_batch(store, spec, settings=settings, interval=_interval(), run_id="r2")

    assert store.uncommitted(batch.branch) == []
    assert store.get_commit(retried.commit_id).metadata["airflow_run_id"] == "r2"
    assert store.read_object(retried.commit_id, batch.path) == store.read_object(
        batch.commit_id, batch.path
    )


def test_an_interval_without_rows_is_empty(settings: Settings) -> None:
    store, spec = open_store(settings), load_spec(settings.dataset_spec_path)
    with pytest.raises(EmptyBatch, match="no rows"):
        stage_batch(store, spec, settings=settings, interval=_interval(30), run_id="r1")


def test_changed_batch_is_published_with_its_warnings(settings: Settings) -> None:
    """Values past the learned range and a new category are changed data, not broken data."""
    store, spec = open_store(settings), load_spec(settings.dataset_spec_path)
    changed = GeneratorConfig(
        seed=5, rows_per_batch=400, shift={"income": 8.0}, new_categories={"purpose": ["crypto"]}
    )
    generate_batches(
        changed, start=(DAY + timedelta(days=2)).date(), days=1, out_dir=settings.landing_dir
    )
    batch = stage_batch(store, spec, settings=settings, interval=_interval(2), run_id="r1")

    report = validate_batch(store, spec, batch, settings=settings)

    assert report.success, report.describe(batch.source)
    assert {(w.rule, w.column) for w in report.warnings} >= {
        ("range", "income"),
        ("categories", "purpose"),
    }
    head = publish_batch(
        store,
        batch,
        report.statistics,
        settings=settings,
        run_id="r1",
        warnings=report.warning_records(),
    )
    recorded = json.loads(store.get_commit(head).metadata["validation_warnings"])
    assert recorded == report.warning_records()
    assert any("crypto" in w["message"] for w in recorded)
    assert store.list_objects(head, batch.path)


def _dataset(settings: Settings, name: str) -> Settings:
    """The project's spec and suite renamed to ``name``, reading ``<landing>/<name>/``."""
    folder = settings.home_dir / "expectations"
    spec = load_spec(settings.dataset_spec_path)
    source = spec.source.model_copy(
        update={"path": f"${{DRIFTLOOP_LANDING_DIR}}/{name}/applications_*.csv"}
    )
    save_spec(spec.model_copy(update={"name": name, "source": source}), folder / f"{name}.yaml")
    suite = json.loads(settings.suite_path.read_text(encoding="utf-8"))
    (folder / f"{name}.json").write_text(json.dumps(suite | {"name": name}), encoding="utf-8")
    return settings.model_copy(update={"dataset": name, "expectations": folder})


def test_datasets_on_one_store_never_share_a_batch(settings: Settings) -> None:
    """Beta's batch of an interval leaves alpha's quarantined batch of it alone."""
    alpha, beta = _dataset(settings, "alpha"), _dataset(settings, "beta")
    good = GeneratorConfig(seed=3, rows_per_batch=400)
    bad = good.model_copy(update={"corruption": CorruptionConfig(null_fraction={"age": 0.2})})
    generate_batches(bad, start=DAY.date(), days=1, out_dir=settings.landing_dir / "alpha")
    generate_batches(good, start=DAY.date(), days=1, out_dir=settings.landing_dir / "beta")
    store = open_store(settings)
    alpha_spec, beta_spec = load_spec(alpha.dataset_spec_path), load_spec(beta.dataset_spec_path)

    rejected = stage_batch(store, alpha_spec, settings=alpha, interval=_interval(), run_id="a")
    assert not validate_batch(store, alpha_spec, rejected, settings=alpha).success
    batch = stage_batch(store, beta_spec, settings=beta, interval=_interval(), run_id="b")
    report = validate_batch(store, beta_spec, batch, settings=beta)
    assert report.success, report.describe(batch.source)
    head = publish_batch(store, batch, report.statistics, settings=beta, run_id="b")

    assert batch.key == rejected.key and batch.branch != rejected.branch
    assert [o.path for o in store.list_objects(head, "data/")] == [f"data/beta/{batch.key}.parquet"]
    assert store.get_commit(head).metadata["dataset"] == "beta"
    assert rejected.branch in store.list_branches()
    assert "age" in read_quarantine_note(store, "alpha", rejected.key)["message"]
    assert [o.path for o in store.list_objects(rejected.branch, "data/")] == [rejected.path]
    assert [b.key for b in quarantined_batches(store, "alpha")] == [rejected.key]
    assert quarantined_batches(store, "beta") == []
    assert [b.key for b in published_batches(store, "main", "beta")] == [batch.key]
    assert published_batches(store, "main", "alpha") == []
