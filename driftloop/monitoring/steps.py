"""The monitoring loop's steps: profile published batches, check drift, keep the checkpoint.

Each function is one Airflow task's work (or one call from the train steps) and is
safe to repeat: profiles are keyed by batch, the reference by its data's content,
and the checkpoint only moves forward.

**The window.** A check judges one model version (the champion, or the version asked
for) on the data it has not been trained on, merged into one target:

- the profiles of the batches published after its training data: batches whose object
  is not in its data commit (``lineage.data_commit``). The batches it was trained on
  are never in the target, however recently they were profiled;
- the serving profiles of that version (their key carries it) recorded since it last
  became champion (the alias move in the registry's audit log).

The whole window is judged every time, whatever earlier checks saw of it, so a small
new batch is judged with the rest of the unseen data, never alone, and a window too
small to judge waits for more rather than being dropped. A drifted window stays in the
target until a model trained on it becomes champion.

**The checkpoint** (``monitoring/<dataset>/checkpoint.json`` on the monitoring branch)
only says *when* the monitor checks again: the recording time of the newest profile a
check has looked at. The sensor waits for a profile newer than it; a check whose new
profiles are all outside the window (the batches a new champion was trained on,
serving profiles of another version) skips and moves the checkpoint past them. It lives
in the versioned store rather than in Airflow (no Variables, no XCom from earlier runs),
so a check started by hand or by a backfill continues where the last one stopped, and its
history is in the branch's commits. ``driftloop drift check`` neither reads nor moves it.

**Settling.** A serving profile counts ``monitoring.settle_seconds`` after it was
recorded: several workers flush at once, and a profile stamped a moment before another's
may land after a check has moved the checkpoint past the other's stamp, and would never
wake the monitor. A check names the serving profiles of its window that are still
settling, with the time they will be ready, and the checkpoint stops just before the
oldest of them. Batch profiles count at once: one profile task writes each, right after
its batch is published (the ingest DAG runs one batch at a time, and the monitor
profiles before it waits), so none lands behind another writer's; and as the window does
not depend on the checkpoint, even a late one is in the next check's target. A published
batch that has no profile yet is named too.

**Validation warnings.** The profile task copies a batch's validation warnings (the
``validation_warnings`` metadata of its publish commit on main) into the batch profile's
entry: the publish commit is then near main's head, whereas a check would have to search
main's history for every batch of its window, however old; and the evidence travels
with the profile that is scored.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pydantic import BaseModel, TypeAdapter, ValidationError

from driftloop.config.promotion import CHAMPION
from driftloop.exceptions import (
    DriftCheckSkipped,
    MonitoringError,
    ObjectNotFound,
    ProfileError,
    RefNotFound,
    RepositoryNotFound,
)
from driftloop.monitoring.drift import (
    DriftResult,
    WaitingProfile,
    score_drift,
    write_drift_report,
)
from driftloop.monitoring.profiles import (
    TARGET_KINDS,
    IndexEntry,
    ProfileRef,
    ValidationWarning,
    list_index,
    merge_profiles,
    profile_frame,
    profile_path,
    profile_uri,
    read_entries,
    read_profile,
    read_profile_uri,
    write_profile,
)
from driftloop.versioning.transact import transact

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.config import Settings
    from driftloop.config.monitoring import MonitoringSettings
    from driftloop.monitoring.drift import DriftScorer, QualitySummary
    from driftloop.registry import ModelVersion, Registry
    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import VersionStore

log = logging.getLogger(__name__)

_WARNINGS = TypeAdapter(list[ValidationWarning])
_SETTLING = "still settling"


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
    """The recording time of the newest profile a check looked at; ``None`` before the first.

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


def ready_at(profile: IndexEntry | ProfileRef, monitoring: MonitoringSettings) -> datetime:
    """When a profile may be judged: a batch profile at once, a serving one once settled."""
    if profile.kind == "serving":
        return profile.recorded_at + timedelta(seconds=monitoring.settle_seconds)
    return profile.recorded_at


