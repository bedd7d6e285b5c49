"""Serving throughput and latency: in-process predict, a bare FastAPI app, and our service.

Each server scores the same champion with the same NumPy path (``driftloop.serving``) and
is loaded by 8 keep-alive clients in a separate process, for 1-row and 100-row requests.
Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bento.environment import bentoml_home

REPO = Path(__file__).resolve().parent.parent
CLIENTS = 8
SECONDS = 20.0
SIZES = (1, 100)
JSON = "application/json"


@dataclass
class Load:
    """What one load run measured."""

    requests: int
    rows: int
    seconds: float
    errors: int
    latencies_ms: list[float]
    server_cpu_seconds: float = float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_seconds / self.requests * 1000 if self.requests else float("nan")

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def sample_records(count: int) -> list[dict[str, Any]]:
    """Demo rows as JSON-ready request records (NaN as null, timestamps dropped)."""
    from driftloop.data.synthetic import GeneratorConfig, generate_batch

    start = datetime(2026, 2, 1, tzinfo=UTC)
    frame = generate_batch(
        GeneratorConfig(seed=9, rows_per_batch=count), start=start, end=start + timedelta(days=1)
    )
    frame = frame.drop(columns=["applied_at", "default"])
    return json.loads(frame.to_json(orient="records"))


# --- Load generator (its own process, plain asyncio HTTP/1.1 to keep its CPU cost low) ---


async def _client(port: int, request: bytes, rows: int, deadline: float, out: Load) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            out.latencies_ms.append((time.perf_counter() - started) * 1000)
            out.requests += 1
            out.rows += rows
            out.errors += status != 200
    finally:
        writer.close()


def _load_process(port: int, path: str, body: bytes, rows: int, seconds: float, queue) -> None:
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    out = Load(requests=0, rows=0, seconds=seconds, errors=0, latencies_ms=[])

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_client(port, request, rows, deadline, out) for _ in range(CLIENTS)))

    asyncio.run(main())
    queue.put(out)


def load(
    port: int,
    path: str,
    body: bytes,
    rows: int,
    seconds: float = SECONDS,
    server: int | None = None,
) -> Load:
    """Drive ``CLIENTS`` connections at ``path`` for ``seconds`` from a separate process.

    With ``server`` (a pid), also count the CPU time its process tree spent meanwhile: unlike
    throughput, that barely moves when other work shares the machine.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_load_process, args=(port, path, body, rows, seconds, queue))
    cpu_before = _tree_cpu(server) if server else 0.0
    process.start()
    result = queue.get(timeout=seconds + 60)
    process.join(timeout=30)
    if server:
        result.server_cpu_seconds = _tree_cpu(server) - cpu_before
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
    """A bare FastAPI app on the same request model and NumPy path (``uvicorn --factory``)."""
    from typing import Annotated

    from fastapi import FastAPI, Response
    from pydantic import Field, create_model

    from driftloop.config import Settings
    from driftloop.serving.contract import PredictResponse, request_model
    from driftloop.serving.handle import open_champion
    from driftloop.serving.scoring import predict
    from driftloop.spec import load_spec

    settings = Settings()
    spec = load_spec(settings.dataset_spec_path)
    handle = open_champion(settings, spec).load_champion()
    records = Annotated[list[request_model(spec)], Field(min_length=1, max_length=1000)]
    body_model = create_model("PredictRequest", records=(records, ...))
    app = FastAPI()

    async def predict_endpoint(body):
        # Serialised directly: FastAPI would otherwise validate the response model again.
        return Response(predict(handle, body.records).model_dump_json(), media_type=JSON)

    # Set directly: this module's string annotations cannot name a type built at run time.
    predict_endpoint.__annotations__ = {"body": body_model}
    app.post("/predict", response_model=PredictResponse)(predict_endpoint)
    return app


# --- The run ---


def in_process(handle, records: list[dict[str, Any]], size: int, seconds: float) -> Load:
    """The model alone: encode + inplace_predict + response, in this process, one thread."""
    from driftloop.serving.contract import request_model
    from driftloop.serving.scoring import predict

    record = request_model(handle.spec)
    batch = [record.model_validate(r) for r in records[:size]]
    out = Load(requests=0, rows=0, seconds=seconds, errors=0, latencies_ms=[])
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        predict(handle, batch)
        out.latencies_ms.append((time.perf_counter() - started) * 1000)
        out.requests += 1
        out.rows += size
    return out


def _row(name: str, size: int, result: Load) -> None:
    print(
        f"{name:<28} {size:>5} {result.rps:>10,.0f} {result.rows_per_second:>11,.0f} "
        f"{result.percentile(0.5):>8.2f} {result.percentile(0.99):>8.2f} "
        f"{result.cpu_ms_per_request:>9.2f} {result.errors:>7}"
    )


def run(seconds: float = SECONDS) -> None:
    """Print req/s, rows/s, p50/p99 for the three setups and the service's ratios."""
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-serving-") as tmp:
        results = _measure(Path(tmp), seconds)
    _report(results, seconds)


def _measure(home: Path, seconds: float) -> dict[tuple[str, int], Load]:
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
    records = sample_records(100)
    bodies = {size: json.dumps({"records": records[:size]}).encode() for size in SIZES}
    handle = open_champion(settings, load_spec(settings.dataset_spec_path)).load_champion()

    results: dict[tuple[str, int], Load] = {}
    for size in SIZES:
        results["in-process", size] = in_process(handle, records, size, seconds)

    setups = {
        "bare FastAPI (1 worker)": (
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "benchmarks.serving:bare_app",
                "--host",
                "127.0.0.1",
                "--log-level",
                "warning",
                "--no-access-log",
                "--port",
            ],
            "/docs",
        ),
        "driftloop service": (
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                "bento.service:DriftloopService",
                "--host",
                "127.0.0.1",
                "--port",
            ],
            "/readyz",
        ),
    }
    for name, (command, ready) in setups.items():
        port = free_port()
        process = start_server(
            [*command, str(port)], env=env, cwd=REPO, port=port, ready_path=ready, log_dir=home
        )
        try:
            for size in SIZES:
                load(port, "/predict", bodies[size], size, seconds=2)  # warm-up
                results[name, size] = load(
                    port, "/predict", bodies[size], size, seconds, server=process.pid
                )
        finally:
            stop_server(process)
    return results


def _report(results: dict[tuple[str, int], Load], seconds: float) -> None:
    print(f"\n## Serving: {CLIENTS} clients, {seconds:.0f} s per run, 127.0.0.1")
    print(
        f"{'setup':<28} {'rows':>5} {'req/s':>10} {'rows/s':>11} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'cpu ms/req':>9} {'errors':>7}"
    )
    for (name, size), result in results.items():
        _row(name, size, result)
    print("\nratios (service / bare FastAPI; service share of in-process):")
    for size in SIZES:
        ours, bare = results["driftloop service", size], results["bare FastAPI (1 worker)", size]
        inproc = results["in-process", size]
        print(
            f"  {size:>3} rows: rows/s {ours.rows_per_second / bare.rows_per_second:.2f}x, "
            f"p99 {ours.percentile(0.99) / bare.percentile(0.99):.2f}x, "
            f"in-process share {ours.rows_per_second / inproc.rows_per_second:.2f}, "
            f"server CPU per request {ours.cpu_ms_per_request / bare.cpu_ms_per_request:.2f}x"
        )
    print(
        "  median in-process latency, 1 row: "
        f"{statistics.median(results['in-process', 1].latencies_ms):.3f} ms"
    )


if __name__ == "__main__":
    run(float(sys.argv[1]) if len(sys.argv) > 1 else SECONDS)
