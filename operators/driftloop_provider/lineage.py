"""OpenLineage for driftloop's operators: what a task read and wrote, recorded as it happens.

An operator built on :class:`~driftloop_provider.base.DriftloopBaseOperator` reads and writes
the store through a :class:`RecordingStore`, which notes every object read, every object
written and the commit that sealed it. The base operator hands the notes to Airflow's
OpenLineage listener (``get_openlineage_facets_on_complete``), so a custom operator reports
its lineage without writing any code for it.

Naming (lakeFS has no official OpenLineage naming; this is driftloop's):

- an object of the versioned store: namespace ``lakefs://<repository>`` (the embedded local
  store: ``driftloop-local://<repository>``), name ``<ref>/<path>``, where ``<ref>`` is the
  branch or commit id the task used; the commit read or written is the dataset's version
  (``version`` facet);
- a source file: namespace ``file``, name its absolute path; a source table: namespace
  ``<scheme>://<host>:<port>``, name ``<database>.<table>`` (OpenLineage's own naming);
- a model version: namespace ``driftloop-registry://<host>[:<port>]/<database>`` (the
  registry's database, without credentials), name ``<model>/versions/<version>``.

A validated batch carries the suite's results as a ``dataQualityAssertions`` facet.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from driftloop.validation.report import ValidationReport
    from driftloop.versioning.base import Commit, ObjectInfo, ObjectLocations, VersionStore

DatasetKey = tuple[str, str]


def store_namespace(store: VersionStore) -> str:
    """The OpenLineage namespace of a version store's objects."""
    store = store.inner if isinstance(store, RecordingStore) else store
    # A lakeFS store exists only once its module is imported: asking the module already
    # loaded spares a task on the local store lakeFS's SDK import (about 0.7 s).
    lakefs = sys.modules.get("driftloop.versioning.lakefs")
    is_lakefs = lakefs is not None and isinstance(store, lakefs.LakeFSVersionStore)
    return f"{'lakefs' if is_lakefs else 'driftloop-local'}://{store.repository}"


def registry_namespace(url: str) -> str:
    """The OpenLineage namespace of a registry's models: its database, without credentials."""
    from sqlalchemy import make_url

    parsed = make_url(url)
    location = parsed.host or "localhost"
    location += f":{parsed.port}" if parsed.port else ""
    return f"driftloop-registry://{location}/{(parsed.database or '').lstrip('/')}"


class TaskLineage:
    """The datasets one task instance read and wrote, with their facets."""

    def __init__(self) -> None:
        self.inputs: dict[DatasetKey, dict[str, Any]] = {}
        self.outputs: dict[DatasetKey, dict[str, Any]] = {}

    def read(self, namespace: str, name: str, **facets: Any) -> None:
        """Note an input dataset (facets by name merge into any noted before)."""
        self.inputs.setdefault((namespace, name), {}).update(facets)

    def wrote(self, namespace: str, name: str, **facets: Any) -> None:
        """Note an output dataset (facets by name merge into any noted before)."""
        self.outputs.setdefault((namespace, name), {}).update(facets)

    def validated(self, namespace: str, name: str, report: ValidationReport) -> None:
        """Attach a validation's outcome to an input: its assertions and its row count."""
        from openlineage.client.generated.data_quality_assertions_dataset import (
            Assertion,
            DataQualityAssertionsDatasetFacet,
        )
        from openlineage.client.generated.data_quality_metrics_input_dataset import (
            DataQualityMetricsInputDatasetFacet,
        )

        assertions = [
            Assertion(assertion=check.expectation, success=check.success, column=check.column)
            for check in report.checks
        ]
        self.read(
            namespace,
            name,
            dataQualityAssertions=DataQualityAssertionsDatasetFacet(assertions=assertions),
            dataQualityMetrics=DataQualityMetricsInputDatasetFacet(
                rowCount=report.rows, columnMetrics={}
            ),
        )

    def model_version(self, registry_url: str, model: str, version: int) -> None:
        """Note a registered model version as an output."""
        self.wrote(registry_namespace(registry_url), f"{model}/versions/{version}")

    def operator_lineage(self) -> OperatorLineage:
        """The notes as the OpenLineage provider expects them from an operator."""
        from airflow.providers.openlineage.extractors import OperatorLineage
        from openlineage.client.event_v2 import InputDataset, OutputDataset

        split = _split_facets
        return OperatorLineage(
            inputs=[
                InputDataset(namespace=ns, name=name, facets=split(f)[0], inputFacets=split(f)[1])
                for (ns, name), f in self.inputs.items()
            ],
            outputs=[
                OutputDataset(namespace=ns, name=name, facets=split(f)[0])
                for (ns, name), f in self.outputs.items()
            ],
        )


