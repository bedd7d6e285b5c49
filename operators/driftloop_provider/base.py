"""The base of every driftloop operator, and of yours: the task's driftloop, built once.

Subclass :class:`DriftloopBaseOperator` and call core functions from ``execute()``; the base
hands them what they need:

- ``self.settings`` and ``self.spec``: the configuration and the dataset spec;
- ``self.store``: the versioned store (local, or lakeFS from the settings or a connection);
- ``self.registry``: the model registry, its schema current;
- ``self.transact(branch, ...)``: a unit of work that writes to a branch and commits once.

Each is built on first use and kept for the task. The connection ids live here only:
``lakefs_conn_id`` and ``registry_conn_id`` (default: the settings' ``lakefs_conn_id`` and
``registry_conn_id``), which a DAG may set for all its tasks in ``default_args``.

What the task reads and writes through ``self.store`` reaches OpenLineage on its own
(:mod:`driftloop_provider.lineage`); ``self.lineage`` takes anything else it should report.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseBranchOperator, BaseOperator

from driftloop_provider.lineage import TaskLineage, recording

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from driftloop.config import Settings
    from driftloop.registry import Registry
    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import VersionStore
    from driftloop.versioning.transact import Transaction


class DriftloopResources:
    """The settings, spec, store and registry of one task, built on first use.

    Mixed in before an Airflow operator or sensor class, which gets the parameters:

    :param lakefs_conn_id: the lakeFS connection (default: the settings' ``lakefs_conn_id``,
        else the settings' lakeFS endpoint, else ``lakefs_default``).
    :param registry_conn_id: the registry connection (default: the settings'
        ``registry_conn_id``, else the settings' registry URL).
    """

    def __init__(
        self,
        *,
        lakefs_conn_id: str | None = None,
        registry_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Airflow passes the DAG's default_args down the __init__ chain; a mixin's own
        # parameters are not filled from them, so this picks them up.
        defaults = kwargs.get("default_args") or {}
        super().__init__(**kwargs)
        self.lakefs_conn_id = lakefs_conn_id or defaults.get("lakefs_conn_id")
        self.registry_conn_id = registry_conn_id or defaults.get("registry_conn_id")

    @cached_property
    def settings(self) -> Settings:
        """Driftloop's settings (``DRIFTLOOP_*``, ``driftloop.yaml``, secret files)."""
        from driftloop.config import get_settings

        return get_settings()

    @cached_property
    def spec(self) -> DatasetSpec:
        """The dataset spec the settings name."""
        from driftloop.spec import load_spec

        return load_spec(self.settings.dataset_spec_path)

    @cached_property
    def lineage(self) -> TaskLineage:
        """What this task read and wrote, for OpenLineage."""
        return TaskLineage()

    @cached_property
    def store(self) -> VersionStore:
        """The versioned store; what passes through it is noted in :attr:`lineage`."""
        from driftloop_provider.hooks.lakefs import version_store

        store = version_store(self.settings, lakefs_conn_id=self.lakefs_conn_id)
        return recording(store, self.lineage)

    @cached_property
    def registry_url(self) -> str:
        """The registry database's SQLAlchemy URL (from the connection or the settings)."""
        from driftloop_provider.hooks.registry import registry_url

        return registry_url(self.settings, registry_conn_id=self.registry_conn_id)

    @cached_property
    def registry(self) -> Registry:
        """The model registry, its schema migrated once per process when behind."""
        from driftloop.registry import open_registry

        return open_registry(self.registry_url)

    def transact(
        self,
        branch: str,
        *,
        message: str,
        source_ref: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> Transaction:
        """A unit of work on ``branch`` of :attr:`store`; its ``with`` block commits once.

        The branch is created from ``source_ref`` (default: the main branch) if missing.
        """
        from driftloop.versioning.transact import transact

        return transact(
            self.store,
            branch,
            source_ref=source_ref or self.settings.main_branch,
            message=message,
            metadata=metadata,
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """What the task read and wrote, for Airflow's OpenLineage listener."""
        return self.lineage.operator_lineage()

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage:
        """What a failed task had read and written (a quarantined batch's validation too)."""
        return self.lineage.operator_lineage()


class DriftloopBaseOperator(DriftloopResources, BaseOperator):
    """An operator on driftloop: subclass it, and call core functions in ``execute()``."""

    # Airflow wraps only an ``__init__`` a class defines itself, and expects every operator's
    # to be wrapped.
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)


class DriftloopBranchOperator(DriftloopResources, BaseBranchOperator):
    """A branching operator on driftloop: implement ``choose_branch()``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
