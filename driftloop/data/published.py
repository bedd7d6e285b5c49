"""What is published: every batch of a dataset on ``main``, read back at one commit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from driftloop.data.sources import read_parquet_bytes
from driftloop.exceptions import DataSourceError

if TYPE_CHECKING:
    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import ObjectLocations, VersionStore


def data_prefix(spec: DatasetSpec) -> str:
    """The folder every published batch of the dataset lives in."""
    return _folder(spec.name)


def _folder(dataset: str) -> str:
    return f"data/{dataset}/"


def names_batch_of(metadata: Mapping[str, str], dataset: str) -> bool:
    """Whether a commit's metadata names a batch of ``dataset``.

    Batch keys are unique within a dataset only. Ingest commits record their ``dataset``; a
    publish commit made before they did is told by its batch's ``path``.
    """
    if "dataset" in metadata:
        return metadata["dataset"] == dataset
    return metadata.get("path", "").startswith(_folder(dataset))


def read_published(store: VersionStore, spec: DatasetSpec, commit_id: str) -> pd.DataFrame:
    """Every published batch of ``spec``'s dataset at one commit, in path order.

    Raises:
        DataSourceError: the commit holds no data for the dataset.
    """
    objects = store.list_objects(commit_id, data_prefix(spec))
    if not objects:
        raise _no_data(spec, commit_id)
    frames = [
        read_parquet_bytes(store.read_object(commit_id, o.path), label=o.path) for o in objects
    ]
    return pd.concat(frames, ignore_index=True)


def locate_published(store: VersionStore, spec: DatasetSpec, commit_id: str) -> ObjectLocations:
    """Where readers outside the store (Dask workers) find every published batch at a commit.

    Raises:
        DataSourceError: the commit holds no data for the dataset.
    """
    located = store.locate_objects(commit_id, data_prefix(spec))
    if not located.objects:
        raise _no_data(spec, commit_id)
    return located


def _no_data(spec: DatasetSpec, commit_id: str) -> DataSourceError:
    return DataSourceError(
        f"commit {commit_id[:12]} holds no published data under {data_prefix(spec)}"
    )