def check_drift(
    store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    *,
    since: datetime | None,
    scorer: DriftScorer | None = None,
    against: int | None = None,
    quality: QualitySummary | None = None,
) -> DriftResult:
    """Score the window of the champion (or of version ``against``) against its reference.

    The window, merged into one target, is the batch profiles of the batches the
    version was not trained on and its serving profiles since it went live (see the
    module's docstring). With ``since`` (the monitor's checkpoint), the window is judged
    only when one of its profiles was recorded after ``since``; without, it is judged now.
    The result, with its JSON and HTML report written to the monitoring branch, is
    returned; its ``newest_profile_at`` is where the monitor's checkpoint may move.
    ``quality``, the summary of a quality check run just before (the monitor DAG's), goes
    into the result and the report's "Model quality" section; ``None``: the section says
    quality was not scored in this check. It plays no part in the drift verdict.

    Raises:
        DriftCheckSkipped: nothing new after ``since``, an empty window, fewer rows in
            it than the policy's ``min_rows``, no champion, or a champion without a
            reference profile. The message names what waits (serving profiles still
            settling, with their ready time; batches not profiled yet); the exception's
            ``consumed_until`` says how far the checkpoint may move.
        MonitoringError: the store no longer has the version's training data commit.
        ProfileError: a stored profile or the reference is unreadable.
        RegistryError: the registry failed.
        VersioningError: the store failed.
    """
    monitoring = settings.monitoring
    now = datetime.now(UTC)
    index = [
        e
        for e in list_index(store, dataset=spec.name, ref=monitoring.branch)
        if e.kind in TARGET_KINDS
    ]
    ready = [e for e in index if ready_at(e, monitoring) <= now]
    if not any(since is None or e.recorded_at > since for e in ready):
        after = f"after {since.isoformat()}" if since else "yet"
        raise DriftCheckSkipped(
            f"no new batch or serving profiles of {spec.name!r} {after}"
            + _settling_note(index, since, monitoring, now)
        )
    consumed = ready[-1].recorded_at
    judged = _judged_version(registry, spec.name, version=against, consumed_until=consumed)
    window = _window(store, registry, spec, settings, judged, index=index, now=now)
    checkpoint = window.checkpoint(consumed)
    if not any(since is None or p.recorded_at > since for p in window.scored):
        news = f"nothing new after {since.isoformat()}" if since else "nothing to judge"
        raise DriftCheckSkipped(
            f"{news} in {window.describe()}{_waiting_note(window.waiting)}",
            consumed_until=checkpoint,
        )
    rows = sum(p.rows for p in window.scored)
    if rows < monitoring.policy.min_rows:
        raise DriftCheckSkipped(
            f"only {rows} rows in {window.describe()}; drift is judged from "
            f"{monitoring.policy.min_rows} rows, so they wait in the window for more"
            f"{_waiting_note(window.waiting)}",
            consumed_until=checkpoint,
        )
    target = merge_profiles([read_profile(store, p, ref=monitoring.branch) for p in window.scored])
    reference_uri = str(judged.reference_profile_uri)
    reference = read_profile_uri(store, reference_uri)
    batches = [p for p in window.scored if p.kind == "batch"]
    result = score_drift(
        target,
        reference,
        spec,
        monitoring.policy,
        reference_id=reference_uri,
        target_ids=[p.path for p in window.scored],
        validation_warnings={p.key: p.validation_warnings for p in batches},
        scorer=scorer,
    )
    result = result.model_copy(
        update={
            "window_start": min(
                (p.window_start for p in window.scored if p.window_start), default=None
            ),
            "window_end": max((p.window_end for p in window.scored if p.window_end), default=None),
            "newest_profile_at": checkpoint,
            "model_version": judged.version,
            "data_commit": judged.lineage.data_commit,
            "live_since": window.live_since,
            "trained_batches": window.trained_batches,
            "batches": batches,
            "serving": [p for p in window.scored if p.kind == "serving"],
            "waiting": window.waiting,
            # A retrain may have moved the champion between the two checks: the report
            # shows quality only for the version it judges.
            "quality": quality if quality and quality.model_version == judged.version else None,
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
    quality: QualitySummary | None = None,
) -> DriftResult:
    """Check the champion's window when something is new since the checkpoint (or ``since``).

    The checkpoint then moves past every profile the check looked at, judged or not
    (outside the window, or a window too small yet, which the next check judges whole
    with what comes next), except serving profiles still settling. It stays put when
    there was nothing new, or nothing ready. ``quality`` goes to the report, as in
    :func:`check_drift`.

    Raises:
        DriftCheckSkipped: see :func:`check_drift`.
        MonitoringError: the store no longer has the champion's training data commit.
        ProfileError: a stored profile or the reference is unreadable.
        RegistryError: the registry failed.
        VersioningError: the store failed.
    """
    branch, main = settings.monitoring.branch, settings.main_branch
    start = since if since is not None else read_checkpoint(store, spec.name, ref=branch)
    try:
        result = check_drift(
            store, registry, spec, settings, since=start, scorer=scorer, quality=quality
        )
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
    store: VersionStore, spec: DatasetSpec, settings: Settings, *, commit: str | None = None
) -> list[ProfileRef]:
    """Profile every batch published on main (as of ``commit``) that has no batch profile yet.

    A labels-only dataset (:attr:`~driftloop.spec.DatasetSpec.labels_only`) has no features
    to profile: nothing is written, and the ingest DAG's profile step sends no event, so a
    labels batch does not start a drift monitor run that would find nothing new to judge.

    A batch's window is the data interval in the metadata of the commit that published
    it, and its validation warnings that commit's ``validation_warnings`` (searched in
    the newest ``monitoring.batch_log_limit`` commits of main); both go into the
    profile's index entry.

    Args:
        store: the versioned store.
        spec: the dataset's spec.
        settings: driftloop's settings.
        commit: a commit of main's history, e.g. the one a publish returned (a re-run then
            profiles what that publish made visible); ``None``: main's head.

    Raises:
        DataSourceError: a published batch cannot be read.
        MonitoringError: ``commit`` is not in main's history.
        ProfileError: a publish commit's ``validation_warnings`` is not a JSON list of
            warnings.
        VersioningError: the store failed.
    """
    if spec.labels_only:
        log.info(
            "%s is a labels-only dataset (no features): its batches have nothing to profile "
            "for drift; no profile written",
            spec.name,
        )
        return []
    monitoring, main = settings.monitoring, settings.main_branch
    if commit is None:
        commit = store.resolve(main)
    elif not store.is_ancestor(commit, main):
        raise MonitoringError(
            f"commit {commit!r} is not in {main}'s history: only published batches are profiled"
        )
    published = _published_batches(store, spec.name, commit)
    missing = sorted(set(published) - _profiled_batches(store, spec.name, monitoring.branch))
    if not missing:
        return []
    from driftloop.data.sources import read_parquet_bytes

    publications = _publications(store, spec.name, commit, monitoring.batch_log_limit)
    written = []
    for key in missing:
        path = published[key]
        frame = read_parquet_bytes(store.read_object(commit, path), label=path)
        metadata = publications.get(key, {})
        written.append(
            write_profile(
                store,
                dataset=spec.name,
                kind="batch",
                key=key,
                data=profile_frame(frame, spec, chunk_rows=monitoring.chunk_rows),
                rows=len(frame),
                window=_interval(metadata),
                validation_warnings=_validation_warnings(metadata, key),
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


@dataclass(frozen=True)
class _Window:
    """What one check judges a model version on, and what it leaves out."""

    model: str
    version: ModelVersion
    live_since: datetime | None
    trained_batches: int
    scored: list[ProfileRef]
    settling: list[ProfileRef]
    waiting: list[WaitingProfile]

    def checkpoint(self, consumed: datetime) -> datetime:
        """How far the checkpoint may move: to ``consumed``, but not past a settling profile.

        A settling profile must still be newer than the checkpoint once it is ready, or
        it would never wake the monitor.
        """
        if not self.settling:
            return consumed
        return min(consumed, self.settling[0].recorded_at - timedelta(microseconds=1))

    def describe(self) -> str:
        """The window in words, for skip messages."""
        batches = sum(p.kind == "batch" for p in self.scored)
        serving = sum(p.kind == "serving" for p in self.scored)
        live = (
            f"since it went live at {self.live_since.isoformat(timespec='seconds')}"
            if self.live_since
            else "(it has never been champion)"
        )
        return (
            f"the window of version {self.version.version} of {self.model!r}: {batches} "
            f"batches published after its training data (commit "
            f"{self.version.lineage.data_commit[:12]}; its {self.trained_batches} batches "
            f"are left out) and {serving} serving windows {live}"
        )


def _window(
    store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    settings: Settings,
    judged: ModelVersion,
    *,
    index: list[IndexEntry],
    now: datetime,
) -> _Window:
    """The profiles of ``judged``'s window, split into ready, settling and unprofiled.

    Raises:
        MonitoringError: the store no longer has the version's training data commit.
        RegistryError: the registry failed.
        VersioningError: the store failed.
    """
    monitoring = settings.monitoring
    trained = trained_batches(store, spec, judged)
    live_since = _live_since(registry, spec.name, judged.version)
    # The service keys a serving profile <model>-v<version>-<interval start>-<worker>.
    serving_prefix = f"{spec.name}-v{judged.version}-"
    chosen = [
        e
        for e in index
        if (e.kind == "batch" and e.key not in trained)
        or (
            e.kind == "serving"
            and e.key.startswith(serving_prefix)
            and live_since is not None
            and e.recorded_at >= live_since
        )
    ]
    profiles = read_entries(store, chosen, ref=monitoring.branch)
    scored = [p for p in profiles if ready_at(p, monitoring) <= now]
    settling = [p for p in profiles if ready_at(p, monitoring) > now]
    profiled = {e.key for e in index if e.kind == "batch"}
    unprofiled = sorted(
        set(_published_batches(store, spec.name, settings.main_branch)) - trained - profiled
    )
    waiting = [
        WaitingProfile(
            kind=p.kind,
            key=p.key,
            reason=_SETTLING,
            rows=p.rows,
            ready_at=ready_at(p, monitoring),
        )
        for p in settling
    ] + [
        WaitingProfile(
            kind="batch",
            key=key,
            reason="published, not profiled yet (the ingest DAG's profile task or the "
            "monitor's profile_batches profiles it)",
        )
        for key in unprofiled
    ]
    return _Window(
        model=spec.name,
        version=judged,
        live_since=live_since,
        trained_batches=len(trained),
        scored=scored,
        settling=settling,
        waiting=waiting,
    )


def _settling_note(
    index: list[IndexEntry], since: datetime | None, monitoring: MonitoringSettings, now: datetime
) -> str:
    """The profiles newer than ``since`` that are not ready yet, for a skip message."""
    return _waiting_note(
        [
            WaitingProfile(
                kind=e.kind, key=e.key, reason=_SETTLING, ready_at=ready_at(e, monitoring)
            )
            for e in index
            if (since is None or e.recorded_at > since) and ready_at(e, monitoring) > now
        ]
    )


def _waiting_note(waiting: list[WaitingProfile]) -> str:
    """What waits, appended to a skip message; empty when nothing does."""
    return "; not scored yet: " + "; ".join(w.describe() for w in waiting) if waiting else ""


def _judged_version(
    registry: Registry, model: str, *, version: int | None, consumed_until: datetime
) -> ModelVersion:
    """The version to judge drift for: ``version``, else the champion; it has a reference.

    Raises:
        DriftCheckSkipped: no champion, or the version has no reference profile.
        VersionNotFound: ``version`` does not exist.
        RegistryError: the registry failed.
    """
    from driftloop.exceptions import VersionNotFound

    try:
        judged = (
            registry.get_version(model, version)
            if version is not None
            else registry.get_alias(model, CHAMPION)
        )
    except VersionNotFound:
        if version is not None:
            raise
        judged = None
    if judged is None:
        raise DriftCheckSkipped(
            f"model {model!r} has no champion yet: there is no reference to judge drift by",
            consumed_until=consumed_until,
        )
    if judged.reference_profile_uri is None:
        raise DriftCheckSkipped(
            f"champion version {judged.version} of {model!r} has no reference profile "
            "(training stores one with reference_profile_for_training); drift is not judged",
            consumed_until=consumed_until,
        )
    return judged


def _live_since(registry: Registry, model: str, version: int) -> datetime | None:
    """When ``version`` last became champion; ``None`` if it never was."""
    moves = [m for m in registry.audit_log(model, CHAMPION) if m.to_version == version]
    return moves[-1].at if moves else None


def trained_batches(store: VersionStore, spec: DatasetSpec, version: ModelVersion) -> set[str]:
    """The batches on the commit ``version`` was trained on.

    Raises:
        MonitoringError: the store no longer has that commit.
        VersioningError: the store failed.
    """
    commit = version.lineage.data_commit
    try:
        return set(_published_batches(store, spec.name, commit))
    except RefNotFound as missing:
        raise MonitoringError(
            f"version {version.version} of {spec.name!r} was trained on commit {commit}, which "
            "the store does not have: its training batches cannot be told from new ones"
        ) from missing


def _published_batches(store: VersionStore, dataset: str, ref: str) -> dict[str, str]:
    """The batches published at ``ref``: batch key → object path.

    Raises:
        RefNotFound: no such ref.
        VersioningError: the store failed.
    """
    prefix = f"data/{dataset}/"
    return {
        o.path.removeprefix(prefix).removesuffix(".parquet"): o.path
        for o in store.list_objects(ref, prefix)
        if o.path.endswith(".parquet") and "/" not in o.path.removeprefix(prefix)
    }


def _profiled_batches(store: VersionStore, dataset: str, branch: str) -> set[str]:
    prefix = f"monitoring/{dataset}/batch/"
    try:
        listed = store.list_objects(branch, prefix)
    except (RefNotFound, RepositoryNotFound):
        return set()
    return {o.path.removeprefix(prefix).removesuffix(".bin") for o in listed}


def _publications(
    store: VersionStore, dataset: str, ref: str, limit: int
) -> dict[str, dict[str, str]]:
    """The metadata of the newest commit naming each batch of ``dataset``: its publish merge.

    Another dataset's batch of the same interval has the same key, so its commits are skipped.
    """
    from driftloop.data.published import names_batch_of

    publications: dict[str, dict[str, str]] = {}
    for commit in store.log(ref, limit=limit):
        if "batch" in commit.metadata and names_batch_of(commit.metadata, dataset):
            publications.setdefault(commit.metadata["batch"], commit.metadata)
    return publications


def _interval(metadata: dict[str, str]) -> tuple[datetime, datetime] | None:
    if not {"interval_start", "interval_end"} <= metadata.keys():
        return None
    return (
        datetime.fromisoformat(metadata["interval_start"]),
        datetime.fromisoformat(metadata["interval_end"]),
    )


def _validation_warnings(metadata: dict[str, str], batch: str) -> list[ValidationWarning]:
    """The warnings a publish commit recorded (absent or ``[]``: none).

    Raises:
        ProfileError: the value is not a JSON list of warnings.
    """
    raw = metadata.get("validation_warnings")
    if not raw:
        return []
    try:
        return _WARNINGS.validate_json(raw)
    except ValidationError as bad:
        raise ProfileError(
            f"the publish commit of batch {batch} records validation_warnings that are not "
            f"a JSON list of {{column, expectation, rule, message}}: {bad}"
        ) from bad
