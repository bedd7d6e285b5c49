"""Serving core: the champion as an immutable handle, hot swaps, and the request contract.

Neither BentoML nor Airflow is imported here: ``bento/service.py`` and the benchmark's bare
FastAPI app serve through the same code, so both run the same request path.

The request model comes from the dataset spec, like the training columns and the GX suite.
Values are typed strictly (a string is not a number), but a ``null`` in any feature is
*missing*, and an unknown category is *missing* too, as in training (``driftloop.features``):
XGBoost sends both down the branch it learned for missing values. An unknown category is
still reported, in the row's ``warnings``, so a client can see that part of its input was
not understood.
"""

from __future__ import annotations

import asyncio
import keyword
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictInt,
    StrictStr,
    create_model,
)

from driftloop.exceptions import (
    ArtifactCorrupt,
    ChampionNotSet,
    DriftloopError,
    SchemaMismatch,
    VersionNotFound,
)
from driftloop.features import encode_records
from driftloop.spec import DatasetSpec
from driftloop.training.artifacts import check_schema_compatible, load_model

if TYPE_CHECKING:
    import xgboost

    from driftloop.config import Settings
    from driftloop.registry import ModelVersion, Registry
    from driftloop.versioning.base import VersionStore

log = logging.getLogger(__name__)

