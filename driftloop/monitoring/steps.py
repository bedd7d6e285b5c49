"""The monitoring loop's steps: profile published batches, check drift, keep the checkpoint.

Each function is one Airflow task's work (or one call from the train steps) and is
safe to repeat: profiles are keyed by batch, the reference by its data's content,
and the checkpoint only moves forward past profiles that were judged.

The checkpoint (``monitoring/<dataset>/checkpoint.json`` on the monitoring branch)
is the recording time of the newest profile already judged. It lives in the
versioned store rather than in Airflow (no Variables, no XCom from earlier runs),
so a check started by hand, by the CLI or by a backfill continues where the last
one stopped, and its history is in the branch's commits.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel

from driftloop.config.promotion import CHAMPION
from driftloop.exceptions import DriftCheckSkipped, ObjectNotFound, RefNotFound, RepositoryNotFound
from driftloop.monitoring.drift import DriftResult, score_drift, write_drift_report
from driftloop.monitoring.profiles import (
    ProfileRef,
    list_profiles,
    merge_profiles,
    profile_frame,
    profile_path,
    profile_uri,
    read_profile,
    read_profile_uri,
    write_profile,
)
from driftloop.versioning.transact import transact

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.config import Settings
    from driftloop.monitoring.drift import DriftScorer
    from driftloop.registry import Registry
    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import VersionStore


class Checkpoint(BaseModel):
    """Where the last drift check stopped."""

    since: datetime
    updated_at: datetime
    report: str | None = None


def checkpoint_path(dataset: str) -> str:
    """Where a dataset's checkpoint lives on the monitoring branch."""
    return f"monitoring/{dataset}/checkpoint.json"


def read_checkpoint(
    store: VersionStore, dataset: str, *, ref: str = "monitoring"
) -> datetime | None:
    """The recording time of the newest profile already judged; ``None`` before the first check.

    Raises:
        VersioningError: the store failed.
    """
    try:
        raw = store.read_object(ref, checkpoint_path(dataset))
    except (ObjectNotFound, RefNotFound, RepositoryNotFound):
        return None
    return Checkpoint.model_validate_json(raw).since


def write_checkpoint(
    store: VersionStore,
    dataset: str,
    since: datetime,
    *,
    branch: str = "monitoring",
    source_ref: str = "main",
    report: str | None = None,
) -> None:
    """Move the checkpoint to ``since`` and commit it; never moves it backwards.

    Raises:
        VersioningError: the store failed.
    """
    current = read_checkpoint(store, dataset, ref=branch)
    if current is not None and current >= since:
        return
    body = Checkpoint(since=since, updated_at=datetime.now(UTC), report=report)
    with transact(
        store,
        branch,
        source_ref=source_ref,
        message=f"Drift checkpoint of {dataset}",
        metadata={"since": since.isoformat()},
    ) as tx:
        tx.write(checkpoint_path(dataset), body.model_dump_json(indent=2).encode())


def settled_until(settings: Settings) -> datetime:
    """The newest recording time a profile may have to count now (see ``settle_seconds``)."""
    return datetime.now(UTC) - timedelta(seconds=settings.monitoring.settle_seconds)


def check_drift(
    store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    *,
    since: datetime | None,
    scorer: DriftScorer | None = None,
    against: int | None = None,
) -> DriftResult:
    """Score the profiles recorded after ``since`` against the champion's reference profile.

    ``against`` names another version whose reference profile to score against.

    Batch and serving profiles are merged into one target; the result, with its JSON
    and HTML report written to the monitoring branch, is returned. Profiles younger
    than ``monitoring.settle_seconds`` wait for the next check.

    Raises:
        DriftCheckSkipped: no profiles after ``since``, fewer new rows than the policy's
            ``min_rows``, no champion, or a champion without a reference profile. When
            the new profiles can never be judged (no reference to judge them by), the
            exception's ``consumed_until`` says how far the checkpoint may move.
        ProfileError: a stored profile or the reference is unreadable.
        RegistryError: the registry failed.
        VersioningError: the store failed.
    """
    monitoring = settings.monitoring
    profiles = list_profiles(
        store,
        dataset=spec.name,
        ref=monitoring.branch,
        since=since,
        until=settled_until(settings),
    )
    after = f"after {since.isoformat()}" if since else "yet"
    if not profiles:
        raise DriftCheckSkipped(f"no new batch or serving profiles of {spec.name!r} {after}")
    newest = profiles[-1].recorded_at
    reference_uri = _reference_uri(registry, spec.name, consumed_until=newest, version=against)
    rows = sum(p.rows for p in profiles)
    if rows < monitoring.policy.min_rows:
        raise DriftCheckSkipped(
            f"only {rows} new rows of {spec.name!r} {after} in {len(profiles)} profiles; "
            f"drift is judged from {monitoring.policy.min_rows} rows"
        )
    target = merge_profiles([read_profile(store, p, ref=monitoring.branch) for p in profiles])
    reference = read_profile_uri(store, reference_uri)
    result = score_drift(
        target,
        reference,
        spec,
        monitoring.policy,
        reference_id=reference_uri,
        target_ids=[p.path for p in profiles],
        scorer=scorer,
    )
    starts = [p.window_start for p in profiles if p.window_start]
    ends = [p.window_end for p in profiles if p.window_end]
    result = result.model_copy(
        update={
            "window_start": min(starts, default=None),
            "window_end": max(ends, default=None),
            "newest_profile_at": newest,
        }
    )
    return write_drift_report(
        store,
        result,
        target=target,
        reference=reference,
        branch=monitoring.branch,
        source_ref=settings.main_branch,
        scorer=scorer,
    )


