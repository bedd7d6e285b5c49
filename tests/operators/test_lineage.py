"""OpenLineage of the provider's operators: what passes through the store is reported."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
from airflow.providers.openlineage.extractors import OperatorLineage
from airflow.sdk import BaseOperator

from driftloop.config import Settings
from driftloop.validation.report import CheckOutcome, ValidationReport
from driftloop.versioning.base import VersionStore
from driftloop.versioning.factory import open_store
from driftloop.versioning.transact import transact
from driftloop_provider.base import DriftloopResources
from driftloop_provider.lineage import (
    TaskLineage,
    recording,
    registry_namespace,
    store_namespace,
)
from driftloop_provider.provider_info import MODULES


def _operator_classes() -> list[type]:
    found = []
    for name in MODULES["operators"] + MODULES["sensors"]:
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseOperator) and cls.__module__ == name:
                found.append(cls)
    return found


def test_every_operator_of_the_provider_reports_lineage() -> None:
    classes = _operator_classes()
    assert len(classes) >= 14, classes
    for cls in classes:
        assert issubclass(cls, DriftloopResources), cls
        for method in ("on_complete", "on_failure"):
            assert callable(getattr(cls, f"get_openlineage_facets_{method}")), cls


@pytest.fixture
def store(tmp_path: Path) -> VersionStore:
    store = open_store(Settings(home=tmp_path / "home", project_dir=tmp_path))
    store.ensure_repository("main")
    return store


def _named(datasets: list) -> dict[str, dict]:
    return {d.name: d for d in datasets}


def test_reads_writes_commits_and_merges_are_reported(store: VersionStore) -> None:
    lineage = TaskLineage()
    recorded = recording(store, lineage)
    assert isinstance(recorded, VersionStore)
    with transact(recorded, "work", source_ref="main", message="first") as tx:
        tx.write("data/a.parquet", b"a")
    head = recorded.merge("work", "main", message="publish")
    assert recorded.read_object("main", "data/a.parquet") == b"a"
    # a retried transaction with nothing new still names what it wrote, at the branch head
    with transact(recorded, "work", source_ref="main", message="again") as again:
        again.write_if_changed("data/a.parquet", b"a")

    result = lineage.operator_lineage()
    assert isinstance(result, OperatorLineage)
    namespace = "driftloop-local://driftloop"
    outputs, inputs = _named(result.outputs), _named(result.inputs)
    assert {d.namespace for d in result.outputs + result.inputs} == {namespace}
    assert outputs["work/data/a.parquet"].facets["version"].datasetVersion == again.commit_id
    assert outputs["main/data/a.parquet"].facets["version"].datasetVersion == head
    assert inputs["main/data/a.parquet"].facets["version"].datasetVersion == head
    assert inputs["work/data/a.parquet"].facets["version"].datasetVersion == tx.commit_id


def test_validation_becomes_data_quality_facets(tmp_path: Path) -> None:
    lineage = TaskLineage()
    report = ValidationReport(
        success=False,
        statistics={},
        failures=[],
        checks=[
            CheckOutcome(
                expectation="expect_column_values_to_not_be_null",
                column="age",
                success=True,
                severity="critical",
            ),
            CheckOutcome(
                expectation="expect_table_row_count_to_be_between",
                column=None,
                success=False,
                severity="warning",
            ),
        ],
        result_path=tmp_path / "r.json",
        docs_path=tmp_path / "d.html",
        rows=12,
    )
    lineage.validated("lakefs://repo", "abc/data/b.parquet", report)
    (dataset,) = lineage.operator_lineage().inputs
    assertions = dataset.facets["dataQualityAssertions"].assertions
    assert [(a.assertion, a.success, a.column) for a in assertions] == [
        ("expect_column_values_to_not_be_null", True, "age"),
        ("expect_table_row_count_to_be_between", False, None),
    ]
    assert dataset.inputFacets["dataQualityMetrics"].rowCount == 12


def test_namespaces_name_the_system_without_credentials() -> None:
    from driftloop.versioning.lakefs import LakeFSVersionStore, lakefs_client

    lakefs = LakeFSVersionStore(
        client=lakefs_client("http://lakefs:8000", "key", "secret"), repository="prod"
    )
    assert store_namespace(lakefs) == "lakefs://prod"
    assert (
        registry_namespace("postgresql+psycopg2://user:secret@db:5432/registry")
        == "driftloop-registry://db:5432/registry"
    )
    assert registry_namespace("sqlite:////var/lib/registry.db") == (
        "driftloop-registry://localhost/var/lib/registry.db"
    )
