"""Write-audit-publish operators: stage a batch, validate it, publish it.

Each ``execute()`` calls one function of :mod:`driftloop.ingest` and returns a small dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from airflow.sdk.log import mask_secret

from driftloop_provider.base import DriftloopBaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class StageBatchOperator(DriftloopBaseOperator):
    """Extract the data interval's batch (or one file) and commit it to its ingest branch.

    The branch is ``ingest-<dataset>-<batch>``.

    :param path: read this one file instead of the dataset's source (templated); absolute or
        relative to the landing zone, and refused, failing the task, outside the landing zone
        and the ``ingest_roots`` setting.
    """

    template_fields: Sequence[str] = ("path",)

    def __init__(self, *, path: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path

    def execute(self, context: Context) -> dict[str, Any]:
        """Stage the batch; return its branch, path, commit id and row count."""
        from driftloop.data.sources import Interval
        from driftloop.exceptions import ConfigError, DataSourceError, EmptyBatch, SourceUnavailable
        from driftloop.ingest.steps import source_secrets, stage_batch

        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        interval = Interval(start=start, end=end) if start and end and start < end else None
        if not self.path and interval is None:
            raise AirflowFailException(
                "this run has no data interval and no 'path': trigger it for a scheduled "
                "interval or give a file path in the run's conf"
            )
        if not self.path:
            # Whatever a driver or a traceback prints, the task log shows no password.
            for secret in source_secrets(self.spec.source, self.settings):
                mask_secret(secret)
        try:
            batch = stage_batch(
                self.store,
                self.spec,
                settings=self.settings,
                interval=interval,
                path=self.path or None,
                run_id=context["run_id"],
            )
        except EmptyBatch as empty:
            raise AirflowSkipException(str(empty)) from empty
        except SourceUnavailable:
            raise
        except (DataSourceError, ConfigError) as permanent:
            # A missing, empty or corrupt file will not heal by retrying.
            raise AirflowFailException(str(permanent)) from permanent
        for namespace, name in batch.source_datasets:
            self.lineage.read(namespace, name)
        self.log.info(
            "Staged %s rows of %s on %s@%s", batch.rows, batch.source, batch.branch, batch.commit_id
        )
        return batch.to_dict()


class ValidateBatchOperator(DriftloopBaseOperator):
    """Validate a staged batch with the dataset's GX suite; fail the run if it breaks any.

    On failure the task fails without retrying (the data will not change by retrying), the
    branch stays as quarantine with the reasons committed on it, and the full result is
    pushed to XCom under ``validation_result``.

    :param batch: the staged batch, as returned by :class:`StageBatchOperator` (templated).
    """

    template_fields: Sequence[str] = ("batch",)

    def __init__(self, *, batch: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch = batch

    def execute(self, context: Context) -> dict[str, Any]:
        """Validate; return the validation statistics and report paths."""
        from driftloop.ingest.batch import StagedBatch
        from driftloop.ingest.steps import validate_batch

        batch = StagedBatch(**self.batch)
        report = validate_batch(self.store, self.spec, batch, settings=self.settings)
        self.lineage.validated(self.store.namespace, f"{batch.commit_id}/{batch.path}", report)
        if not report.success:
            context["ti"].xcom_push(
                key="validation_result",
                value={
                    "quarantine_branch": batch.branch,
                    "statistics": report.statistics,
                    "failures": [f.model_dump(mode="json") for f in report.failures],
                    "result_path": str(report.result_path),
                    "docs_path": str(report.docs_path),
                },
            )
            raise AirflowFailException(
                f"{report.describe(batch.source)}\n"
                f"Quarantined on branch {batch.branch!r}; Data Docs: {report.docs_path}"
            )
        if report.warnings:
            self.log.warning("%s", report.describe(batch.source))
        return {
            "statistics": report.statistics,
            "warnings": report.warning_records(),
            "result_path": str(report.result_path),
            "docs_path": str(report.docs_path),
        }


class PublishBatchOperator(DriftloopBaseOperator):
    """Merge a validated batch into ``main``, drop its branch, and emit the data Asset event.

    :param batch: the staged batch (templated).
    :param validation: the validation result of :class:`ValidateBatchOperator` (templated).
    """

    template_fields: Sequence[str] = ("batch", "validation")

    def __init__(self, *, batch: Any, validation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch = batch
        self.validation = validation

    def execute(self, context: Context) -> dict[str, Any]:
        """Publish; return main's head commit id."""
        from driftloop.ingest.batch import StagedBatch
        from driftloop.ingest.steps import publish_batch

        batch = StagedBatch(**self.batch)
        head = publish_batch(
            self.store,
            batch,
            self.validation["statistics"],
            settings=self.settings,
            run_id=context["run_id"],
            warnings=self.validation.get("warnings", []),
        )
        event = {"commit_id": head, "path": batch.path, "rows": batch.rows, "batch": batch.key}
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = event
        self.log.info("Published %s to %s@%s", batch.path, self.settings.main_branch, head)
        return event
