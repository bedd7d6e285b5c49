"""Serving fixtures: a real small champion (data, training, registry) and server processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from driftloop.config import Settings
from driftloop.data.sources import to_parquet_bytes
from driftloop.data.synthetic import GeneratorConfig, generate_batch
from driftloop.registry import ModelVersion, Registry
from driftloop.spec import DatasetSpec, load_spec
from driftloop.training import TrainingParams
from driftloop.training.steps import promote_version, register_candidate, train_candidate
from driftloop.versioning.base import VersionStore
from driftloop.versioning.factory import open_store

START = datetime(2026, 1, 1, tzinfo=UTC)
PARAMS = TrainingParams(num_boost_round=40, early_stopping_rounds=10)


def make_settings(home: Path, repo_dir: Path, **overrides: object) -> Settings:
    """Settings of a fresh project home using the repository's demo spec."""
    return Settings(home=home, project_dir=repo_dir, **overrides)


def publish_batch(store: VersionStore, spec: DatasetSpec, settings: Settings, *, day: int) -> str:
    """Publish one generated day to main as ``data/<dataset>/<key>.parquet``; return the commit."""
    start = START + timedelta(days=day)
    frame = generate_batch(
        GeneratorConfig(seed=3, rows_per_batch=1500), start=start, end=start + timedelta(days=1)
    )
    store.ensure_repository(settings.main_branch)
    key = start.strftime("%Y-%m-%dT%H%MZ")
    store.write_object(
        settings.main_branch, f"data/{spec.name}/{key}.parquet", to_parquet_bytes(frame)
    )
    return store.commit(settings.main_branch, f"publish {key}", {"batch": key}).id


def train_version(
    settings: Settings,
    *,
    day: int,
    promote: bool = True,
    params: TrainingParams = PARAMS,
) -> ModelVersion:
    """Publish a day of data, train on main's head, register, and promote unless told not to."""
    store = open_store(settings)
    spec = load_spec(settings.dataset_spec_path)
    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    try:
        commit = publish_batch(store, spec, settings, day=day)
        run_key = f"serving-test-{day}"
        candidate = train_candidate(
            store,
            registry,
            spec,
            settings=settings,
            data_ref=settings.main_branch,
            data_commit=commit,
            run_key=run_key,
            params=params,
        )
        version = register_candidate(
            registry, store, spec, candidate, settings=settings, created_by="tests"
        )
        if promote:
            promote_version(
                registry,
                version,
                reason="tests",
                evidence={},
                actor="tests",
                run_key=run_key,
                compared_with=candidate.champion_version,
            )
        return version
    finally:
        registry.close()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    command: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    port: int,
    ready_path: str,
    log_dir: Path,
    timeout: float = 90.0,
) -> subprocess.Popen:
    """Start a server in its own process group and wait until ``ready_path`` answers 200.

    Its output goes to ``log_dir/server-<port>.log``.

    Raises:
        RuntimeError: the server exits or is not ready in time (its output included).
    """
    log = log_dir / f"server-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"server exited with {process.returncode}:\n{log.read_text()[-4000:]}"
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(process)
    raise RuntimeError(
        f"server on port {port} not ready in {timeout} s:\n{log.read_text()[-4000:]}"
    )


def stop_server(process: subprocess.Popen) -> None:
    """Stop a server started by :func:`start_server` and everything it spawned."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
