"""What names a batch: its key, branch and paths, its Parquet bytes, and the staged record.

A batch is keyed by its data interval, or for one file by the hash of its conformed bytes, so
re-running it writes the same bytes to the same place. A key is unique within its dataset
only: the branch, the quarantine note and the data path all name the dataset too, so two
datasets ingesting the same interval never touch each other's batch.
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
    """Stable name of a batch within its dataset: its interval start, or a file's content hash."""
    if interval is not None:
        return interval.start.strftime("%Y-%m-%dT%H%MZ")
    if file_bytes is None:
        raise ValueError("a batch is keyed by an interval or by a file's content")
    return "file-" + hashlib.sha256(file_bytes).hexdigest()[:12]


INGEST_PREFIX = "ingest-"
"""Every ingest branch's name starts so."""


def ingest_prefix(dataset: str) -> str:
    """How the names of a dataset's ingest branches start: ``ingest-<dataset>-``."""
    return f"{INGEST_PREFIX}{dataset}-"


def ingest_branch(dataset: str, key: str) -> str:
    """The branch a batch is staged on: ``ingest-<dataset>-<key>``.

    lakeFS branch ids allow no ``/``, so a ``-`` joins the parts (the spec keeps a dataset
    name to what a branch id may hold). Names cannot collide although a dataset name may
    hold a ``-``: no key is another key's tail after a ``-`` (keys are ``2026-01-01T0000Z``
    or ``file-<12 hex digits>``), so dataset ``a`` and dataset ``a-b`` never share a branch.
    """
    return f"{ingest_prefix(dataset)}{key}"


def data_path(spec: DatasetSpec, key: str) -> str:
    """Where a batch lives in the repository."""
    return f"{data_prefix(spec)}{key}.parquet"


def quarantine_object(dataset: str, key: str, suffix: str = ".json") -> str:
    """Where a rejected batch's note (``.json``), GX result and page are kept on its branch."""
    return f"{QUARANTINE_PREFIX}{dataset}/{key}{suffix}"


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

    dataset: str
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
