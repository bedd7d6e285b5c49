"""Data profiles: build them from frames (whylogs behind a small port), merge them, store them.

A profile is a whylogs ``DatasetProfileView`` serialised to bytes: mergeable sketches
(counts, KLL quantiles, frequent items, HyperLogLog) of the spec's features and target.

Store layout, on the monitoring branch (created from main on first use)::

    monitoring/<dataset>/<kind>/<key>.bin                      the profile
    monitoring/<dataset>/index/<recorded>~<kind>~<key>.json    one small entry per write

Each write adds its own index entry instead of rewriting one shared index, so
concurrent writers (ingest tasks, serving workers) never lose each other's
entries. An entry's name says when, which kind and which key, so choosing profiles
("newer than X", "batches a model was not trained on") is one listing, and only the
chosen entries are read (:func:`list_index`, :func:`read_entries`).

A batch profile's entry also carries the validation warnings its publish commit recorded
(``validation_warnings`` in the commit's metadata), the drift check's evidence that
the batch changed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import reduce
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from driftloop.exceptions import (
    ObjectNotFound,
    ProfileError,
    RefNotFound,
    RepositoryNotFound,
)
from driftloop.versioning.transact import transact

if TYPE_CHECKING:
    import pandas as pd
    from whylogs.core.view.dataset_profile_view import DatasetProfileView

    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import VersionStore

ProfileKind = Literal["batch", "serving", "reference"]
TARGET_KINDS: tuple[ProfileKind, ...] = ("batch", "serving")
"""The kinds drift is checked on: what the data looks like now, not what a model learned."""

DEFAULT_CHUNK_ROWS = 250_000
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_STAMP = "%Y%m%dT%H%M%S%fZ"
_URI = re.compile(r"^lakefs://(?P<repository>[^/]+)/(?P<ref>[^/]+)/(?P<path>.+)$")


class Profiler(Protocol):
    """Builds and merges serialised data profiles; whylogs is the one backend today."""

    def profile(self, frame: pd.DataFrame, spec: DatasetSpec) -> bytes:
        """Profile the spec's feature and target columns of ``frame``."""
        ...

    def merge(self, profiles: Sequence[bytes]) -> bytes:
        """Merge profiles into one, as if their rows had been profiled together."""
        ...


