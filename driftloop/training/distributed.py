"""Training on a Dask cluster: the workers read the data commit, ``xgboost.dask`` trains.

How the rows reach XGBoost, none of them through this process:

1. ``VersionStore.locate_objects`` says where each object of the commit is: a file of the
   local store, or ``s3://<repository>/<commit>/<path>`` on lakeFS's S3 gateway.
2. Each object's Parquet row groups are grouped into partitions of at most
   :data:`PARTITION_ROWS` rows (only the footers are read here).
3. Each partition is pinned to one of the training workers, the fewest rows first, in
   XGBoost's rank order; on its worker it is read as the local engine reads a batch, split
   by the id hash (:func:`~driftloop.training.features.split_assignment`), labelled and
   encoded (:func:`~driftloop.training.features.model_frame`). Its training and validation
   rows stay there as partitions of Dask dataframes; its holdout rows, its split counts
   and a whylogs profile of its rows come back.
4. ``xgboost.dask`` builds a ``DaskQuantileDMatrix`` on each worker from the partitions it
   holds and trains (``hist``, categorical splits, early stopping on the validation rows);
   the booster, an ordinary ``xgboost.Booster``, comes back.

Same data commit, same parameters and the same number of workers give the same model
bytes: the partitions and their placement depend only on the objects, and XGBoost ranks
workers by name and address, the order partitions are placed in. See ``docs/deploy.md``
for what is not guaranteed.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from driftloop.data.sources import parquet_row_groups, read_parquet_row_groups
from driftloop.exceptions import ClusterUnavailable
from driftloop.training.features import labels, model_frame, split_assignment
from driftloop.training.model import (
    SplitCounts,
    TrainedModel,
    TrainingParams,
    check_columns,
    check_trainable,
    early_stopping,
)

if TYPE_CHECKING:
    import xgboost
    from distributed import Client, Future

    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import ObjectLocations

PARTITION_ROWS = 1_000_000
"""Rows per partition at most; fixed, because the partitions shape the model."""
PARTITION_KEY = "driftloop-partition"
"""Prefix of the key of each partition's read-and-prepare task (seen in the task stream)."""
_PIECES = ("x_train", "y_train", "x_valid", "y_valid")


@dataclass(frozen=True)
class Partition:
    """Some row groups of one object: what one worker reads as one piece of the data."""

    path: str
    url: str
    row_groups: tuple[int, ...]
    rows: int


@dataclass(frozen=True)
class DaskTraining:
    """What training on the cluster gave back.

    Attributes:
        trained: the model and how it was made.
        holdout: the holdout rows (features and target), to score models on.
        counts: rows and positives per split, over every partition.
        profile: a whylogs profile of every row (the partitions' profiles merged).
        workers: how many workers trained.
        placement: partitions of training rows per worker address, as XGBoost found them.
    """

    trained: TrainedModel
    holdout: pd.DataFrame
    counts: SplitCounts
    profile: bytes
    workers: int
    placement: dict[str, int]


