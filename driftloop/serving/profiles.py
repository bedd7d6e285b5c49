"""Profiles of what the service sees: inputs and predictions, one profile per interval.

A request only appends a reference to its records and predictions (no copy, no whylogs).
Each interval, a background thread gathers the interval's values by column and hands them
to a child process, which profiles them with whylogs and stores the profile with
:func:`driftloop.monitoring.profiles.write_profile` as a ``serving`` profile, where the drift
monitor reads it. The features are profiled exactly like ingested batches (unknown
categories kept as sent, so drift scoring sees them); the predictions add the columns
``prediction.probability`` and ``prediction.label``. Each model version gets its own
profile, keyed ``<model>-v<version>-<interval start>-<worker>``.

Why a child process: profiling 2,000 rows takes about a quarter of a second of pure Python.
In the serving process it held the GIL against the requests: measured with ``wrk`` at one
row per request, the 10-second runs that saw a profile written had a p99 of 20-63 ms
against 6 ms without. The child runs at a lower CPU priority (``niceness``), so the kernel
gives the requests the CPU first; it opens its own store (``open_store``, which is pickled
to it) and lives as long as the profiles do: about 250 MiB resident, whylogs and pandas
loaded. The caller starts it (``processes``): the core starts no process itself. Started the
way ``multiprocessing`` spawns, a script that makes profiles must guard its entry point
(``if __name__ == "__main__":``); ``bentoml serve`` does.

Beyond ``max_rows`` rows in one interval, a uniform sample of requests is kept (reservoir
sampling): what is kept is held in memory until the interval ends, and 2,000 rows (the
default) is twice what the drift check needs before it judges.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from driftloop.exceptions import DriftloopError, ServingError
from driftloop.serving.background import Periodic

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.monitoring.profiles import ProfileRef
    from driftloop.serving.scoring import Scores
    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import VersionStore

log = logging.getLogger(__name__)

PROBABILITY_COLUMN = "prediction.probability"
LABEL_COLUMN = "prediction.label"


@dataclass
class _Interval:
    start: datetime
    requests: list[Scores] = field(default_factory=list)
    rows: int = 0
    seen: int = 0


class ServingProfiles:
    """Collects served requests and writes one merged profile per interval and model version.

    Args:
        open_store: Opens the versioned store the monitoring branch lives in; called once, in
            the child process, so it must pickle (``functools.partial(open_store, settings)``).
        processes: Starts the child: called with ``initializer`` and ``initargs`` keywords, it
            returns an executor of one worker process, such as ``functools.partial(
            ProcessPoolExecutor, 1, mp_context=multiprocessing.get_context("spawn"))``. The
            caller chooses how processes start; the core starts none itself.
        spec: The dataset spec (the profile's feature columns).
        interval: Seconds between writes.
        max_rows: Rows kept per interval before sampling requests.
        worker: Tells apart the profiles of several worker processes.
        branch: The monitoring branch.
        source_ref: Where a new monitoring branch starts.
        niceness: How much lower the child's CPU priority is (``os.nice``).
    """

    def __init__(
        self,
        *,
        open_store: Callable[[], VersionStore],
        processes: Callable[..., Executor],
        spec: DatasetSpec,
        interval: float = 60.0,
        max_rows: int = 2000,
        worker: str | None = None,
        branch: str = "monitoring",
        source_ref: str = "main",
        niceness: int = 10,
    ) -> None:
        self.open_store = open_store
        self.processes = processes
        self.niceness = niceness
        self._child: Executor | None = None
        self.spec = spec
        self.interval = interval
        self.max_rows = max_rows
        self.worker = worker or f"w{os.getpid()}"
        self.branch = branch
        self.source_ref = source_ref
        self._current = _Interval(datetime.now(UTC))
        self._lock = threading.Lock()
        self._random = random.Random()
        self._writer = Periodic(
            self._flush_logged, interval=interval, name="driftloop-serving-profiles", join_grace=30
        )

    def record(self, scores: Scores) -> None:
        """Remember one scored request (cheap: no copy, no profiling)."""
        if not scores.probabilities:
            return
        with self._lock:
            current = self._current
            current.seen += 1
            if current.rows < self.max_rows:
                current.requests.append(scores)
                current.rows += len(scores.probabilities)
                return
            slot = self._random.randrange(current.seen)
            if slot < len(current.requests):
                current.requests[slot] = scores

    def flush(self) -> list[ProfileRef]:
        """Profile and store the requests of the interval so far; start a new interval.

        Raises:
            ProfileError: the rows cannot be profiled.
            VersioningError: the store failed.
            ServingError: the child process died (it is started again on the next flush).
        """
        with self._lock:
            done, self._current = self._current, _Interval(datetime.now(UTC))
        window = (done.start, datetime.now(UTC))
        written = []
        for (model, version), columns in self._columns(done).items():
            key = f"{model}-v{version}-{done.start:%Y%m%dT%H%M%S}Z-{self.worker}"
            task = {"key": key, "columns": columns, "window": window}
            written.append(
                self._in_child(_write_profile, self.spec, self.branch, self.source_ref, task)
            )
        return written

    def start(self) -> None:
        """Start the child process; then write a profile every ``interval`` seconds.

        The writer is a daemon thread, until :meth:`stop`.
        """
        self._in_child(_ready)
        self._writer.start()

    def stop(self) -> None:
        """Stop the thread, write what the current interval holds, and end the child."""
        self._writer.stop()
        self._flush_logged()
        if self._child is not None:
            self._child.shutdown()
            self._child = None

    def _in_child(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` in the child process, started first if need be."""
        if self._child is None:
            self._child = self.processes(
                initializer=_start_child, initargs=(self.open_store, self.niceness)
            )
        try:
            return self._child.submit(function, *args).result()
        except BrokenExecutor as exc:
            self._child = None
            raise ServingError(f"the serving-profile process died ({exc}); rows dropped") from exc

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except DriftloopError as exc:
            log.warning("serving profile not written (its rows are dropped): %s", exc)
        except Exception:
            # Monitoring must never take the service down: log the bug and carry on.
            log.exception("serving profile failed")

    def _columns(self, interval: _Interval) -> dict[tuple[str, int], list[list[Any]]]:
        """Per model version, each column's values: the features as sent, then predictions."""
        grouped: dict[tuple[str, int], list[list[Any]]] = {}
        width = len(self.spec.features) + 2
        for scores in interval.requests:
            key = (scores.handle.model, scores.handle.version)
            columns = grouped.setdefault(key, [[] for _ in range(width)])
            sent = (*scores.batch.values, scores.probabilities, scores.labels)
            for column, values in zip(columns, sent, strict=True):
                column.extend(values)
        return grouped


# --- In the child process ---

# The child's store, opened once by _start_child.
_child_store: dict[str, VersionStore] = {}


def _start_child(open_store: Callable[[], VersionStore], niceness: int) -> None:
    """Lower the child's priority, open its store, and import whylogs before any work."""
    import whylogs  # noqa: F401

    os.nice(niceness)
    _child_store["store"] = open_store()


def _ready() -> None:
    """Nothing: submitted once so the child starts before traffic does."""


def _write_profile(
    spec: DatasetSpec, branch: str, source_ref: str, task: dict[str, Any]
) -> ProfileRef:
    """Profile one version's columns and store the profile (in the child process)."""
    from driftloop.monitoring.profiles import merge_profiles, profile_frame, write_profile

    frame = _frame(spec, task["columns"])
    data = merge_profiles([profile_frame(frame, spec), _prediction_profile(frame)])
    return write_profile(
        _child_store["store"],
        dataset=spec.name,
        kind="serving",
        key=task["key"],
        data=data,
        rows=len(frame),
        window=task["window"],
        branch=branch,
        source_ref=source_ref,
    )


def _frame(spec: DatasetSpec, columns: list[list[Any]]) -> pd.DataFrame:
    """The columns as a frame: numbers as floats, nulls as NaN, as the request model reads them."""
    import numpy as np
    import pandas as pd

    names = [*spec.feature_names, PROBABILITY_COLUMN, LABEL_COLUMN]
    numeric = [feature.kind == "numeric" for feature in spec.features] + [False, False]
    return pd.DataFrame(
        {
            name: np.array(values, dtype=np.float64) if is_number else values
            for name, values, is_number in zip(names, columns, numeric, strict=True)
        }
    )


def _prediction_profile(frame: pd.DataFrame) -> bytes:
    import whylogs as why

    columns = frame[[PROBABILITY_COLUMN, LABEL_COLUMN]].reset_index(drop=True)
    return why.log(pandas=columns).view().serialize()
