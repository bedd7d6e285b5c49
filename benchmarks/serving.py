"""Serving throughput and latency: our service against a bare FastAPI app, and in-process.

Both servers score the same champion, one worker each, on 127.0.0.1. The bare app is what
one would write with FastAPI directly: its pydantic request model (a list of records)
validates the body, and driftloop's NumPy encoder and ``inplace_predict`` score it. Two
load generators drive them with 8 keep-alive connections: ``wrk`` (C, so the client is not
the bottleneck on 2 cores; ``benchmarks/serving_post.lua`` posts the body and reports its
latency percentiles) and a small asyncio client in Python. Runs alternate between the two
servers, ``ROUNDS`` times each, and each run notes the load average: other work shares the
machine. In-process, the service's path from parsed JSON records to probabilities (check,
encode, predict) is timed against XGBoost's own ``inplace_predict`` on the same rows.

``python -m benchmarks.serving [seconds] [rounds]``; ``make bench`` installs ``wrk``.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import print_goal
from bento.environment import bentoml_home

REPO = Path(__file__).resolve().parent.parent
WRK_SCRIPT = Path(__file__).with_name("serving_post.lua")
CLIENTS = 8
SECONDS = 10.0
ROUNDS = 3
SIZES = (1, 100)
COLUMN_ROWS = 1000
JSON = "application/json"
BARE = "bare FastAPI"
SERVICE = "driftloop service"
COLUMNS = "driftloop service, columns"

# The goals of issue 15, checked in the report.
GOAL_ROWS_RATIO = {1: 1.0, 100: 1.5}
GOAL_IN_PROCESS_RATIO = 2.0
GOAL_COLUMN_ROWS_PER_SECOND = 200_000


@dataclass
class Load:
    """What one setup measured under one load generator, over its rounds."""

    requests: int = 0
    rows: int = 0
    seconds: float = 0.0
    errors: int = 0
    server_cpu_seconds: float = 0.0
    p50_ms: list[float] = field(default_factory=list)
    p99_ms: list[float] = field(default_factory=list)
    load_average: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else float("nan")

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else float("nan")

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_seconds / self.requests * 1000 if self.requests else float("nan")

    @property
    def p50(self) -> float:
        return statistics.median(self.p50_ms) if self.p50_ms else float("nan")

    @property
    def p99(self) -> float:
        return statistics.median(self.p99_ms) if self.p99_ms else float("nan")

    def add(self, run: Load) -> None:
        """Count another round in."""
        self.requests += run.requests
        self.rows += run.rows
        self.seconds += run.seconds
        self.errors += run.errors
        self.server_cpu_seconds += run.server_cpu_seconds
        self.p50_ms += run.p50_ms
        self.p99_ms += run.p99_ms
        self.load_average += run.load_average


def sample_records(count: int) -> list[dict[str, Any]]:
    """Demo rows as JSON-ready request records (NaN as null, timestamps dropped)."""
    from driftloop.data.synthetic import GeneratorConfig, generate_batch

    start = datetime(2026, 2, 1, tzinfo=UTC)
    frame = generate_batch(
        GeneratorConfig(seed=9, rows_per_batch=count), start=start, end=start + timedelta(days=1)
    )
    frame = frame.drop(columns=["applied_at", "default"])
    return json.loads(frame.to_json(orient="records"))


def as_columns(records: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The same rows as one list per field (the columnar request body)."""
    return {name: [record[name] for record in records] for name in records[0]}


# --- Load generators ---


