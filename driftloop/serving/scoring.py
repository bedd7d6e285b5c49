"""Scoring requests: encode records with training's NumPy path and predict, alone or coalesced.

Neither BentoML nor Airflow is imported here: ``bento/service.py`` and the benchmark's bare
FastAPI app serve through the same code, so both run the same request path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from driftloop.serving.contract import Prediction, PredictResponse, RecordModel, VersionedPrediction
from driftloop.serving.handle import ModelHandle
from driftloop.serving.metrics import count_input_warnings
from driftloop.training.features import encode_records

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncodedRecords:
    """Records as the model's float32 matrix, their ids, and per-row warnings."""

    matrix: np.ndarray
    ids: list[str | int | None]
    warnings: dict[int, list[str]]


def encode(records: Sequence[RecordModel]) -> EncodedRecords:
    """Encode validated records (of one request model) with training's NumPy path.

    Nulls and unknown categories become NaN (missing), as in training; values are never
    clipped. The request model's checks (:class:`~driftloop.serving.limits.InputChecks`)
    add a warning to a row for each unknown category, null in a feature that is not
    nullable, value beyond the learned range, and negative value in a never-negative
    feature; the warnings are counted in :func:`~driftloop.serving.metrics.input_warnings`.
    """
    if not records:
        return EncodedRecords(np.empty((0, 0), dtype=np.float32), [], {})
    model = type(records[0])
    rows: list[Mapping[str, Any]] = [record.__dict__ for record in records]
    matrix = encode_records(rows, model.encoding_spec)
    warnings, counts = model.checks.review(matrix, rows)
    count_input_warnings(counts)
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
