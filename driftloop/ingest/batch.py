"""What names a batch: its key, branch and paths, its Parquet bytes, and the staged record.

A batch is keyed by its data interval, or for one file by the hash of its conformed bytes, so
re-running it writes the same bytes to the same place.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

import pandas as pd

from driftloop.data.conform import conform_frame
from driftloop.data.published import data_prefix
from driftloop.data.sources import (
    FileSource,
    Interval,
    to_parquet_bytes,
)
from driftloop.spec import DatasetSpec

QUARANTINE_PREFIX = "quarantine/"


def batch_key(*, interval: Interval | None = None, file_bytes: bytes | None = None) -> str:
    """Stable name of a batch: its interval start, or a content hash for a single file."""
    if interval is not None:
        return interval.start.strftime("%Y-%m-%dT%H%MZ")
    if file_bytes is None:
        raise ValueError("a batch is keyed by an interval or by a file's content")
    return "file-" + hashlib.sha256(file_bytes).hexdigest()[:12]


INGEST_PREFIX = "ingest-"
"""Every ingest branch's name starts so."""


def ingest_branch(key: str) -> str:
    """The branch a batch is staged on (lakeFS branch ids allow no ``/``)."""
    return f"{INGEST_PREFIX}{key}"


def data_path(spec: DatasetSpec, key: str) -> str:
    """Where a batch lives in the repository."""
    return f"{data_prefix(spec)}{key}.parquet"


def quarantine_path(key: str) -> str:
    """Where the reasons for rejecting a batch are kept on its branch."""
    return f"{QUARANTINE_PREFIX}{key}.json"


def batch_bytes(frame: pd.DataFrame, spec: DatasetSpec) -> bytes:
    """The Parquet a batch is stored as: labels conformed to the spec, deterministic bytes."""
    return to_parquet_bytes(conform_frame(frame, spec))


def file_batch_key(path: str, spec: DatasetSpec) -> str:
    """The batch key ``stage_batch`` gives to one file.

    Raises:
        DataSourceError: the file cannot be read.
    """
    return batch_key(file_bytes=batch_bytes(FileSource(path).read(None), spec))


@dataclass(frozen=True)
class StagedBatch:
    """A batch committed on its ingest branch, waiting for validation."""

    key: str
    branch: str
    path: str
    commit_id: str
    rows: int
    source: str
    interval_start: str | None = None
    interval_end: str | None = None
    source_datasets: list[tuple[str, str]] = field(default_factory=list)
    """What the rows were read from, as OpenLineage ``(namespace, name)`` pairs."""

    def to_dict(self) -> dict[str, str | int | None]:
        """JSON-safe form, small enough for XCom."""
        return asdict(self)