def connect(address: str, *, timeout_seconds: float) -> Client:
    """A client of the Dask scheduler at ``address`` (``tcp://host:8786``).

    Raises:
        ClusterUnavailable: the scheduler did not answer within ``timeout_seconds``.
    """
    from distributed import Client

    try:
        return Client(address, timeout=timeout_seconds, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ClusterUnavailable(
            f"the Dask scheduler at {address} did not answer within {timeout_seconds:g} s: {exc}"
        ) from exc


def training_workers(client: Client, count: int | None = None) -> list[str]:
    """The addresses of the workers to train on: the first ``count`` in XGBoost's rank order.

    ``xgboost.dask`` ranks workers by ``[xgboost.dask-<name>]:<address>``; placing partitions
    in that order puts the same partitions on the same ranks whatever the addresses are.

    Raises:
        ClusterUnavailable: the cluster has no workers, or fewer than ``count``.
    """
    workers = client.scheduler_info(n_workers=-1)["workers"]
    ranked = sorted(
        workers,
        key=lambda address: f"[xgboost.dask-{workers[address].get('name', address)}]:{address}",
    )
    wanted = count or len(ranked)
    if not ranked or len(ranked) < wanted:
        raise ClusterUnavailable(
            f"the Dask cluster at {client.scheduler.address} has {len(ranked)} workers; "
            f"training needs {wanted}"
        )
    return ranked[:wanted]


def plan_partitions(located: ObjectLocations, *, partition_rows: int) -> list[Partition]:
    """Group each object's row groups into partitions of at most ``partition_rows`` rows.

    A row group larger than ``partition_rows`` is a partition of its own. Only the objects'
    footers are read.

    Raises:
        DataSourceError: an object cannot be opened or is not Parquet.
    """
    partitions: list[Partition] = []
    for obj in located.objects:
        sizes = parquet_row_groups(obj.url, storage_options=located.storage_options, label=obj.path)
        groups: list[int] = []
        for index, rows in enumerate(sizes):
            if groups and sum(sizes[g] for g in groups) + rows > partition_rows:
                partitions.append(_partition(obj.path, obj.url, groups, sizes))
                groups = []
            groups.append(index)
        if groups:
            partitions.append(_partition(obj.path, obj.url, groups, sizes))
    return partitions


def _partition(path: str, url: str, groups: list[int], sizes: list[int]) -> Partition:
    return Partition(path, url, tuple(groups), sum(sizes[g] for g in groups))


def assign(partitions: list[Partition], workers: list[str]) -> list[str]:
    """The worker of each partition: in order, the one holding the fewest rows so far.

    Ties go to the lower rank, so the same partitions always land on the same ranks.
    """
    held = dict.fromkeys(workers, 0)
    chosen = []
    for partition in partitions:
        worker = min(workers, key=lambda address: held[address])
        held[worker] += partition.rows
        chosen.append(worker)
    return chosen


def prepare_partition(
    partition: Partition,
    storage_options: Mapping[str, Any],
    spec: DatasetSpec,
    late_labels: pd.Series,
) -> dict[str, Any]:
    """Read one partition and turn it into model inputs (runs on a worker).

    With ``late_labels`` in the spec, ``late_labels`` (target by id) are joined onto its
    rows and the rows still without a label are left out, as the local engine does.

    Returns:
        ``x_train``, ``y_train``, ``x_valid``, ``y_valid`` (features as ``model_frame`` gives
        them, 0/1 labels), ``holdout`` (the holdout rows' features and target), ``counts``
        and ``profile`` (a whylogs profile of the partition's rows).

    Raises:
        DataSourceError: the object cannot be read.
        TrainingError, SchemaMismatch: as the local engine raises them for the same rows.
    """
    from driftloop.monitoring.profiles import profile_frame

    frame = read_parquet_row_groups(
        partition.url,
        partition.row_groups,
        storage_options=storage_options,
        label=f"{partition.path} (row groups {list(partition.row_groups)})",
    )
    if spec.late_labels:
        from driftloop.monitoring.quality import labelled_rows

        frame = labelled_rows(frame, spec, late_labels)
    check_columns(frame, spec)
    y = pd.Series(labels(frame, spec), index=frame.index)
    split = split_assignment(frame, spec)
    features = model_frame(frame, spec)
    train, valid, holdout = (split == name for name in ("train", "valid", "holdout"))
    return {
        "x_train": features[train],
        "y_train": y[train],
        "x_valid": features[valid],
        "y_valid": y[valid],
        "holdout": frame.loc[holdout, [*spec.feature_names, spec.target]],
        "counts": SplitCounts.of(y.to_numpy(), split),
        "profile": profile_frame(frame, spec),
    }


def train_on_dask(
    client: Client,
    located: ObjectLocations,
    spec: DatasetSpec,
    params: TrainingParams,
    *,
    workers: int | None = None,
    late_labels: pd.Series | None = None,
) -> DaskTraining:
    """Train on the objects of ``located`` with ``xgboost.dask`` on ``workers`` of the cluster.

    Args:
        client: a client of the cluster.
        located: the objects to train on (``VersionStore.locate_objects``).
        spec: their dataset spec.
        params: the training parameters.
        workers: how many workers train (default: every worker of the cluster).
        late_labels: for a ``late_labels`` spec, the labels landed since (target by id),
            sent once to every worker.

    Raises:
        ClusterUnavailable: the cluster has fewer than ``workers`` workers.
        DataSourceError: an object cannot be read.
        TrainingError: as :func:`~driftloop.training.model.train_model` raises it.
        SchemaMismatch: as :func:`~driftloop.training.model.train_model` raises it.
    """
    from driftloop.monitoring.profiles import merge_profiles

    ranked = training_workers(client, workers)
    partitions = plan_partitions(located, partition_rows=PARTITION_ROWS)
    run = uuid.uuid4().hex[:12]
    # A key of its own (hash=False): scattered by content, equal labels of two trainings
    # would share one key, and the first to finish would release what the other reads.
    late = client.scatter(
        late_labels if late_labels is not None else pd.Series(dtype=object),
        broadcast=True,
        hash=False,
    )
    pieces: dict[str, list[Future]] = {name: [] for name in (*_PIECES, "summary")}
    for index, (partition, worker) in enumerate(
        zip(partitions, assign(partitions, ranked), strict=True)
    ):
        pinned = {"workers": [worker], "allow_other_workers": True}
        prepared = client.submit(
            prepare_partition,
            partition,
            located.storage_options,
            spec,
            late,
            key=f"{PARTITION_KEY}-{run}-{index}",
            **pinned,
        )
        for name in _PIECES:
            pieces[name].append(client.submit(operator.getitem, prepared, name, **pinned))
        pieces["summary"].append(client.submit(_summary, prepared, **pinned))
    summaries = client.gather(pieces["summary"])
    counts = sum((s["counts"] for s in summaries[1:]), summaries[0]["counts"])
    params = check_trainable(counts, spec, params)

    booster, placement = _train(client, pieces, spec, params)
    return DaskTraining(
        trained=TrainedModel.of(booster, params, counts),
        holdout=pd.concat([s["holdout"] for s in summaries], ignore_index=True),
        counts=counts,
        profile=merge_profiles([s["profile"] for s in summaries]),
        workers=len(ranked),
        placement=placement,
    )


def _train(
    client: Client, pieces: Mapping[str, list[Future]], spec: DatasetSpec, params: TrainingParams
) -> tuple[xgboost.Booster, dict[str, int]]:
    """Train on the pieces' partitions; return the booster and the partitions per worker."""
    import dask.dataframe as dd
    import xgboost.dask as dxgb

    features, labels_meta = _meta(spec), pd.Series([], dtype="int8")

    def matrix(x: str, y: str, **kwargs: Any) -> dxgb.DaskQuantileDMatrix:
        return dxgb.DaskQuantileDMatrix(
            client,
            dd.from_delayed(pieces[x], meta=features, verify_meta=False),
            dd.from_delayed(pieces[y], meta=labels_meta, verify_meta=False),
            max_bin=params.max_bin,
            enable_categorical=True,
            **kwargs,
        )

    # Each worker trains with its own threads: XGBoost gives more threads than Dask gave the
    # task a busy wait on each round's allreduce, and hist's model does not depend on the
    # thread count (checked by a test), only on the partitions and their ranks.
    booster_params = {k: v for k, v in params.booster_params().items() if k != "nthread"}
    # xgboost.dask looks the current client up even when it is handed one.
    with client.as_current():
        dtrain = matrix("x_train", "y_train")
        dvalid = matrix("x_valid", "y_valid", ref=dtrain)
        output = dxgb.train(
            client,
            booster_params,
            dtrain,
            num_boost_round=params.num_boost_round,
            evals=[(dvalid, "valid")],
            callbacks=[early_stopping(params)],
            verbose_eval=False,
        )
    placement = {address: len(parts) for address, parts in sorted(dtrain.worker_map.items())}
    return output["booster"], placement


def _summary(prepared: dict[str, Any]) -> dict[str, Any]:
    """What comes back to the client from a prepared partition: small, or the holdout."""
    return {name: prepared[name] for name in ("holdout", "counts", "profile")}


def _meta(spec: DatasetSpec) -> pd.DataFrame:
    """An empty frame of the model's features, typed as ``model_frame`` types them."""
    return model_frame(
        pd.DataFrame({name: pd.Series([], dtype=object) for name in spec.feature_names}), spec
    )