def wrk_load(port: int, body_file: Path, rows: int, seconds: float) -> Load:
    """Drive ``CLIENTS`` connections with wrk (one thread) for ``seconds``.

    Raises:
        RuntimeError: wrk is not installed, or failed.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: apt-get install wrk (make bench installs it)")
    command = [wrk, "-t1", f"-c{CLIENTS}", f"-d{seconds:g}s", "-s", str(WRK_SCRIPT)]
    command.append(f"http://127.0.0.1:{port}/predict")
    done = subprocess.run(
        command,
        env={**os.environ, "BODY": str(body_file)},
        capture_output=True,
        text=True,
        check=False,
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    out = json.loads(line.removeprefix("WRK "))
    return Load(
        requests=out["requests"],
        rows=out["requests"] * rows,
        seconds=out["seconds"],
        errors=out["socket_errors"] + out["non_2xx"],
        p50_ms=[out["p50_us"] / 1000],
        p99_ms=[out["p99_us"] / 1000],
    )


async def _client(
    port: int, request: bytes, deadline: float, latencies: list[float], statuses: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            statuses.append(int(head.split(b" ", 2)[1]))
    finally:
        writer.close()


def _python_process(port: int, body: bytes, seconds: float, queue: Any) -> None:
    request = (
        f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {JSON}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    statuses: list[int] = []

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        clients = (_client(port, request, deadline, latencies, statuses) for _ in range(CLIENTS))
        await asyncio.gather(*clients)

    asyncio.run(main())
    queue.put((latencies, statuses))


def python_load(port: int, body_file: Path, rows: int, seconds: float) -> Load:
    """Drive ``CLIENTS`` connections from a plain asyncio HTTP/1.1 client in its own process."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    body = body_file.read_bytes()
    process = context.Process(target=_python_process, args=(port, body, seconds, queue))
    process.start()
    latencies, statuses = queue.get(timeout=seconds + 60)
    process.join(timeout=30)
    ordered = sorted(latencies)
    return Load(
        requests=len(ordered),
        rows=len(ordered) * rows,
        seconds=seconds,
        errors=sum(status != 200 for status in statuses),
        p50_ms=[_percentile(ordered, 0.5)],
        p99_ms=[_percentile(ordered, 0.99)],
    )


def _percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def _measured(run: Any, server: int, *args: Any) -> Load:
    """``run(*args)``, with the load average before it and the server tree's CPU during it."""
    before = _tree_cpu(server)
    load_average = os.getloadavg()[0]
    result = run(*args)
    result.server_cpu_seconds = _tree_cpu(server) - before
    result.load_average = [load_average]
    return result


