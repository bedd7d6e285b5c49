"""Operators of ``driftloop_train``: resolve the data ref, train, register, decide, promote.

Each ``execute()`` calls one function of :mod:`driftloop.training.steps`; the run id keys
every write, so a retried task changes nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from driftloop_provider.base import DriftloopBaseOperator, DriftloopBranchOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

ACTOR = "airflow:driftloop_train"


class ResolveDataRefOperator(DriftloopBaseOperator):
    """Pin the data: resolve a ref (branch, tag or commit) to one commit id for the whole run.

    :param data_ref: the ref to resolve (templated).
    """

    template_fields: Sequence[str] = ("data_ref",)

    def __init__(self, *, data_ref: str = "main", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_ref = data_ref

    def execute(self, context: Context) -> dict[str, str]:
        """Return ``{"data_ref": ..., "data_commit": ...}``."""
        from driftloop.exceptions import RefNotFound

        try:
            commit = self.store.resolve(self.data_ref)
        except RefNotFound as missing:
            raise AirflowFailException(f"data ref {self.data_ref!r} does not exist") from missing
        self.log.info("Training data pinned: %s -> %s", self.data_ref, commit)
        return {"data_ref": self.data_ref, "data_commit": commit}


class TrainModelOperator(DriftloopBaseOperator):
    """Train on the pinned commit; score challenger and champion on the same holdout rows.

    The commit must be on the main branch (published data) unless
    ``allow_unpublished_data`` is true; such a version is never promoted automatically.

    :param data: output of :class:`ResolveDataRefOperator` (templated).
    :param overrides: training parameters that replace the defaults (templated).
    :param allow_unpublished_data: train on a commit off main, e.g. a quarantined batch's
        branch (templated; must render to a boolean).
    :param engine: ``local`` or ``dask`` (templated; empty: the settings' ``training_engine``).
    :param dask_conn_id: the Dask connection of the ``dask`` engine (default: the settings'
        ``dask_conn_id``, else ``dask.scheduler_address``, else ``dask_default``).
    """

    template_fields: Sequence[str] = ("data", "overrides", "allow_unpublished_data", "engine")

    def __init__(
        self,
        *,
        data: Any,
        overrides: dict[str, Any] | None = None,
        allow_unpublished_data: bool | str = False,
        engine: str | None = None,
        dask_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data = data
        self.overrides = overrides or {}
        self.allow_unpublished_data = allow_unpublished_data
        self.engine = engine
        self.dask_conn_id = dask_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        """Return the candidate: metrics, champion metrics, artifact location and checksum."""
        from pydantic import ValidationError

        from driftloop.config.training import TRAINING_ENGINES
        from driftloop.exceptions import SchemaMismatch, TrainingError
        from driftloop.training import TrainingParams
        from driftloop.training.steps import train_candidate

        try:
            params = TrainingParams(
                **{k: v for k, v in self.overrides.items() if v not in (None, "")}
            )
        except ValidationError as bad:
            raise AirflowFailException(f"invalid training parameters: {bad}") from bad
        if not isinstance(self.allow_unpublished_data, bool):
            raise AirflowFailException(
                f"allow_unpublished_data must be true or false, not {self.allow_unpublished_data!r}"
            )
        engine = self.engine or self.settings.training_engine
        if engine not in TRAINING_ENGINES:
            raise AirflowFailException(
                f"engine {engine!r} is not one of {', '.join(TRAINING_ENGINES)}"
            )
        # An unreachable cluster (ClusterUnavailable) is worth a retry: it is not caught.
        cluster = None
        if engine == "dask":
            from driftloop_provider.hooks.dask import dask_client

            cluster = dask_client(self.settings, dask_conn_id=self.dask_conn_id)
        try:
            candidate = train_candidate(
                self.store,
                self.registry,
                self.spec,
                settings=self.settings,
                data_ref=self.data["data_ref"],
                data_commit=self.data["data_commit"],
                run_key=context["run_id"],
                params=params,
                allow_unpublished_data=self.allow_unpublished_data,
                cluster=cluster,
            )
        except (TrainingError, SchemaMismatch) as refused:
            raise AirflowFailException(f"{refused}; the champion stays where it was") from refused
        finally:
            if cluster is not None:
                cluster.close()
        self.log.info("Trained on %s (%s workers)", candidate.engine, candidate.workers)
        self.log.info(
            "Challenger metrics: %s; champion: %s", candidate.metrics, candidate.champion_metrics
        )
        return candidate.model_dump()


class RegisterModelOperator(DriftloopBaseOperator):
    """Register the candidate as the next version, with its lineage (idempotent per run).

    :param candidate: output of :class:`TrainModelOperator` (templated).
    """

    template_fields: Sequence[str] = ("candidate",)

    def __init__(self, *, candidate: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.candidate = candidate

    def execute(self, context: Context) -> dict[str, Any]:
        """Return ``{"model": ..., "version": ...}``."""
        from driftloop.exceptions import RegistryConflict
        from driftloop.training.steps import Candidate, register_candidate

        try:
            version = register_candidate(
                self.registry,
                self.store,
                self.spec,
                Candidate(**self.candidate),
                settings=self.settings,
                created_by=ACTOR,
            )
        except RegistryConflict as reused:
            # Retrying cannot help: the run id names another version already.
            raise AirflowFailException(str(reused)) from reused
        self.lineage.model_version(self.registry_url, version.model, version.version)
        self.log.info("Registered %s version %s", version.model, version.version)
        return {"model": version.model, "version": version.version}


class DecidePromotionOperator(DriftloopBranchOperator):
    """Apply the promotion policy and mode, record the decision, and pick the next task.

    Follows ``promote_task_id`` when the policy promotes in ``auto`` mode,
    ``approval_task_id`` in ``require_approval`` mode, and nothing otherwise.

    :param candidate: output of :class:`TrainModelOperator` (templated).
    :param registered: output of :class:`RegisterModelOperator` (templated).
    :param mode: ``auto``, ``require_approval`` or ``never`` (templated).
    """

    template_fields: Sequence[str] = ("candidate", "registered", "mode")

    def __init__(
        self,
        *,
        candidate: Any,
        registered: Any,
        mode: str = "auto",
        promote_task_id: str = "auto_approve",
        approval_task_id: str = "approve",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.candidate = candidate
        self.registered = registered
        self.mode = mode
        self.promote_task_id = promote_task_id
        self.approval_task_id = approval_task_id

    def choose_branch(self, context: Context) -> str | list[str]:
        """Record the decision; return the task to follow."""
        from driftloop.config.promotion import PROMOTION_MODES
        from driftloop.training.steps import Candidate, decide_promotion

        if self.mode not in PROMOTION_MODES:
            raise AirflowFailException(
                f"promotion mode {self.mode!r} is not one of {', '.join(PROMOTION_MODES)}"
            )
        version = self.registry.get_version(self.registered["model"], self.registered["version"])
        decision = decide_promotion(
            self.registry,
            version,
            Candidate(**self.candidate),
            policy=self.settings.promotion,
            mode=self.mode,  # type: ignore[arg-type]
            actor=ACTOR,
        )
        context["ti"].xcom_push(
            key="decision",
            value={
                "promote": decision.promote,
                "reason": decision.reason,
                "compared_with": self.candidate["champion_version"],
            },
        )
        self.log.info(
            "Promotion decision for version %s: %s (%s)",
            version.version,
            decision.promote,
            decision.reason,
        )
        if not decision.promote:
            return []
        return self.approval_task_id if self.mode == "require_approval" else self.promote_task_id


class PromoteModelOperator(DriftloopBaseOperator):
    """Move ``champion`` to the registered version in one audited transaction.

    :param registered: output of :class:`RegisterModelOperator` (templated).
    :param decision: the decision pushed by :class:`DecidePromotionOperator` (templated).
    """

    template_fields: Sequence[str] = ("registered", "decision")

    def __init__(self, *, registered: Any, decision: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registered = registered
        self.decision = decision

    def execute(self, context: Context) -> dict[str, Any]:
        """Return the new and the previous champion version."""
        from driftloop.exceptions import AliasMoved
        from driftloop.training.steps import promote_version

        if not (self.decision or {}).get("promote"):
            raise AirflowSkipException(f"not promoting: {(self.decision or {}).get('reason')}")
        version = self.registry.get_version(self.registered["model"], self.registered["version"])
        try:
            previous = promote_version(
                self.registry,
                version,
                reason=self.decision["reason"],
                evidence={"decision": self.decision, "airflow_run_id": context["run_id"]},
                actor=ACTOR,
                run_key=context["run_id"],
                compared_with=self.decision.get("compared_with"),
            )
        except AliasMoved as moved:
            # Not worth retrying: the challenger must be compared with the new champion.
            raise AirflowFailException(f"{moved}; retrain to compare with it") from moved
        self.lineage.model_version(self.registry_url, version.model, version.version)
        self.log.info("champion: %s -> %s", previous, version.version)
        result = {"model": version.model, "champion": version.version, "previous": previous}
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = result
        return result


class PackageModelOperator(DriftloopBaseOperator):
    """Build the Bento of a promoted version and commit its archive beside the model.

    The model comes from the store, its checksum checked; any machine can import the archive.

    :param registered: output of :class:`RegisterModelOperator` (templated).
    """

    template_fields: Sequence[str] = ("registered",)

    def __init__(self, *, registered: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registered = registered

    def execute(self, context: Context) -> dict[str, Any]:
        """Return the Bento tag and where its archive is in the store."""
        from bento.packaging import package_version

        version = self.registry.get_version(self.registered["model"], self.registered["version"])
        tag, archive = package_version(self.settings, version, self.store)
        self.log.info("Built Bento %s for version %s; archive %s", tag, version.version, archive)
        return {
            "bento": tag,
            "archive": archive,
            "model": version.model,
            "version": version.version,
        }