class WhylogsProfiler:
    """Profiles with whylogs, several times faster than a bare ``why.log`` on the same frame.

    ``why.log`` inspects the type of every value in Python: per-value checks for
    infinity on float columns, and for every type on object columns. Here categories
    become pandas ``string`` columns (checked as a whole), and the finite values of a
    float column go through whylogs' documented homogeneous-column path while its
    missing and infinite values take the ordinary path; the two partial profiles merge
    into exactly what ``why.log`` counts. Frames are converted and profiled ``chunk_rows``
    at a time and merged, so the conversions never hold more than one chunk.
    """

    def __init__(self, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:
        self.chunk_rows = chunk_rows

    def profile(self, frame: pd.DataFrame, spec: DatasetSpec) -> bytes:
        """Profile the spec's feature and target columns of ``frame``.

        Categorical features and the target are profiled as text, so drift on them is
        scored with chi-square even when they are integer-coded.

        Raises:
            ProfileError: the frame has no rows or none of the spec's columns.
        """
        columns = _columns(frame, spec)
        views = (
            _chunk_view(_prepared(frame.iloc[start : start + self.chunk_rows], columns), spec)
            for start in range(0, len(frame), self.chunk_rows)
        )
        return reduce(lambda merged, view: merged.merge(view), views).serialize()

    def merge(self, profiles: Sequence[bytes]) -> bytes:
        """Merge serialised profiles into one.

        Raises:
            ProfileError: no profiles were given, or one of them is not a profile.
        """
        if not profiles:
            raise ProfileError("there are no profiles to merge")
        views = (read_view(data) for data in profiles)
        return reduce(lambda merged, view: merged.merge(view), views).serialize()


def profile_frame(
    frame: pd.DataFrame, spec: DatasetSpec, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> bytes:
    """Profile ``frame``'s feature and target columns with the whylogs backend.

    Raises:
        ProfileError: the frame has no rows or none of the spec's columns.
    """
    return WhylogsProfiler(chunk_rows=chunk_rows).profile(frame, spec)


def merge_profiles(profiles: Sequence[bytes]) -> bytes:
    """Merge serialised profiles into one.

    Raises:
        ProfileError: no profiles were given, or one of them is not a profile.
    """
    return WhylogsProfiler().merge(profiles)


def read_view(data: bytes) -> DatasetProfileView:
    """Deserialise a whylogs profile view.

    Raises:
        ProfileError: the bytes are not a whylogs profile.
    """
    from whylogs.core.view.dataset_profile_view import DatasetProfileView

    try:
        return DatasetProfileView.deserialize(data)
    except Exception as exc:  # whylogs raises bare and assorted errors on bad bytes
        raise ProfileError(f"not a whylogs profile ({len(data)} bytes): {exc}") from exc


def _columns(frame: pd.DataFrame, spec: DatasetSpec) -> dict[str, str | None]:
    """The columns to profile, each with the dtype that turns it into text, if any.

    A float column of categories whose present values are all whole numbers (integer codes
    that read back as floats because of a missing value) goes through ``Int64``, so ``3``
    becomes "3", not "3.0". That is decided on the whole column, so every chunk agrees.

    Raises:
        ProfileError: the frame has no rows or none of the spec's columns.
    """
    import pandas as pd

    wanted = [*spec.feature_names, spec.target]
    columns = [c for c in wanted if c in frame.columns]
    if not columns:
        raise ProfileError(f"nothing to profile: the frame has none of the columns {wanted}")
    if frame.empty:
        raise ProfileError("nothing to profile: the frame has no rows")
    textual = {f.name for f in spec.features if f.kind == "categorical"} | {spec.target}
    plan: dict[str, str | None] = {}
    for column in columns:
        values = frame[column]
        if column not in textual:
            plan[column] = None
        elif pd.api.types.is_float_dtype(values.dtype) and _whole(values):
            plan[column] = "Int64"
        else:
            plan[column] = "string"
    return plan


def _whole(values: pd.Series) -> bool:
    present = values.dropna()
    return bool((present == present.round()).all())


def _prepared(chunk: pd.DataFrame, columns: dict[str, str | None]) -> pd.DataFrame:
    """The chunk's columns to profile, categories as text (chi-square, not KS, for codes)."""
    import pandas as pd

    prepared = {}
    for column, via in columns.items():
        values = chunk[column]
        if via == "Int64":
            values = values.astype("Int64")
        prepared[column] = values.astype("string") if via else values
    return pd.DataFrame(prepared).reset_index(drop=True)


def _chunk_view(chunk: pd.DataFrame, spec: DatasetSpec) -> DatasetProfileView:
    import numpy as np
    import pandas as pd
    from whylogs.core import DatasetProfile, DatasetSchema
    from whylogs.core.preprocessing import ColumnProperties

    numeric = {f.name for f in spec.features if f.kind == "numeric"}
    floats = [c for c in chunk.columns if c in numeric and chunk[c].dtype.kind == "f"]
    # "homogeneous" tells whylogs the values need no per-value type checks; only
    # finite values may take that path, so NaN and inf still count as missing/infinite.
    finite_part = DatasetProfile(
        DatasetSchema(types={c: (float, ColumnProperties.homogeneous) for c in floats})
    )
    rest = DatasetProfile(DatasetSchema())
    for column in floats:
        values = chunk[column].to_numpy()
        finite = np.isfinite(values)
        if finite.any():
            finite_part.track(pandas=pd.DataFrame({column: values[finite]}))
        if not finite.all():
            rest.track(pandas=pd.DataFrame({column: values[~finite]}))
    others = [c for c in chunk.columns if c not in floats]
    if others:
        rest.track(pandas=chunk[others].reset_index(drop=True))
    return finite_part.view().merge(rest.view())


class ValidationWarning(BaseModel):
    """A warning-tier expectation a published batch failed, as its publish commit records it.

    ``rule`` is driftloop's name for the check (``range``, ``categories``, ``nulls``...),
    from the expectation's ``meta``; a hand-written expectation may have none.
    """

    model_config = ConfigDict(frozen=True)

    column: str | None = None
    expectation: str
    rule: str | None = None
    message: str


class ProfileRef(BaseModel):
    """A stored profile, as listed in the monitoring index."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    kind: ProfileKind
    key: str
    path: str
    rows: int
    recorded_at: datetime
    window_start: datetime | None = None
    window_end: datetime | None = None
    validation_warnings: list[ValidationWarning] = Field(default_factory=list)


class IndexEntry(BaseModel):
    """An index entry as its name tells it, before it is read: when, which kind, which key."""

    model_config = ConfigDict(frozen=True)

    recorded_at: datetime
    kind: ProfileKind
    key: str
    path: str


def profile_path(dataset: str, kind: ProfileKind, key: str) -> str:
    """Where a profile lives: ``monitoring/<dataset>/<kind>/<key>.bin``.

    Raises:
        ProfileError: ``key`` is not 1-200 letters, digits, ``.``, ``_`` or ``-``
            (starting with a letter or digit).
    """
    if not _KEY.match(key):
        raise ProfileError(
            f"invalid profile key {key!r}: use letters, digits, '.', '_' and '-' "
            "(e.g. 2024-05-01T1200Z), starting with a letter or digit"
        )
    return f"monitoring/{dataset}/{kind}/{key}.bin"


def write_profile(
    store: VersionStore,
    *,
    dataset: str,
    kind: ProfileKind,
    key: str,
    data: bytes,
    rows: int,
    window: tuple[datetime, datetime] | None = None,
    validation_warnings: Sequence[ValidationWarning] = (),
    branch: str = "monitoring",
    source_ref: str = "main",
) -> ProfileRef:
    """Store a profile and its index entry on ``branch`` and commit them.

    Idempotent: writing the same bytes to the same key again changes nothing and
    returns the entry recorded the first time.

    Args:
        store: the versioned store.
        dataset: the dataset the profile describes.
        kind: ``batch`` (a published batch), ``serving`` (a window of requests) or
            ``reference`` (a model's training data).
        key: the profile's name within its kind, e.g. the batch key.
        data: the serialised profile.
        rows: how many rows it describes.
        window: the time span of those rows, if known.
        validation_warnings: a batch's validation warnings, recorded in its entry.
        branch: the monitoring branch; created from ``source_ref`` if missing.
        source_ref: where a new monitoring branch starts.

    Raises:
        ProfileError: ``key`` is not a valid profile key.
        VersioningError: the store failed.
    """
    path = profile_path(dataset, kind, key)
    recorded = _recorded_entry(store, branch, dataset=dataset, kind=kind, key=key, data=data)
    if recorded is not None:
        return recorded
    ref = ProfileRef(
        dataset=dataset,
        kind=kind,
        key=key,
        path=path,
        rows=rows,
        recorded_at=datetime.now(UTC),
        window_start=window[0] if window else None,
        window_end=window[1] if window else None,
        validation_warnings=list(validation_warnings),
    )
    with transact(
        store,
        branch,
        source_ref=source_ref,
        message=f"Record {kind} profile {key} of {dataset}",
        metadata={"kind": kind, "key": key, "rows": str(rows), "path": path},
    ) as tx:
        tx.write_if_changed(path, data)
        tx.write(_entry_path(ref), ref.model_dump_json().encode())
    return ref


def list_profiles(
    store: VersionStore,
    *,
    dataset: str,
    ref: str = "monitoring",
    since: datetime | None = None,
    kind: ProfileKind | None = None,
) -> list[ProfileRef]:
    """Profiles recorded after ``since`` (``None``: all), oldest first.

    ``kind=None`` lists the kinds drift is checked on (batch and serving); reference
    profiles are listed only when asked for. A profile written twice is listed once,
    with its latest entry. A store or branch that does not exist yet holds no profiles.

    Raises:
        VersioningError: the store failed.
    """
    kinds = TARGET_KINDS if kind is None else (kind,)
    chosen = [
        entry
        for entry in list_index(store, dataset=dataset, ref=ref)
        if entry.kind in kinds and (since is None or entry.recorded_at > since)
    ]
    return read_entries(store, chosen, ref=ref)


def list_index(store: VersionStore, *, dataset: str, ref: str = "monitoring") -> list[IndexEntry]:
    """Every index entry of ``dataset``, oldest first, from one listing (no entry is read).

    A store or branch that does not exist yet has no entries.

    Raises:
        VersioningError: the store failed.
    """
    try:
        listed = store.list_objects(ref, _index_prefix(dataset))
    except (RefNotFound, RepositoryNotFound):
        return []
    entries = []
    # Listed by path, and a name starts with its fixed-width stamp: oldest first already.
    for info in listed:
        stamp, kind, key = info.path.rsplit("/", 1)[1].removesuffix(".json").split("~", 2)
        entries.append(
            IndexEntry.model_validate(
                {
                    "recorded_at": datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC),
                    "kind": kind,
                    "key": key,
                    "path": info.path,
                }
            )
        )
    return entries


def read_entries(
    store: VersionStore, entries: Sequence[IndexEntry], *, ref: str = "monitoring"
) -> list[ProfileRef]:
    """Read index entries; a profile with several entries is read once, from its latest.

    Returns:
        The profiles, oldest first.

    Raises:
        VersioningError: the store failed.
    """
    latest = {(e.kind, e.key): e for e in sorted(entries, key=lambda e: e.recorded_at)}
    profiles = [
        ProfileRef.model_validate_json(store.read_object(ref, e.path)) for e in latest.values()
    ]
    return sorted(profiles, key=lambda p: p.recorded_at)


def read_profile(store: VersionStore, profile: ProfileRef, *, ref: str = "monitoring") -> bytes:
    """The bytes of a listed profile.

    Raises:
        ObjectNotFound: the profile is gone from ``ref``.
    """
    return store.read_object(ref, profile.path)


def profile_uri(store: VersionStore, commit_id: str, path: str) -> str:
    """A profile's address pinned to a commit: ``lakefs://<repository>/<commit>/<path>``."""
    return f"lakefs://{store.repository}/{commit_id}/{path}"


def read_profile_uri(store: VersionStore, uri: str) -> bytes:
    """Read a profile by the address :func:`profile_uri` gave.

    Raises:
        ProfileError: the address is malformed or names another repository, or
            nothing is stored there.
    """
    match = _URI.match(uri)
    if match is None or match["repository"] != store.repository:
        raise ProfileError(
            f"profile address {uri!r} is not lakefs://{store.repository}/<ref>/<path>"
        )
    try:
        return store.read_object(match["ref"], match["path"])
    except (ObjectNotFound, RefNotFound) as missing:
        raise ProfileError(f"no profile at {uri}: {missing}") from missing


def _index_prefix(dataset: str) -> str:
    return f"monitoring/{dataset}/index/"


def _entry_path(profile: ProfileRef) -> str:
    stamp = _stamp(profile.recorded_at)
    return f"{_index_prefix(profile.dataset)}{stamp}~{profile.kind}~{profile.key}.json"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_STAMP)


def _recorded_entry(
    store: VersionStore, ref: str, *, dataset: str, kind: ProfileKind, key: str, data: bytes
) -> ProfileRef | None:
    """The latest entry of the profile at ``ref`` if it holds exactly ``data`` already."""
    # Checked before the transaction: an unchanged profile must not commit what other
    # writers have staged on the shared branch under its own message.
    try:
        if store.read_object(ref, profile_path(dataset, kind, key)) != data:
            return None
    except (ObjectNotFound, RefNotFound):
        return None
    return _latest_entry(store, dataset, kind, key, ref)


def _latest_entry(
    store: VersionStore, dataset: str, kind: ProfileKind, key: str, ref: str
) -> ProfileRef | None:
    mine = [
        e for e in list_index(store, dataset=dataset, ref=ref) if (e.kind, e.key) == (kind, key)
    ]
    return read_entries(store, mine, ref=ref)[0] if mine else None