_INPUT_FACETS = {"dataQualityMetrics"}


def _split_facets(facets: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    dataset = {k: v for k, v in facets.items() if k not in _INPUT_FACETS}
    return dataset, {k: v for k, v in facets.items() if k in _INPUT_FACETS}


def _version(commit_id: str) -> Any:
    from openlineage.client.generated.dataset_version_dataset import DatasetVersionDatasetFacet

    return DatasetVersionDatasetFacet(datasetVersion=commit_id)


class RecordingStore:
    """A version store that notes what a task reads and writes in a :class:`TaskLineage`.

    Every call goes to the wrapped store; reads, writes, commits and merges are also noted.
    ``namespace`` is the OpenLineage namespace of its objects.
    """

    def __init__(self, inner: VersionStore, lineage: TaskLineage) -> None:
        self.inner = inner
        self.lineage = lineage
        self.namespace = store_namespace(inner)
        self._staged: dict[str, set[str]] = {}
        self._read_at: dict[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def read_object(self, ref: str, path: str) -> bytes:
        """Read through the store; note the object as an input at the ref's commit."""
        data = self.inner.read_object(ref, path)
        if ref not in self._read_at:
            self._read_at[ref] = self.inner.resolve(ref)
        self.lineage.read(self.namespace, f"{ref}/{path}", version=_version(self._read_at[ref]))
        return data

    def locate_objects(self, ref: str, prefix: str = "") -> ObjectLocations:
        """Locate through the store; the located objects are read elsewhere (Dask workers)."""
        located = self.inner.locate_objects(ref, prefix)
        for obj in located.objects:
            self.lineage.read(
                self.namespace, f"{ref}/{obj.path}", version=_version(located.commit_id)
            )
        return located

    def write_object(self, branch: str, path: str, data: bytes) -> ObjectInfo:
        """Write through the store; the object becomes an output when committed."""
        info = self.inner.write_object(branch, path, data)
        self._staged.setdefault(branch, set()).add(path)
        return info

    def write_if_changed(self, branch: str, path: str, data: bytes) -> bool:
        """Write unless unchanged; either way the object is this task's output."""
        wrote = self.inner.write_if_changed(branch, path, data)
        self._staged.setdefault(branch, set()).add(path)
        return wrote

    def commit(self, branch: str, message: str, metadata: dict[str, str] | None = None) -> Commit:
        """Commit; note the branch's written objects as outputs at the new commit."""
        commit = self.inner.commit(branch, message, metadata)
        self._sealed(branch, commit.id)
        return commit

    def resolve(self, ref: str) -> str:
        """Resolve; a branch with nothing new to commit seals its writes at its head."""
        commit_id = self.inner.resolve(ref)
        if ref in self._staged and not self.inner.uncommitted(ref):
            self._sealed(ref, commit_id)
        return commit_id

    def merge(
        self,
        source_ref: str,
        destination_branch: str,
        message: str,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Merge; note what the source brings as inputs and, on the destination, outputs."""
        brought = [c.path for c in self.inner.diff(destination_branch, source_ref)]
        source_commit = self.inner.resolve(source_ref)
        head = self.inner.merge(source_ref, destination_branch, message, metadata)
        for path in brought:
            self.lineage.read(
                self.namespace, f"{source_ref}/{path}", version=_version(source_commit)
            )
            self.lineage.wrote(
                self.namespace, f"{destination_branch}/{path}", version=_version(head)
            )
        return head

    def _sealed(self, branch: str, commit_id: str) -> None:
        for path in sorted(self._staged.pop(branch, ())):
            self.lineage.wrote(self.namespace, f"{branch}/{path}", version=_version(commit_id))


def recording(store: VersionStore, lineage: TaskLineage) -> VersionStore:
    """``store``, noting what passes through it in ``lineage``."""
    from driftloop.versioning.base import VersionStore

    VersionStore.register(RecordingStore)
    return RecordingStore(store, lineage)  # type: ignore[return-value]