CHAMPION = "champion"
SERVICE = "bento.service:DriftloopService"
# Requests are encoded as float32: a finite float64 beyond this would become infinity.
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Probabilities at or above the threshold get the positive label (TrainingParams' default).
DEFAULT_THRESHOLD = 0.5


# --- The request and response contract ---


class RecordModel(BaseModel):
    """Base of the request record models that :func:`request_model` builds from a spec.

    Fields are named after the features (``alias``); a feature whose name is not a usable
    Python attribute gets a safe attribute name, and ``encoding_spec`` is the spec renamed
    to those attributes, so a record's ``__dict__`` encodes without copying.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    encoding_spec: ClassVar[DatasetSpec]
    id_attribute: ClassVar[str | None]


FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Number = Annotated[FiniteFloat, Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX)] | None
# Categories are compared as canonical text, so a code may come as 3, 3.0 or "3".
Category = StrictStr | StrictInt | FiniteFloat | StrictBool | None
Identifier = StrictStr | StrictInt | None


def request_model(spec: DatasetSpec, *, name: str = "Record") -> type[RecordModel]:
    """Build the pydantic model of one request record from ``spec``.

    Every feature is required and nullable: numeric ones take JSON numbers, categorical ones
    strings (or numbers and booleans, compared as canonical text like training does). The id
    column, if the spec has one, is optional and echoed in the response. Other keys are
    ignored, so a client may send whole rows (with the target or event time).
    """
    fields: dict[str, Any] = {}
    attributes: list[str] = []
    taken = set(spec.feature_names) | {spec.id_column}
    for index, feature in enumerate(spec.features):
        attribute = _attribute(feature.name, f"feature_{index}", taken)
        attributes.append(attribute)
        kind = Number if feature.kind == "numeric" else Category
        description = f"{feature.kind} ({feature.dtype})"
        if feature.categories:
            description += f"; known categories: {', '.join(feature.categories)}"
        fields[attribute] = (kind, Field(alias=feature.name, description=description))
    id_attribute = None
    if spec.id_column:
        id_attribute = _attribute(spec.id_column, "record_id", taken)
        fields[id_attribute] = (Identifier, Field(default=None, alias=spec.id_column))
    model = create_model(name, __base__=RecordModel, **fields)
    model.encoding_spec = spec.model_copy(
        update={
            "features": [
                feature.model_copy(update={"name": attribute})
                for feature, attribute in zip(spec.features, attributes, strict=True)
            ]
        }
    )
    model.id_attribute = id_attribute
    return model


def _attribute(name: str, fallback: str, taken: set[str | None]) -> str:
    """``name`` if pydantic can use it as a field name, else an unused ``fallback``."""
    usable = (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith(("_", "model_"))
        and not hasattr(BaseModel, name)
    )
    if usable:
        return name
    while fallback in taken:
        fallback += "_"
    taken.add(fallback)
    return fallback


class Prediction(BaseModel):
    """The prediction for one record."""

    id: str | int | None = Field(default=None, description="The record's id, if it sent one")
    probability: float = Field(description="Probability of the positive label")
    label: str = Field(description="The positive label if probability >= threshold")
    warnings: list[str] = Field(
        default_factory=list, description="Inputs not understood, e.g. an unknown category"
    )


class VersionedPrediction(Prediction):
    """A prediction of the batch endpoint, which names its model version on every row."""

    model_version: int
    data_commit: str


class PredictResponse(BaseModel):
    """Predictions, in request order, and the model version that made all of them."""

    model: str
    model_version: int
    data_commit: str
    predictions: list[Prediction]


# --- Loaded models ---


@dataclass(frozen=True)
class ModelHandle:
    """One loaded model version: immutable, so a request keeps a consistent model.

    Attributes:
        model: Registered model name.
        version: Registered version number.
        data_commit: Store commit the model was trained on.
        booster: The XGBoost model (``inplace_predict`` is thread-safe).
        spec: The dataset spec the service encodes requests with.
        threshold: Decision threshold for the label.
        lineage: JSON-safe summary of where the version came from.
        source: Where it was loaded from: ``registry`` or ``bento:<model tag>``.
    """

    model: str
    version: int
    data_commit: str
    booster: xgboost.Booster = field(repr=False)
    spec: DatasetSpec = field(repr=False)
    threshold: float
    lineage: dict[str, JsonValue] = field(repr=False)
    source: str

    def probabilities(self, matrix: np.ndarray) -> np.ndarray:
        """Probability of the positive label for each row of an encoded matrix."""
        return self.booster.inplace_predict(matrix)

    def describe(self) -> dict[str, JsonValue]:
        """What ``/metadata`` shows about the model."""
        return {
            "model": self.model,
            "version": self.version,
            "data_commit": self.data_commit,
            "threshold": self.threshold,
            "source": self.source,
            "lineage": self.lineage,
        }


def lineage_summary(version: ModelVersion) -> dict[str, JsonValue]:
    """The JSON-safe part of a version's record a client may want to see."""
    lineage = version.lineage
    return {
        "run_key": version.run_key,
        "created_at": version.created_at.isoformat(),
        "created_by": version.created_by,
        "data_ref": lineage.data_ref,
        "data_commit": lineage.data_commit,
        "artifact_uri": lineage.artifact_uri,
        "artifact_commit": lineage.artifact_commit,
        "artifact_sha256": lineage.artifact_sha256,
        "code_version": lineage.code_version,
        "metrics": lineage.metrics,
        "params": lineage.params,
    }


def handle_from_artifact(
    model_bytes: bytes,
    *,
    model: str,
    version: int,
    lineage: dict[str, JsonValue],
    model_schema: dict[str, Any],
    spec: DatasetSpec,
    source: str,
) -> ModelHandle:
    """Load model bytes into a handle after checking their checksum and feature schema.

    ``lineage`` is a :func:`lineage_summary`; its ``artifact_sha256`` is the checksum.

    Raises:
        ArtifactCorrupt: the bytes fail the checksum or do not load.
        SchemaMismatch: ``spec`` does not fit the model's feature schema.
    """
    check_schema_compatible(spec, model_schema)
    booster = load_model(model_bytes, expected_sha256=str(lineage["artifact_sha256"]))
    # Requests are small and concurrent: OpenMP threads per call only spin against the
    # server's own threads (100 rows: 20 ms with 2 threads on a busy 2-core box, 0.5 ms with 1).
    booster.set_param({"nthread": 1})
    params = lineage.get("params")
    threshold = params.get("threshold") if isinstance(params, dict) else None
    return ModelHandle(
        model=model,
        version=version,
        data_commit=str(lineage["data_commit"]),
        booster=booster,
        spec=spec,
        threshold=float(threshold) if isinstance(threshold, int | float) else DEFAULT_THRESHOLD,
        lineage=lineage,
        source=source,
    )


class ChampionLoader:
    """Finds a model's champion in the registry and loads it from the versioned store."""

    def __init__(
        self,
        *,
        registry: Registry,
        store: VersionStore,
        spec: DatasetSpec,
        model: str | None = None,
        alias: str = CHAMPION,
    ) -> None:
        """Prepare the loader; nothing is read until a method is called.

        Args:
            registry: The model registry.
            store: The versioned store holding the artifacts.
            spec: The spec requests are encoded with; every model must fit it.
            model: Registered model name (default: the spec's dataset name).
            alias: The alias to serve.
        """
        self.registry = registry
        self.store = store
        self.spec = spec
        self.model = model or spec.name
        self.alias = alias

    def current_version(self) -> int | None:
        """The version the alias points at now (one small query), ``None`` if unset.

        Raises:
            VersionNotFound: the model is not registered.
            RegistryError: the registry cannot be read.
        """
        return self.registry.aliases(self.model).get(self.alias)

    def load(self, version: int) -> ModelHandle:
        """Load one registered version from the store at its artifact commit.

        Raises:
            VersionNotFound: no such version.
            ArtifactCorrupt: the stored bytes fail their recorded checksum or do not load.
            SchemaMismatch: the spec does not fit the version's feature schema.
            VersioningError: the artifact cannot be read from the store.
        """
        record = self.registry.get_version(self.model, version)
        data = self.store.read_object(record.lineage.artifact_commit, record.lineage.artifact_uri)
        return handle_from_artifact(
            data,
            model=self.model,
            version=record.version,
            lineage=lineage_summary(record),
            model_schema=record.lineage.feature_schema,
            spec=self.spec,
            source="registry",
        )

    def load_champion(self) -> ModelHandle:
        """Load the version the alias points at.

        Raises:
            ChampionNotSet: the alias is not set (or the model is not registered).
            ArtifactCorrupt: the stored bytes fail their recorded checksum or do not load.
            SchemaMismatch: the spec does not fit the version's feature schema.
        """
        try:
            version = self.current_version()
        except VersionNotFound as exc:
            raise ChampionNotSet(f"model {self.model!r} is not registered: {exc}") from exc
        if version is None:
            raise ChampionNotSet(
                f"model {self.model!r} has no {self.alias!r} alias yet: train and promote one"
            )
        return self.load(version)


class ChampionWatcher:
    """Polls the alias and swaps the served handle when it moves (promotion or rollback).

    The handle is one attribute: a request reads it once and keeps that model to the end,
    the next request gets the new one. A version that fails to load (corrupt artifact,
    schema that no longer fits) is logged and skipped, and the old model keeps serving;
    registry or store outages are logged and retried at the next poll.
    """

    def __init__(
        self, loader: ChampionLoader, handle: ModelHandle, *, interval: float = 2.0
    ) -> None:
        """Start from ``handle``; poll every ``interval`` seconds once :meth:`start` is called."""
        self.loader = loader
        self.interval = interval
        self._handle = handle
        self._rejected: dict[int, str] = {}
        self._last_error: str | None = None
        self._last_poll: float | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def handle(self) -> ModelHandle:
        """The model to serve the next request with."""
        return self._handle

    def poll(self) -> bool:
        """Check the alias once; load and swap in a new version. Return whether it swapped."""
        with self._lock:
            self._last_poll = time.time()
            try:
                version = self.loader.current_version()
            except DriftloopError as exc:
                self._note_error(f"cannot read the {self.loader.alias!r} alias: {exc}")
                return False
            if version is None or version == self._handle.version or version in self._rejected:
                return False
            try:
                handle = self.loader.load(version)
            except (ArtifactCorrupt, SchemaMismatch) as exc:
                self._rejected[version] = str(exc)
                log.error(
                    "not serving version %s of %r, keeping version %s: %s",
                    version,
                    self.loader.model,
                    self._handle.version,
                    exc,
                )
                return False
            except DriftloopError as exc:
                self._note_error(f"cannot load version {version}: {exc}")
                return False
            previous, self._handle, self._last_error = self._handle.version, handle, None
            log.info("now serving version %s of %r (was %s)", version, handle.model, previous)
            return True

    def status(self) -> dict[str, JsonValue]:
        """When it last polled, its last transient error, and the versions it refused."""
        return {
            "alias": self.loader.alias,
            "interval_seconds": self.interval,
            "last_poll": self._last_poll,
            "last_error": self._last_error,
            "rejected_versions": {str(v): reason for v, reason in self._rejected.items()},
        }

    def start(self) -> None:
        """Poll in a daemon thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="driftloop-champion-watcher", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:
                # The thread must outlive any bug in one poll: the old model keeps serving.
                log.exception("champion poll failed")

    def _note_error(self, message: str) -> None:
        if message != self._last_error:
            log.warning("%s; still serving version %s", message, self._handle.version)
        self._last_error = message


# --- Scoring requests ---


@dataclass(frozen=True)
class EncodedRecords:
    """Records as the model's float32 matrix, their ids, and per-row warnings."""

    matrix: np.ndarray
    ids: list[str | int | None]
    warnings: dict[int, list[str]]


def encode(records: Sequence[RecordModel]) -> EncodedRecords:
    """Encode validated records (of one request model) with ``driftloop.features``' NumPy path.

    Unknown categories become NaN like nulls, and each is reported in its row's warnings.
    """
    if not records:
        return EncodedRecords(np.empty((0, 0), dtype=np.float32), [], {})
    model = type(records[0])
    spec = model.encoding_spec
    rows: list[Mapping[str, Any]] = [record.__dict__ for record in records]
    matrix = encode_records(rows, spec)
    warnings: dict[int, list[str]] = {}
    for column, feature in enumerate(spec.features):
        if feature.categories is None:
            continue
        for row in np.flatnonzero(np.isnan(matrix[:, column])):
            value = rows[row][feature.name]
            if value is not None:
                alias = model.model_fields[feature.name].alias
                warnings.setdefault(int(row), []).append(
                    f"feature {alias!r}: unknown category {value!r}, scored as missing"
                )
    ids = [rows[i].get(model.id_attribute) for i in range(len(rows))] if model.id_attribute else []
    return EncodedRecords(matrix, ids, warnings)


def predict(handle: ModelHandle, records: Sequence[RecordModel]) -> PredictResponse:
    """Score records with one model version; the response names that version."""
    encoded = encode(records)
    probabilities = handle.probabilities(encoded.matrix) if records else np.empty(0)
    return _response(handle, encoded, probabilities)


class Coalescer:
    """Scores the requests that arrive together in one model call (greedy micro-batching).

    XGBoost's fixed cost per call dwarfs a one-row prediction, so concurrent requests are
    queued, and whatever queued up while the event loop served the others is scored in one
    ``inplace_predict`` per model version. Nothing waits for a batch to fill: a lone request
    is scored on the next turn of the loop. Runs on the event loop that calls it.
    """

    def __init__(self, *, max_rows: int = 4096) -> None:
        """Score at most ``max_rows`` rows in one call."""
        self.max_rows = max_rows
        self._pending: list[tuple[ModelHandle, np.ndarray, asyncio.Future[np.ndarray]]] = []
        self._draining = False
        # Held so the running drain task is not garbage-collected.
        self._drainer: asyncio.Task[None] | None = None

    async def predict(self, handle: ModelHandle, records: Sequence[RecordModel]) -> PredictResponse:
        """Like :func:`predict`, scored together with concurrent requests."""
        encoded = encode(records)
        probabilities = await self.probabilities(handle, encoded.matrix)
        return _response(handle, encoded, probabilities)

    async def probabilities(self, handle: ModelHandle, matrix: np.ndarray) -> np.ndarray:
        """``handle.probabilities(matrix)``, computed in a shared call."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._pending.append((handle, matrix, future))
        if not self._draining:
            self._draining = True
            self._drainer = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                # One turn of the loop lets requests already received reach the queue.
                await asyncio.sleep(0)
                batch = self._take()
                try:
                    stacked = np.concatenate([matrix for _, matrix, _ in batch])
                    scores = batch[0][0].probabilities(stacked)
                except Exception as exc:
                    # The failure belongs to these requests; the queue keeps draining.
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                start = 0
                for _, matrix, future in batch:
                    if not future.done():
                        future.set_result(scores[start : start + len(matrix)])
                    start += len(matrix)
        finally:
            self._draining = False

    def _take(self) -> list[tuple[ModelHandle, np.ndarray, asyncio.Future[np.ndarray]]]:
        """The oldest request and the queued ones of the same model, up to ``max_rows``."""
        handle = self._pending[0][0]
        taken, kept, rows = [], [], 0
        for item in self._pending:
            if item[0] is handle and (not taken or rows + len(item[1]) <= self.max_rows):
                taken.append(item)
                rows += len(item[1])
            else:
                kept.append(item)
        self._pending = kept
        return taken


def predict_rows(handle: ModelHandle, records: Sequence[RecordModel]) -> list[VersionedPrediction]:
    """Score records, naming the model version on every row (for batched endpoints)."""
    encoded = encode(records)
    probabilities = handle.probabilities(encoded.matrix) if records else np.empty(0)
    extra = {"model_version": handle.version, "data_commit": handle.data_commit}
    return _predictions(handle, encoded, probabilities, VersionedPrediction, extra)


def _response(
    handle: ModelHandle, encoded: EncodedRecords, probabilities: np.ndarray
) -> PredictResponse:
    return PredictResponse.model_construct(
        model=handle.model,
        model_version=handle.version,
        data_commit=handle.data_commit,
        predictions=_predictions(handle, encoded, probabilities, Prediction),
    )


def _predictions(
    handle: ModelHandle,
    encoded: EncodedRecords,
    probabilities: np.ndarray,
    kind: type[Prediction],
    extra: dict[str, Any] | None = None,
) -> list[Any]:
    positive = handle.spec.positive_label
    others = [value for value in handle.spec.target_values if value != positive]
    negative = others[0] if len(others) == 1 else f"not {positive}"
    extra = extra or {}
    ids = encoded.ids or [None] * len(probabilities)
    # Built without re-validation: every value comes from our own code, already typed.
    return [
        kind.model_construct(
            id=ids[row],
            probability=probability,
            label=positive if probability >= handle.threshold else negative,
            warnings=encoded.warnings.get(row, []),
            **extra,
        )
        for row, probability in enumerate(probabilities.tolist())
    ]


def open_champion(settings: Settings, spec: DatasetSpec) -> ChampionLoader:
    """A loader over the registry and store that ``settings`` name.

    Raises:
        ConfigError: the versioning backend is misconfigured.
    """
    from driftloop.registry import Registry
    from driftloop.versioning.factory import open_store

    return ChampionLoader(
        registry=Registry(url=settings.registry_database_url), store=open_store(settings), spec=spec
    )


def serving_env(settings: Settings) -> dict[str, str]:
    """Environment for BentoML subprocesses, so the child reads the same homes and stores.

    This process's environment plus ``BENTOML_HOME`` and the settings' home, project folder
    and dataset; telemetry stays off.
    """
    return {
        **os.environ,
        "BENTOML_HOME": str(settings.bentoml_home),
        "BENTOML_DO_NOT_TRACK": "True",
        "DRIFTLOOP_HOME": str(settings.home_dir),
        "DRIFTLOOP_PROJECT_DIR": str(settings.project_dir),
        "DRIFTLOOP_DATASET": settings.dataset,
    }


def serve(settings: Settings, port: int | None = None, *, bento: str | None = None) -> int:
    """Serve on 127.0.0.1 with ``bentoml serve`` in the foreground; return its exit code.

    Args:
        settings: Where the registry, store and BentoML's home are.
        port: Port to listen on (default ``settings.serving_port``).
        bento: A built Bento's tag to serve; default: the service from source.
    """
    command = [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        bento or SERVICE,
        "--host",
        "127.0.0.1",
        "--port",
        str(port or settings.serving_port),
    ]
    return subprocess.run(
        command, cwd=settings.project_dir, env=serving_env(settings), check=False
    ).returncode