def run_drift_check(
    store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    *,
    since: datetime | None = None,
    scorer: DriftScorer | None = None,
) -> DriftResult:
    """Check drift from the checkpoint (or ``since``) on, then move the checkpoint.

    The checkpoint moves past the judged profiles, and past profiles that can never
    be judged (there is no reference profile); it stays put while too few rows wait.

    Raises:
        DriftCheckSkipped: see :func:`check_drift`.
        ProfileError: a stored profile or the reference is unreadable.
        RegistryError: the registry failed.
        VersioningError: the store failed.
    """
    branch, main = settings.monitoring.branch, settings.main_branch
    start = since if since is not None else read_checkpoint(store, spec.name, ref=branch)
    try:
        result = check_drift(store, registry, spec, settings, since=start, scorer=scorer)
    except DriftCheckSkipped as skipped:
        if skipped.consumed_until is not None:
            write_checkpoint(
                store, spec.name, skipped.consumed_until, branch=branch, source_ref=main
            )
        raise
    if result.newest_profile_at is not None:
        write_checkpoint(
            store,
            spec.name,
            result.newest_profile_at,
            branch=branch,
            source_ref=main,
            report=result.report_json,
        )
    return result


def profile_new_batches(
    store: VersionStore, spec: DatasetSpec, settings: Settings
) -> list[ProfileRef]:
    """Profile every batch published on main that has no batch profile yet.

    A batch's window is the data interval in the metadata of the commit that published
    it (searched in the newest ``monitoring.batch_log_limit`` commits of main).

    Raises:
        DataSourceError: a published batch cannot be read.
        VersioningError: the store failed.
    """
    monitoring, main = settings.monitoring, settings.main_branch
    prefix = f"data/{spec.name}/"
    published = {
        o.path.removeprefix(prefix).removesuffix(".parquet"): o.path
        for o in store.list_objects(main, prefix)
        if o.path.endswith(".parquet") and "/" not in o.path.removeprefix(prefix)
    }
    missing = sorted(set(published) - _profiled_batches(store, spec.name, monitoring.branch))
    if not missing:
        return []
    from driftloop.data.sources import read_parquet_bytes

    commit = store.resolve(main)
    intervals = _batch_intervals(store, main, monitoring.batch_log_limit)
    written = []
    for key in missing:
        path = published[key]
        frame = read_parquet_bytes(store.read_object(commit, path), label=path)
        written.append(
            write_profile(
                store,
                dataset=spec.name,
                kind="batch",
                key=key,
                data=profile_frame(frame, spec, chunk_rows=monitoring.chunk_rows),
                rows=len(frame),
                window=intervals.get(key),
                branch=monitoring.branch,
                source_ref=main,
            )
        )
    return written


def reference_profile_for_training(
    store: VersionStore, spec: DatasetSpec, frame: pd.DataFrame, *, settings: Settings
) -> str:
    """Store the profile of a model's training data; return its commit-pinned URI.

    Give the URI to ``Registry.set_reference_profile``. The profile is keyed by the
    content of the profiled columns, so a retried task, or another model trained on
    the same data, reuses the stored profile instead of profiling again.

    Raises:
        ProfileError: the frame has no rows or none of the spec's columns.
        VersioningError: the store failed.
    """
    import pandas as pd

    monitoring = settings.monitoring
    columns = [c for c in [*spec.feature_names, spec.target] if c in frame.columns]
    hashed = pd.util.hash_pandas_object(frame[columns], index=False).to_numpy()
    key = hashlib.sha256(hashed.tobytes() + ",".join(columns).encode()).hexdigest()[:16]
    path = profile_path(spec.name, "reference", key)
    try:
        store.read_object(monitoring.branch, path)
    except (ObjectNotFound, RefNotFound):
        # write_profile creates the monitoring branch when it is missing.
        write_profile(
            store,
            dataset=spec.name,
            kind="reference",
            key=key,
            data=profile_frame(frame, spec, chunk_rows=monitoring.chunk_rows),
            rows=len(frame),
            branch=monitoring.branch,
            source_ref=settings.main_branch,
        )
    return profile_uri(store, store.resolve(monitoring.branch), path)


def _reference_uri(
    registry: Registry, model: str, *, consumed_until: datetime, version: int | None = None
) -> str:
    from driftloop.exceptions import VersionNotFound

    try:
        champion = (
            registry.get_version(model, version)
            if version is not None
            else registry.get_alias(model, CHAMPION)
        )
    except VersionNotFound:
        if version is not None:
            raise
        champion = None
    if champion is None:
        raise DriftCheckSkipped(
            f"model {model!r} has no champion yet: there is no reference to judge drift by",
            consumed_until=consumed_until,
        )
    if champion.reference_profile_uri is None:
        raise DriftCheckSkipped(
            f"champion version {champion.version} of {model!r} has no reference profile "
            "(training stores one with reference_profile_for_training); drift is not judged",
            consumed_until=consumed_until,
        )
    return champion.reference_profile_uri


def _profiled_batches(store: VersionStore, dataset: str, branch: str) -> set[str]:
    prefix = f"monitoring/{dataset}/batch/"
    try:
        listed = store.list_objects(branch, prefix)
    except (RefNotFound, RepositoryNotFound):
        return set()
    return {o.path.removeprefix(prefix).removesuffix(".bin") for o in listed}


def _batch_intervals(
    store: VersionStore, ref: str, limit: int
) -> dict[str, tuple[datetime, datetime]]:
    intervals = {}
    for commit in store.log(ref, limit=limit):
        meta = commit.metadata
        if {"batch", "interval_start", "interval_end"} <= meta.keys():
            intervals.setdefault(
                meta["batch"],
                (
                    datetime.fromisoformat(meta["interval_start"]),
                    datetime.fromisoformat(meta["interval_end"]),
                ),
            )
    return intervals
