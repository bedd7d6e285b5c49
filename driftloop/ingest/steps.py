"""Write-audit-publish for one batch: stage it on its own branch, validate it, merge it to main.

Each function is one Airflow task's work. They are idempotent: a batch is keyed by its
dataset and its data interval (or its file's content), so re-running gives the same branch,
the same object and, once published, no second commit on ``main``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template

from driftloop.config import Settings
from driftloop.data.sources import (
    FileSource,
    Interval,
    open_source,
    read_parquet_bytes,
)
from driftloop.data.urls import substitute_url, url_secrets
from driftloop.exceptions import EmptyBatch
from driftloop.ingest.batch import (
    StagedBatch,
    batch_bytes,
    batch_key,
    data_path,
    ingest_branch,
    quarantine_object,
)
from driftloop.ingest.quarantine import quarantine_batch
from driftloop.lineage import code_version
from driftloop.spec import DatasetSpec, SourceSpec
from driftloop.validation.report import ValidationReport
from driftloop.validation.runner import validate_frame
from driftloop.versioning.base import VersionStore
from driftloop.versioning.transact import transact


def resolve_source(source: SourceSpec, settings: Settings) -> SourceSpec:
    """Expand ``${VARS}`` and anchor relative paths at the project.

    ``DRIFTLOOP_HOME`` and ``DRIFTLOOP_LANDING_DIR`` come from the settings, others from the
    environment. In a URL, values go in percent-encoded
    (:func:`~driftloop.data.urls.substitute_url`), so a password may hold ``@``, ``/`` or ``:``.
    """
    variables = {
        **os.environ,
        "DRIFTLOOP_HOME": str(settings.home_dir),
        "DRIFTLOOP_LANDING_DIR": str(settings.landing_dir),
    }
    update: dict[str, str] = {}
    if source.path:
        path = Path(Template(source.path).safe_substitute(variables))
        update["path"] = str(path if path.is_absolute() else settings.project_dir / path)
    if source.url:
        update["url"] = substitute_url(source.url, variables)
    return source.model_copy(update=update)


def source_secrets(source: SourceSpec, settings: Settings) -> list[str]:
    """What to mask wherever the resolved source might show: its URL's password, both forms.

    The source's own messages and :meth:`~driftloop.data.sources.Source.describe` mask it
    already; this is for a log that could show more (the operator registers them with
    Airflow's secrets masker).
    """
    return url_secrets(resolve_source(source, settings).url or "")


def given_file(path: str, settings: Settings) -> FileSource:
    """A file or glob named at run time, read only inside the landing zone and ingest roots.

    A relative path is taken from the landing zone. Unlike the spec's own source, written by
    the project's owner, such a path comes from whoever may trigger a run.
    """
    anchored = Path(path) if Path(path).is_absolute() else settings.landing_dir / path
    return FileSource(anchored, event_time_column=None, roots=settings.ingest_root_dirs)


def stage_batch(
    store: VersionStore,
    spec: DatasetSpec,
    *,
    settings: Settings,
    interval: Interval | None = None,
    path: str | None = None,
    run_id: str = "manual",
) -> StagedBatch:
    """Extract one batch and commit it as Parquet on its own ingest branch.

    Reads ``path`` when given (one file, see :func:`given_file`), otherwise the spec's source
    for ``interval``.

    Raises:
        EmptyBatch: the interval holds no rows.
        PathNotAllowed: ``path`` lies outside the landing zone and the ingest roots.
        DataSourceError: the source could not be read.
        VersioningError: the store failed.
    """
    source = (
        given_file(path, settings)
        if path
        else open_source(
            resolve_source(spec.source, settings), event_time_column=spec.event_time_column
        )
    )
    frame = source.read(None if path else interval)
    if not path and frame.empty:
        raise EmptyBatch(f"{source.describe()} has no rows in {interval}")
    data = batch_bytes(frame, spec)
    key = batch_key(interval=None if path else interval, file_bytes=data if path else None)
    branch, object_path = ingest_branch(spec.name, key), data_path(spec, key)

    metadata = {
        "dataset": spec.name,
        "source": source.describe(),
        "rows": str(len(frame)),
        "airflow_run_id": run_id,
        "code_version": code_version(settings.project_dir),
        "batch": key,
    }
    if interval is not None and not path:
        metadata |= {
            "interval_start": interval.start.isoformat(),
            "interval_end": interval.end.isoformat(),
        }
    store.ensure_repository(settings.main_branch)
    with transact(
        store,
        branch,
        source_ref=settings.main_branch,
        message=f"Stage batch {key} of {spec.name}",
        metadata=metadata,
    ) as tx:
        if tx.write_if_changed(object_path, data):
            # New data deserves a fresh verdict: the old quarantine note no longer applies.
            tx.delete(quarantine_object(spec.name, key), missing_ok=True)
    return StagedBatch(
        dataset=spec.name,
        key=key,
        branch=branch,
        path=object_path,
        commit_id=tx.commit_id,
        rows=len(frame),
        source=source.describe(),
        interval_start=metadata.get("interval_start"),
        interval_end=metadata.get("interval_end"),
        source_datasets=source.datasets(),
    )


def validate_batch(
    store: VersionStore, spec: DatasetSpec, batch: StagedBatch, *, settings: Settings
) -> ValidationReport:
    """Validate a staged batch with the dataset's GX suite; quarantine it when it fails.

    This is the one place that decides: a failed batch's reasons, GX result and Data Docs
    page are committed to its branch (``quarantine/<dataset>/<key>.json``), which stays as
    quarantine, and ``main`` is untouched. The report says which way it went
    (``report.success``); :meth:`ValidationReport.describe` words it.
    """
    frame = read_parquet_bytes(store.read_object(batch.commit_id, batch.path), label=batch.path)
    report = validate_frame(
        frame,
        spec=spec,
        suite_path=settings.suite_path,
        reports_dir=settings.reports_dir,
        run_name=batch.key,
        batch_label=f"{batch.source} ({batch.branch}@{batch.commit_id[:12]})",
    )
    if not report.success:
        quarantine_batch(store, batch, report)
    return report


def publish_batch(
    store: VersionStore,
    batch: StagedBatch,
    report_statistics: dict[str, object],
    *,
    settings: Settings,
    run_id: str,
    warnings: Sequence[Mapping[str, object]] = (),
) -> str:
    """Merge a validated batch into main and drop its branch; return main's head commit.

    ``warnings`` are the validation's warning-tier failures
    (:meth:`~driftloop.validation.report.ValidationReport.warning_records`): the batch is
    published with them in the merge commit's ``validation_warnings`` metadata, where
    ``driftloop ingest`` and the drift monitor read them.

    Re-publishing a batch that is already on main writes nothing and returns main's head.
    """
    metadata = {
        "dataset": batch.dataset,
        "source": batch.source,
        "rows": str(batch.rows),
        "batch": batch.key,
        "path": batch.path,
        "staged_commit": batch.commit_id,
        "airflow_run_id": run_id,
        "code_version": code_version(settings.project_dir),
        "validation": json.dumps(report_statistics, sort_keys=True),
        "validation_warnings": json.dumps(list(warnings), sort_keys=True),
    }
    if batch.interval_start:
        metadata |= {
            "interval_start": batch.interval_start,
            "interval_end": str(batch.interval_end),
        }
    head = store.merge(
        batch.commit_id,
        settings.main_branch,
        f"Publish batch {batch.key} of {batch.dataset}",
        metadata,
    )
    if store.branch_exists(batch.branch):
        store.delete_branch(batch.branch)
    return head
