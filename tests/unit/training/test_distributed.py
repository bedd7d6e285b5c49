"""Training on a Dask cluster of worker processes: the same split, the same model, lineage.

The cluster is a ``LocalCluster`` of two worker processes (one thread each); the integration
test (tests/integration/test_dask_training.py) runs the ``dask`` CLI's scheduler and workers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import distributed
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr

from driftloop.config import LakeFSSettings, Settings
from driftloop.exceptions import ClusterUnavailable, ConfigError, TrainingError
from driftloop.registry import Registry
from driftloop.spec import load_spec
from driftloop.training import TrainingParams, evaluate, holdout_rows, train_model
from driftloop.training.distributed import (
    Partition,
    assign,
    plan_partitions,
    train_on_dask,
    training_workers,
)
from driftloop.training.steps import (
    locate_dataset,
    read_dataset,
    register_candidate,
    reproduce_version,
    train_candidate,
)
from driftloop.versioning.base import ObjectLocation, ObjectLocations
from driftloop.versioning.factory import open_store
from driftloop_provider.testing import publish_synthetic_days
from tests.support.lakefs_standin import LakeFSStandIn

PARAMS = TrainingParams(num_boost_round=40)


@pytest.fixture(scope="module")
def cluster() -> Iterator[distributed.Client]:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=None
        ) as local,
        distributed.Client(local, set_as_default=False) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def world(repo_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    settings = Settings(home=tmp_path_factory.mktemp("dask") / "home", project_dir=repo_dir)
    store = open_store(settings)
    head = publish_synthetic_days(settings, start=date(2026, 4, 1), days=3, rows=1500, store=store)
    spec = load_spec(settings.dataset_spec_path)
    return settings, store, spec, head


def _model_bytes(booster) -> str:
    return hashlib.sha256(booster.save_raw("ubj")).hexdigest()


def test_row_groups_are_grouped_into_partitions_of_bounded_rows(tmp_path: Path) -> None:
    path = tmp_path / "groups.parquet"
    table = pa.table({"x": list(range(1000))})
    pq.write_table(table, path, row_group_size=300)  # groups of 300, 300, 300, 100
    located = ObjectLocations(
        commit_id="c",
        objects=[ObjectLocation(path="data/a.parquet", url=str(path), size_bytes=1, checksum="")],
    )
    parts = plan_partitions(located, partition_rows=650)
    assert [(p.row_groups, p.rows) for p in parts] == [((0, 1), 600), ((2, 3), 400)]
    # a row group larger than the bound is a partition of its own
    assert [p.rows for p in plan_partitions(located, partition_rows=100)] == [300, 300, 300, 100]


def test_partitions_go_to_the_least_loaded_worker_ties_to_the_lower_rank() -> None:
    parts = [Partition("p", "u", (0,), rows) for rows in (500, 100, 100, 250, 50, 10)]
    # w1 catches up to 500 rows; the tie then goes to w0
    assert assign(parts, ["w0", "w1"]) == ["w0", "w1", "w1", "w1", "w1", "w0"]
    assert assign(parts[:1], ["w0", "w1", "w2"]) == ["w0"]


def test_asking_for_more_workers_than_the_cluster_has_is_refused(cluster) -> None:
    assert len(training_workers(cluster)) == 2
    assert training_workers(cluster, 1) == training_workers(cluster)[:1]
    with pytest.raises(ClusterUnavailable, match="has 2 workers; training needs 3"):
        training_workers(cluster, 3)


def test_dask_training_splits_like_local_training_and_repeats_its_bytes(cluster, world) -> None:
    _, store, spec, head = world
    located = locate_dataset(store, spec, head)

    first = train_on_dask(cluster, located, spec, PARAMS)
    again = train_on_dask(cluster, located, spec, PARAMS)

    # three batches (one row group each): two partitions on the first rank, one on the other
    assert sorted(first.placement.values()) == [1, 2] and first.workers == 2
    assert again.placement == first.placement
    assert _model_bytes(first.trained.booster) == _model_bytes(again.trained.booster)
    frame = read_dataset(store, spec, head)
    local = train_model(frame, spec, PARAMS)
    assert first.trained.split_sizes == local.split_sizes
    assert first.counts.total == len(frame) == 4500
    expected = holdout_rows(frame, spec)[first.holdout.columns]
    pd.testing.assert_frame_equal(
        first.holdout.sort_values(list(first.holdout.columns), ignore_index=True),
        expected.sort_values(list(expected.columns), ignore_index=True),
    )
    on_dask = evaluate(first.trained.booster, expected, spec, threshold=0.5).roc_auc
    in_process = evaluate(local.booster, expected, spec, threshold=0.5).roc_auc
    assert on_dask == pytest.approx(in_process, abs=0.01)


def test_a_candidate_trained_on_dask_records_its_engine_and_reproduces(cluster, world) -> None:
    settings, store, spec, head = world
    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    candidate = train_candidate(
        store,
        registry,
        spec,
        settings=settings,
        data_ref="main",
        data_commit=head,
        run_key="dask-run",
        params=PARAMS,
        cluster=cluster,
    )
    assert (candidate.engine, candidate.workers, candidate.rows) == ("dask", 2, 4500)
    assert candidate.reference_profile_uri.startswith("lakefs://")
    record = store.read_object(
        candidate.artifact_commit, f"{candidate.files[0].rsplit('/', 1)[0]}/training.json"
    )
    assert b'"engine": "dask"' in record and b'"partitions_per_worker"' in record

    version = register_candidate(
        registry, store, spec, candidate, settings=settings, created_by="t"
    )
    assert (version.lineage.engine, version.lineage.workers) == ("dask", 2)
    reproduced = reproduce_version(
        store, registry, spec, spec.name, version.version, cluster=cluster
    )
    assert reproduced.identical and reproduced.engine == "dask"
    with pytest.raises(ConfigError, match="trained on Dask with 2 workers"):
        reproduce_version(store, registry, spec, spec.name, version.version)
    registry.close()


def test_workers_read_a_lakefs_commit_through_its_s3_gateway(
    cluster, world, tmp_path: Path
) -> None:
    _, local_store, spec, head = world
    with LakeFSStandIn(data_dir=tmp_path / "lakefs") as lakefs:
        store = open_store(
            Settings(
                home=tmp_path / "home",
                versioning_backend="lakefs",
                repository="gateway",
                lakefs=LakeFSSettings(
                    endpoint=lakefs.endpoint,
                    access_key_id=lakefs.access_key_id,
                    secret_access_key=SecretStr(lakefs.secret_access_key),
                    storage_namespace="local://standin/gateway",
                ),
            )
        )
        store.ensure_repository()
        for obj in local_store.list_objects(head, "data/"):
            store.write_object("main", obj.path, local_store.read_object(head, obj.path))
        commit = store.commit("main", "the same batches").id
        located = locate_dataset(store, spec, commit)
        assert all(o.url.startswith(f"s3://gateway/{commit}/data/") for o in located.objects)

        over_s3 = train_on_dask(cluster, located, spec, PARAMS)
    from_files = train_on_dask(cluster, locate_dataset(local_store, spec, head), spec, PARAMS)
    assert _model_bytes(over_s3.trained.booster) == _model_bytes(from_files.trained.booster)


def test_bad_rows_on_a_worker_fail_as_they_fail_locally(cluster, world, tmp_path: Path) -> None:
    _, store, spec, head = world
    frame = read_dataset(store, spec, head)
    frame.loc[7, spec.target] = "maybe"
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path, index=False)
    located = ObjectLocations(
        commit_id="c",
        objects=[ObjectLocation(path="data/bad.parquet", url=str(path), size_bytes=1, checksum="")],
    )
    with pytest.raises(TrainingError, match=r"holds labels \['maybe'\] outside"):
        train_on_dask(cluster, located, spec, PARAMS)
    with pytest.raises(TrainingError, match="only 4500 rows to train on; at least min_rows=5000"):
        train_on_dask(
            cluster,
            locate_dataset(store, spec, head),
            spec,
            PARAMS.model_copy(update={"min_rows": 5000}),
        )
