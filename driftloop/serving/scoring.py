"""Scoring requests: encode with training's NumPy path and predict, alone or coalesced.

Neither BentoML nor Airflow is imported here: ``bento/service.py`` and the benchmark's bare
FastAPI app serve through the same code, so both run the same request path.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pydantic_core

from driftloop.serving.batch import Batch
from driftloop.serving.contract import Prediction, PredictResponse, RecordModel, VersionedPrediction
from driftloop.serving.handle import ModelHandle
from driftloop.serving.metrics import count_input_warnings

log = logging.getLogger(__name__)


def encode(records: Sequence[RecordModel]) -> Batch:
    """Encode validated records (of one request model) with training's NumPy path.

    Nulls and unknown categories become NaN (missing), as in training; values are never
    clipped. The request model's checks (:class:`~driftloop.serving.limits.InputChecks`)
    add a warning to a row for each unknown category, null in a feature that is not
    nullable, value beyond the learned range, and negative value in a never-negative
    feature; scoring counts them in :func:`~driftloop.serving.metrics.input_warnings`.

    Raises:
        ValueError: there are no records.
    """
    if not records:
        raise ValueError("no records to encode")
    return type(records[0]).codec.models(records)


@dataclass(frozen=True)
class Scores:
    """One request scored by one model version: what every response is made of."""

    handle: ModelHandle
    batch: Batch
    probabilities: list[float]
    labels: list[str]

    def response(self) -> PredictResponse:
        """The response as the pydantic model (built without re-validation)."""
        return PredictResponse.model_construct(
            model=self.handle.model,
            model_version=self.handle.version,
            data_commit=self.handle.data_commit,
            predictions=[Prediction.model_construct(**row) for row in self._rows()],
        )

    def json(self) -> bytes:
        """The response's JSON, as ``response().model_dump_json()`` writes it, but faster."""
        return pydantic_core.to_json(
            {
                "model": self.handle.model,
                "model_version": self.handle.version,
                "data_commit": self.handle.data_commit,
                "predictions": self._rows(),
            }
        )

    def rows(self) -> list[VersionedPrediction]:
        """The predictions, each naming the model version (for batched endpoints)."""
        extra = {"model_version": self.handle.version, "data_commit": self.handle.data_commit}
        return [VersionedPrediction.model_construct(**row, **extra) for row in self._rows()]

    def _rows(self) -> list[dict[str, object]]:
        ids = self.batch.ids or [None] * len(self.probabilities)
        rows = zip(ids, self.probabilities, self.labels, strict=True)
        warnings = self.batch.warnings
        if not warnings:  # the usual case, in a third less time
            return [
                {"id": id_, "probability": probability, "label": label, "warnings": []}
                for id_, probability, label in rows
            ]
        return [
            {
                "id": id_,
                "probability": probability,
                "label": label,
                "warnings": warnings.get(row, []),
            }
            for row, (id_, probability, label) in enumerate(rows)
        ]


def score(handle: ModelHandle, batch: Batch, probabilities: np.ndarray | None = None) -> Scores:
    """Score ``batch`` with one model version (or label ``probabilities`` it already has).

    The batch's input warnings are counted here, once per scored request.
    """
    if probabilities is None:
        probabilities = handle.probabilities(batch.matrix)
    count_input_warnings(batch.counts)
    values = probabilities.tolist()
    positive, negative = handle.spec.positive_label, _negative_label(handle)
    labels = [positive if value >= handle.threshold else negative for value in values]
    return Scores(handle, batch, values, labels)


def predict(handle: ModelHandle, records: Sequence[RecordModel]) -> PredictResponse:
    """Score records with one model version; the response names that version."""
    return score(handle, encode(records)).response()


def _negative_label(handle: ModelHandle) -> str:
    positive = handle.spec.positive_label
    others = [value for value in handle.spec.target_values if value != positive]
    return others[0] if len(others) == 1 else f"not {positive}"


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

    async def score(self, handle: ModelHandle, batch: Batch) -> Scores:
        """Like :func:`score`, in a model call shared with concurrent requests."""
        return score(handle, batch, await self.probabilities(handle, batch.matrix))

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
                taken = self._take()
                try:
                    stacked = np.concatenate([matrix for _, matrix, _ in taken])
                    scores = taken[0][0].probabilities(stacked)
                except Exception as exc:
                    # The failure belongs to these requests; the queue keeps draining.
                    for *_, future in taken:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                start = 0
                for _, matrix, future in taken:
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