def _tree_cpu(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


# --- The servers ---


def bare_app():
    """A bare FastAPI app on the same request model and NumPy path (``uvicorn --factory``).

    It predicts with ``Booster.inplace_predict``, as one would write it; the service calls
    the same C predictor without the wrapper (``driftloop.serving.predictor``).
    """
    from typing import Annotated

    from fastapi import FastAPI, Response
    from pydantic import Field, create_model

    from driftloop.config import Settings
    from driftloop.serving.contract import PredictResponse, request_model
    from driftloop.serving.handle import open_champion
    from driftloop.serving.scoring import encode, score
    from driftloop.spec import load_spec

    settings = Settings()
    spec = load_spec(settings.dataset_spec_path)
    handle = open_champion(settings, spec).load_champion()
    records = Annotated[list[request_model(spec)], Field(min_length=1, max_length=1000)]
    body_model = create_model("PredictRequest", records=(records, ...))
    app = FastAPI()

    async def predict_endpoint(body):
        batch = encode(body.records)
        scores = score(handle, batch, handle.booster.inplace_predict(batch.matrix))
        # Serialised directly: FastAPI would otherwise validate the response model again.
        return Response(scores.response().model_dump_json(), media_type=JSON)

    # Set directly: this module's string annotations cannot name a type built at run time.
    predict_endpoint.__annotations__ = {"body": body_model}
    app.post("/predict", response_model=PredictResponse)(predict_endpoint)
    return app


def _commands() -> dict[str, tuple[list[str], str]]:
    """Each server's command line and readiness path."""
    bare = [sys.executable, "-m", "uvicorn", "--factory", "benchmarks.serving:bare_app"]
    bare += ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
    service = [sys.executable, "-m", "bentoml", "serve", "bento.service:DriftloopService"]
    service += ["--host", "127.0.0.1"]
    return {BARE: (bare, "/docs"), SERVICE: (service, "/readyz")}


# --- In-process ---


def in_process(handle: Any, records: list[dict[str, Any]], seconds: float) -> dict[str, float]:
    """CPU milliseconds per call by (path, rows), over about ``seconds`` in all.

    Paths: ``xgboost`` (its own ``inplace_predict`` on the encoded matrix), ``predict``
    (the service's call of the same C predictor, ``driftloop.serving.predictor``), ``records``
    (check and encode the parsed JSON records, then predict: the service's path),
    ``columns`` (the same rows as parsed JSON columns), ``validated`` (encode records the
    request model has validated, then predict: the bare app's path after pydantic). Each
    round times a burst of calls of every path in turn, in this thread's CPU time (other
    work on the machine delays a call but does not add to it); the figure is the median
    over the rounds.
    """

    from driftloop.serving.contract import request_model

    record = request_model(handle.spec)
    medians = {}
    for size in SIZES:
        paths = _paths(handle, record, records[:size])
        rounds: dict[str, list[float]] = {path: [] for path in paths}
        deadline = time.perf_counter() + seconds / len(SIZES)
        while time.perf_counter() < deadline or len(rounds["xgboost"]) < 5:
            for path, call in paths.items():
                rounds[path].append(_cpu_ms(call, 50))
        for path, times in rounds.items():
            medians[path, size] = statistics.median(times)
    return medians


def _paths(handle: Any, record: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    from pydantic import TypeAdapter

    codec, size = record.codec, len(rows)
    columns = as_columns(rows)
    validated = TypeAdapter(list[record]).validate_python(rows)
    matrix = codec.records(rows, max_rows=size).matrix
    return {
        "xgboost": lambda: handle.booster.inplace_predict(matrix),
        "predict": lambda: handle.probabilities(matrix),
        "records": lambda: handle.probabilities(codec.records(rows, max_rows=size).matrix),
        "columns": lambda: handle.probabilities(codec.columns(columns, max_rows=size).matrix),
        "validated": lambda: handle.probabilities(codec.models(validated).matrix),
    }


def _cpu_ms(call: Any, times: int) -> float:
    """Mean CPU milliseconds of ``call()`` over ``times`` calls."""
    started = time.thread_time()
    for _ in range(times):
        call()
    return (time.thread_time() - started) / times * 1000


# --- The run ---


def run(seconds: float = SECONDS, rounds: int = ROUNDS) -> None:
    """Measure everything and print the tables and each ratio beside its goal."""
    load_average = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-serving-") as tmp:
        loads, medians = _measure(Path(tmp), seconds, rounds)
    _report(loads, medians, seconds, rounds, load_average)


def _measure(
    home: Path, seconds: float, rounds: int
) -> tuple[dict[tuple[str, str, int], Load], dict[tuple[str, int], float]]:
    from driftloop.serving.handle import open_champion
    from driftloop.spec import load_spec
    from tests.support.serving import (
        free_port,
        make_settings,
        start_server,
        stop_server,
        train_version,
    )

    settings = make_settings(home / "home", REPO)
    train_version(settings, day=0)
    env = {
        **os.environ,
        "DRIFTLOOP_HOME": str(settings.home_dir),
        "DRIFTLOOP_PROJECT_DIR": str(REPO),
        "BENTOML_HOME": str(bentoml_home(settings)),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    records = sample_records(COLUMN_ROWS)
    bodies = {}
    for size in SIZES:
        bodies[size] = home / f"records-{size}.json"
        bodies[size].write_text(json.dumps({"records": records[:size]}))
    columns_body = home / f"columns-{COLUMN_ROWS}.json"
    columns_body.write_text(json.dumps({"columns": as_columns(records)}))
    handle = open_champion(settings, load_spec(settings.dataset_spec_path)).load_champion()
    medians = in_process(handle, records, seconds)

    servers = {}
    try:
        for name, (command, ready) in _commands().items():
            port = free_port()
            servers[name] = (
                port,
                start_server(
                    [*command, "--port", str(port)],
                    env=env,
                    cwd=REPO,
                    port=port,
                    ready_path=ready,
                    log_dir=home,
                ),
            )
        loads: dict[tuple[str, str, int], Load] = {}
        clients = {"wrk": wrk_load, "python": python_load}
        for client, drive in clients.items():
            for size in SIZES:
                for port, _ in servers.values():
                    drive(port, bodies[size], size, 2)  # warm-up
                # Alternate between the servers: the machine's other work hits both alike.
                for _ in range(rounds):
                    for name, (port, process) in servers.items():
                        run = _measured(drive, process.pid, port, bodies[size], size, seconds)
                        loads.setdefault((client, name, size), Load()).add(run)
        port, process = servers[SERVICE]
        wrk_load(port, columns_body, COLUMN_ROWS, 2)
        for _ in range(rounds):
            run = _measured(wrk_load, process.pid, port, columns_body, COLUMN_ROWS, seconds)
            loads.setdefault(("wrk", COLUMNS, COLUMN_ROWS), Load()).add(run)
    finally:
        for _, process in servers.values():
            stop_server(process)
    return loads, medians


def _report(
    loads: dict[tuple[str, str, int], Load],
    medians: dict[tuple[str, int], float],
    seconds: float,
    rounds: int,
    load_average: tuple[float, float, float],
) -> None:
    print(
        f"\n## Serving: {CLIENTS} connections, {rounds} x {seconds:g} s per setup, 127.0.0.1 "
        f"(load average at start: {', '.join(f'{v:.2f}' for v in load_average)})"
    )
    print(
        f"{'client':<7} {'setup':<28} {'rows':>5} {'req/s':>8} {'rows/s':>10} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'cpu ms/req':>10} {'errors':>6} {'load':>5}"
    )
    for (client, name, size), load in loads.items():
        print(
            f"{client:<7} {name:<28} {size:>5} {load.rps:>8,.0f} {load.rows_per_second:>10,.0f} "
            f"{load.p50:>7.2f} {load.p99:>7.2f} {load.cpu_ms_per_request:>10.3f} "
            f"{load.errors:>6} {statistics.mean(load.load_average):>5.2f}"
        )
    print("\nin-process, CPU ms per call (median of rounds), each path then predict:")
    paths = {
        "xgboost": "inplace_predict alone",
        "predict": "service's predict alone",
        "records": "check+encode records",
        "columns": "check+encode columns",
        "validated": "encode validated",
    }
    print(f"{'rows':>5} " + " ".join(f"{title:>22}" for title in paths.values()))
    for size in SIZES:
        print(f"{size:>5} " + " ".join(f"{medians[path, size]:>22.3f}" for path in paths))
    print("\ngoals (wrk figures; service / bare FastAPI):")
    for size in SIZES:
        ours, bare = loads["wrk", SERVICE, size], loads["wrk", BARE, size]
        print_goal(
            f"{size} rows/request, rows/s",
            ours.rows_per_second / bare.rows_per_second,
            GOAL_ROWS_RATIO[size],
            at_least=True,
        )
        print_goal(f"{size} rows/request, p99", ours.p99 / bare.p99, 1.0, at_least=False)
    largest = max(SIZES)
    for path in ("records", "validated"):
        print_goal(
            f"in-process, {largest} rows: {path} + predict / inplace_predict",
            medians[path, largest] / medians["xgboost", largest],
            GOAL_IN_PROCESS_RATIO,
            at_least=False,
        )
    columns = loads["wrk", COLUMNS, COLUMN_ROWS]
    print_goal(
        f"columns, {COLUMN_ROWS} rows/request, rows/s",
        columns.rows_per_second,
        GOAL_COLUMN_ROWS_PER_SECOND,
        at_least=True,
        unit="",
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    run(float(args[0]) if args else SECONDS, int(args[1]) if len(args) > 1 else ROUNDS)
