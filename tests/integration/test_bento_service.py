"""The BentoML service up the ladder: in-process, ``bentoml serve`` over HTTP, a built Bento.

One project home holds a real champion (version 1) and a registered challenger (version 2).
A second home, with the prediction and admin tokens and a concurrency cap of one, serves the
tests of the guard; ``driftloop serve`` is stopped with SIGTERM.
"""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import os
import signal
import socket
import sqlite3
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bento.environment import bentoml_env, bentoml_home
from driftloop.config import Settings
from driftloop.registry import Registry
from tests.support.processes import kill, running, tree
from tests.support.serving import (
    free_port,
    make_settings,
    start_server,
    stop_server,
    train_version,
)

pytestmark = pytest.mark.integration

MAX_ROWS = 50
MAX_BODY = 100_000
ADMIN_TOKEN = "admin-s3cret"
CLIENT_TOKEN = "client-s3cret"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CLIENT = {"Authorization": f"Bearer {CLIENT_TOKEN}"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, repo_dir: Path) -> Iterator[Settings]:
    settings = make_settings(tmp_path_factory.mktemp("bento") / "home", repo_dir)
    train_version(settings, day=0)
    train_version(settings, day=1, promote=False)
    # The service module and the packaging read these when first imported.
    saved = {k: os.environ.get(k) for k in ("DRIFTLOOP_HOME", "BENTOML_HOME")}
    os.environ.update(
        DRIFTLOOP_HOME=str(settings.home_dir), BENTOML_HOME=str(bentoml_home(settings))
    )
    yield settings
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def registry(project: Settings) -> Iterator[Registry]:
    registry = Registry(url=project.registry_database_url)
    yield registry
    registry.close()


@pytest.fixture(scope="module")
def rows(project: Settings) -> list[dict]:
    from benchmarks.serving import sample_records

    return sample_records(60)


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **bentoml_env(settings),
        "DRIFTLOOP_SERVING_POLL_SECONDS": "0.3",
        "DRIFTLOOP_SERVING_MAX_ROWS": str(MAX_ROWS),
        "DRIFTLOOP_SERVING_MAX_BODY_BYTES": str(MAX_BODY),
        "DRIFTLOOP_SERVING_PROFILE_SECONDS": "1",
        "DRIFTLOOP_SERVING_ADMIN_TOKEN": ADMIN_TOKEN,
        **extra,
    }


def _serve(settings: Settings, target: str, **extra: str):
    command = [sys.executable, "-m", "bentoml", "serve", target, "--host", "127.0.0.1"]
    return _start(settings, command, **extra)


def _start(settings: Settings, command: list[str], **extra: str):
    """Start ``command --port <a free port>``; return the process and its URL once ready."""
    port = free_port()
    process = start_server(
        [*command, "--port", str(port)],
        env=_env(settings, **extra),
        cwd=settings.project_dir,
        port=port,
        ready_path="/readyz",
        log_dir=settings.home_dir.parent,
    )
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def server(project: Settings) -> Iterator[str]:
    process, url = _serve(project, "bento.service:DriftloopService")
    yield url
    stop_server(process)


# --- Rung 1: the service class in-process ---


def test_service_class_in_process(project: Settings, rows: list[dict]) -> None:
    import importlib

    module = importlib.import_module("bento.service")
    service = module.DriftloopService()
    try:
        body = module.PredictRequest.model_validate({"records": rows[:3]})
        response = json.loads(asyncio.run(service.predict(body)).body)
        public, full = service.metadata(), service.full_metadata()
    finally:
        service.shutdown()

    assert response["model_version"] == 1 and len(response["predictions"]) == 3
    assert full["version"] == 1 and full["aliases"] == {"champion": 1}
    assert full["source"] == "registry"
    assert public.items() <= full.items()
    assert not {"lineage", "watcher", "aliases", "source"} & set(public)


# --- Rung 2: `bentoml serve` over real HTTP ---


def test_predict_over_http_names_version_and_data_commit(
    server: str, registry: Registry, rows: list[dict]
) -> None:
    reply = httpx.post(f"{server}/predict", json={"records": rows[:5]}, timeout=30)

    assert reply.status_code == 200, reply.text
    body = reply.json()
    champion = registry.get_version("credit_risk", 1)
    assert body["model_version"] == 1
    assert body["data_commit"] == champion.lineage.data_commit
    assert [p["id"] for p in body["predictions"]] == [r["application_id"] for r in rows[:5]]
    assert all(0 <= p["probability"] <= 1 for p in body["predictions"])


def test_batch_endpoint_and_metadata_and_health(server: str, rows: list[dict]) -> None:
    batch = httpx.post(f"{server}/predict_batch", json={"records": rows[:4]}, timeout=30)
    single = httpx.post(f"{server}/predict", json={"records": rows[:4]}, timeout=30)
    metadata = httpx.get(f"{server}/metadata/full", headers=ADMIN, timeout=30).json()

    assert batch.status_code == 200, batch.text
    assert [p["probability"] for p in batch.json()] == pytest.approx(
        [p["probability"] for p in single.json()["predictions"]]
    )
    assert {p["model_version"] for p in batch.json()} == {1}
    assert metadata["version"] == 1 and metadata["aliases"]["champion"] == 1
    assert metadata["lineage"]["artifact_sha256"]
    assert "purpose" in metadata["request_schema"]["properties"]
    assert metadata["max_rows"] == MAX_ROWS
    for path in ("/livez", "/readyz"):
        assert httpx.get(f"{server}{path}", timeout=10).status_code == 200
    assert "bentoml_service_request" in httpx.get(f"{server}/metrics", timeout=10).text


def _bad_requests(rows: list[dict]) -> list[tuple[str, bytes, dict[str, str], int, list[str]]]:
    """(name, body, headers, expected status, words the error must contain)."""
    good = rows[0]
    without_age = {k: v for k, v in good.items() if k != "age"}
    as_json = {"Content-Type": "application/json"}

    def body(records: object) -> bytes:
        return json.dumps({"records": records}).encode()

    return [
        ("missing field", body([good, without_age]), as_json, 400, ["records", "1", "age"]),
        (
            "wrong type",
            body([good, good, dict(good, income="lots")]),
            as_json,
            400,
            ["records", "2", "income"],
        ),
        ("empty list", body([]), as_json, 400, ["records", "at least 1"]),
        (
            "too many rows",
            body([good] * (MAX_ROWS + 1)),
            as_json,
            400,
            ["records", f"at most {MAX_ROWS}"],
        ),
        ("not a list", body({"age": 3}), as_json, 400, ["records"]),
        ("no records key", json.dumps([good]).encode(), as_json, 400, ["object"]),
        ("malformed JSON", b'{"records": [', as_json, 400, ["json"]),
        (
            "float32 overflow",
            body([dict(good, savings=1e39)]),
            as_json,
            400,
            ["records", "0", "savings"],
        ),
        (
            "oversized body",
            b'{"records": [' + b" " * MAX_BODY + b"]}",
            as_json,
            413,
            ["larger than"],
        ),
        (
            "form body",
            b"records=1",
            {"Content-Type": "application/x-www-form-urlencoded"},
            415,
            ["application/json"],
        ),
    ]


def test_bad_input_gets_a_4xx_naming_the_field_and_row(server: str, rows: list[dict]) -> None:
    failures = []
    for name, body, headers, status, words in _bad_requests(rows):
        reply = httpx.post(f"{server}/predict", content=body, headers=headers, timeout=30)
        text = reply.text.lower()
        if reply.status_code != status or not all(w.lower() in text for w in words):
            failures.append(f"{name}: {reply.status_code} {reply.text[:300]}")

    assert failures == []
    assert httpx.get(f"{server}/readyz", timeout=10).status_code == 200


def _columns(rows: list[dict]) -> dict[str, list]:
    return {name: [row[name] for row in rows] for name in rows[0]}


def test_columns_get_the_answers_records_get(server: str, rows: list[dict]) -> None:
    sent = [dict(rows[0], income=5_000_000.0), dict(rows[1], purpose="crypto"), *rows[2:9]]

    by_records = httpx.post(f"{server}/predict", json={"records": sent}, timeout=30)
    by_columns = httpx.post(f"{server}/predict", json={"columns": _columns(sent)}, timeout=30)

    assert (by_records.status_code, by_columns.status_code) == (200, 200), by_columns.text
    records, columns = by_records.json(), by_columns.json()
    assert columns["model_version"] == records["model_version"]
    assert columns["predictions"] == records["predictions"]
    assert [p["id"] for p in columns["predictions"]] == [row["application_id"] for row in sent]
    assert columns["predictions"][1]["warnings"] == [
        "feature 'purpose': unknown category 'crypto', scored as missing"
    ]


def test_bad_columns_get_a_4xx_naming_the_field_and_the_server_serves_on(
    server: str, rows: list[dict]
) -> None:
    good = _columns(rows[:3])
    cases = [
        ("wrong type", dict(good, income=[1.0, "lots", 2.0]), ["columns", "income", 1]),
        ("float32 overflow", dict(good, savings=[1.0, 2.0, 1e39]), ["columns", "savings", 2]),
        ("missing column", {k: v for k, v in good.items() if k != "age"}, ["columns", "age"]),
        ("not a list", dict(good, region="north"), ["columns", "region"]),
        ("too many rows", _columns(rows[: MAX_ROWS + 1]), ["columns", "age"]),
        ("different lengths", dict(good, age=[30, 40]), ["columns"]),
    ]
    failures = []
    for name, columns, location in cases:
        reply = httpx.post(f"{server}/predict", json={"columns": columns}, timeout=30)
        found = reply.json().get("detail", []) if reply.status_code == 400 else []
        if location not in [error["loc"] for error in found]:
            failures.append(f"{name}: {reply.status_code} {reply.text[:300]}")
    lengths = httpx.post(
        f"{server}/predict", json={"columns": dict(good, age=[30, 40])}, timeout=30
    )
    both = httpx.post(f"{server}/predict", json={"records": rows[:1], "columns": good}, timeout=30)
    after = httpx.post(f"{server}/predict", json={"columns": good}, timeout=30)

    assert failures == []
    assert "'age' has 2, the others 3" in lengths.text
    assert both.status_code == 400 and "in one form: 'records'" in both.text
    assert after.status_code == 200 and len(after.json()["predictions"]) == 3
    assert httpx.get(f"{server}/readyz", timeout=10).status_code == 200


def test_batch_endpoint_checks_rows_like_predict(server: str, rows: list[dict]) -> None:
    too_many = httpx.post(
        f"{server}/predict_batch", json={"records": rows[:1] * (MAX_ROWS + 1)}, timeout=30
    )
    bad_row = httpx.post(
        f"{server}/predict_batch", json={"records": [rows[0], dict(rows[1], age="x")]}, timeout=30
    )

    assert too_many.status_code == 400 and f"at most {MAX_ROWS}" in too_many.text
    assert bad_row.status_code == 400
    assert bad_row.json()["detail"][0]["loc"] == ["records", 1, "age"]


def test_served_inputs_and_predictions_are_profiled(
    server: str, project: Settings, rows: list[dict]
) -> None:
    from driftloop.monitoring.profiles import list_profiles, read_profile, read_view
    from driftloop.versioning.factory import open_store

    store = open_store(project)
    reply = httpx.post(f"{server}/predict", json={"records": rows[:7]}, timeout=30)
    assert reply.status_code == 200
    deadline = time.monotonic() + 60
    profiles = []
    while not profiles and time.monotonic() < deadline:
        time.sleep(0.5)
        if store.branch_exists("monitoring"):
            profiles = list_profiles(store, dataset="credit_risk", kind="serving")

    assert profiles, "no serving profile was written"
    view = read_view(read_profile(store, profiles[0]))
    columns = set(view.get_columns())
    assert {"age", "purpose", "prediction.probability", "prediction.label"} <= columns
    assert profiles[0].key.startswith("credit_risk-v1-")


def test_nulls_and_unknown_categories_are_scored(server: str, rows: list[dict]) -> None:
    row = dict(rows[0], income=None, debt_to_income=None, purpose="crypto")

    reply = httpx.post(f"{server}/predict", json={"records": [row]}, timeout=30)

    assert reply.status_code == 200, reply.text
    prediction = reply.json()["predictions"][0]
    assert prediction["warnings"] == [
        "feature 'purpose': unknown category 'crypto', scored as missing"
    ]


def _input_warnings(server: str, feature: str, kind: str) -> float:
    """``driftloop_input_warnings_total`` for one feature and kind, as ``/metrics`` shows it."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{server}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "driftloop_input_warnings_total"
        and sample.labels == {"feature": feature, "kind": kind}
    )


def test_out_of_range_input_is_scored_with_a_warning_and_counted(
    server: str, rows: list[dict]
) -> None:
    before = _input_warnings(server, "income", "range")

    records = [rows[0], dict(rows[0], income=5_000_000.0)]
    reply = httpx.post(f"{server}/predict", json={"records": records}, timeout=30)

    assert reply.status_code == 200, reply.text
    assert [p["warnings"] for p in reply.json()["predictions"]] == [
        [],
        ["feature 'income': 5000000 is above the learned maximum 278100, scored as sent"],
    ]
    assert _input_warnings(server, "income", "range") == before + 1


def test_schema_fuzz_finds_no_server_error(server: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    schema = schemathesis.openapi.from_url(f"{server}/docs.json")
    failures: list[str] = []
    calls: list[int] = []
    for path in ("/predict", "/predict_batch"):
        operation = schema[path]["POST"]
        for mode in schemathesis.GenerationMode:

            @settings(
                max_examples=25,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(mode))
            def fuzz(case: schemathesis.Case) -> None:
                reply = case.call(base_url=server, timeout=30)
                calls.append(reply.status_code)
                if reply.status_code >= 500:
                    failures.append(f"{case.path} {reply.status_code} {case.body!r:.300}")

            fuzz()

    assert failures == []
    assert len(calls) >= 50 and {200, 400} <= set(calls)
    assert httpx.get(f"{server}/readyz", timeout=10).status_code == 200


def test_promotion_swaps_the_model_without_failing_a_request(
    server: str, registry: Registry, rows: list[dict]
) -> None:
    seen: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=server, timeout=30) as http:
            while not stop.is_set():
                reply = http.post("/predict", json={"records": rows[:2]})
                if reply.status_code != 200:
                    errors.append(f"{reply.status_code} {reply.text[:200]}")
                else:
                    seen.append(reply.json()["model_version"])

    thread = threading.Thread(target=client)
    thread.start()
    try:
        while len(seen) < 20 and not errors:
            time.sleep(0.05)
        registry.move_alias("credit_risk", "champion", 2, actor="tests", reason="swap test")
        deadline = time.monotonic() + 60
        while (not seen or seen[-1] != 2) and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
        settled = len(seen)
        while len(seen) < settled + 20 and time.monotonic() < deadline and not errors:
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
        registry.move_alias("credit_risk", "champion", 1, actor="tests", reason="restore")

    assert errors == []
    switch = seen.index(2)
    assert set(seen[:switch]) == {1} and set(seen[switch:]) == {2}
    assert httpx.get(f"{server}/metadata", timeout=10).json()["version"] in {1, 2}


def test_metadata_shows_the_switch_and_the_rollback(server: str, registry: Registry) -> None:
    def version_after_move(version: int) -> int:
        registry.move_alias("credit_risk", "champion", version, actor="tests", reason="meta")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = httpx.get(f"{server}/metadata/full", headers=ADMIN, timeout=10).json()
            if shown["version"] == version:
                return shown["aliases"]["champion"]
            time.sleep(0.1)
        return -1

    try:
        assert version_after_move(2) == 2
        assert version_after_move(1) == 1
    finally:
        registry.move_alias("credit_risk", "champion", 1, actor="tests", reason="restore")


# --- Rung 3: build the Bento and serve it ---


def test_build_the_bento_and_serve_it(
    project: Settings, registry: Registry, rows: list[dict]
) -> None:
    from bento.packaging import model_tag, package_version
    from driftloop.versioning.factory import open_store

    version = registry.get_version("credit_risk", 1)
    store = open_store(project)
    tag, archive = package_version(project, version, store)
    models_head = store.resolve(project.models_branch)

    assert package_version(project, version, store) == (tag, archive)
    assert store.resolve(project.models_branch) == models_head
    with tarfile.open(fileobj=io.BytesIO(store.read_object(models_head, archive))) as bento:
        assert "./bento.yaml" in bento.getnames()
    name, _, bento_version = tag.partition(":")
    folder = bentoml_home(project) / "bentos" / name / bento_version
    assert (folder / "env" / "docker" / "Dockerfile").exists()
    assert (folder / "src" / "driftloop" / "serving" / "scoring.py").exists()
    bento_yaml = (folder / "bento.yaml").read_text()
    assert f"model_tag: {model_tag(version)}" in bento_yaml

    # Without a registry URL the Bento serves exactly the version it carries.
    process, url = _serve(project, tag, DRIFTLOOP_HOME=str(project.home_dir / "elsewhere"))
    try:
        reply = httpx.post(f"{url}/predict", json={"records": rows[:3]}, timeout=30)
        metadata = httpx.get(f"{url}/metadata/full", headers=ADMIN, timeout=10).json()
    finally:
        stop_server(process)

    assert reply.status_code == 200, reply.text
    assert reply.json()["model_version"] == 1
    assert metadata["source"] == f"bento:{model_tag(version)}"
    assert metadata["watcher"] is None


# --- The guard and the cap on a real server; stopping `driftloop serve` ---


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, repo_dir: Path) -> Iterator[tuple[str, Path]]:
    """A server of its own champion with both tokens and a cap of one request in flight.

    Yields its URL and its registry's database file.
    """
    settings = make_settings(tmp_path_factory.mktemp("guarded") / "home", repo_dir)
    train_version(settings, day=0)
    process, url = _serve(
        settings,
        "bento.service:DriftloopService",
        DRIFTLOOP_SERVING_TOKEN=CLIENT_TOKEN,
        DRIFTLOOP_SERVING_MAX_CONCURRENCY="1",
        DRIFTLOOP_SERVING_PROFILE_SECONDS="0",
    )
    yield url, settings.home_dir / "registry.db"
    stop_server(process)


def test_the_prediction_token_is_required_but_not_by_health(
    guarded: tuple[str, Path], rows: list[dict]
) -> None:
    url, _ = guarded
    body = {"records": rows[:2]}

    assert httpx.post(f"{url}/predict", json=body, timeout=30).status_code == 401
    assert httpx.post(f"{url}/predict", json=body, headers=ADMIN, timeout=30).status_code == 200
    assert httpx.post(f"{url}/predict", json=body, headers=CLIENT, timeout=30).status_code == 200
    assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200


def test_lineage_and_watcher_errors_are_shown_to_the_admin_token_only(
    guarded: tuple[str, Path],
) -> None:
    url, registry_db = guarded
    # The watcher's next polls fail, and its error names the registry's database.
    with sqlite3.connect(registry_db) as database:
        database.execute("ALTER TABLE registry_aliases RENAME TO registry_aliases_hidden")
    try:
        deadline = time.monotonic() + 60
        error = None
        while error is None and time.monotonic() < deadline:
            full = httpx.get(f"{url}/metadata/full", headers=ADMIN, timeout=10)
            error = full.json()["watcher"]["last_error"]
            time.sleep(0.2)
        public = httpx.get(f"{url}/metadata", headers=CLIENT, timeout=10)
        as_client = httpx.get(f"{url}/metadata/full", headers=CLIENT, timeout=10)
        wrong = httpx.get(f"{url}/metadata/full", headers={"Authorization": "Bearer x"}, timeout=10)
        without = httpx.get(f"{url}/metadata/full", timeout=10)
    finally:
        with sqlite3.connect(registry_db) as database:
            database.execute("ALTER TABLE registry_aliases_hidden RENAME TO registry_aliases")

    assert error is not None and str(registry_db) in error
    assert full.json()["lineage"]["artifact_sha256"]
    assert public.status_code == 200
    assert public.json()["version"] == 1 and public.json()["data_commit"]
    assert "purpose" in public.json()["request_schema"]["properties"]
    assert not {"lineage", "watcher", "aliases", "source"} & set(public.json())
    assert str(registry_db) not in public.text and "artifact" not in public.text
    assert (as_client.status_code, wrong.status_code, without.status_code) == (403, 401, 401)
    for refused in (as_client, wrong, without):
        assert "lineage" not in refused.text and str(registry_db) not in refused.text


def _start_slow_request(url: str, body: bytes) -> socket.socket:
    """A /predict whose body stops after its first bytes: in flight until the rest is sent."""
    host, port = url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=30)
    head = (
        f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {CLIENT_TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    connection.sendall(head.encode() + body[:10])
    return connection


def test_the_concurrency_cap_answers_503_and_the_server_serves_on(
    guarded: tuple[str, Path], rows: list[dict]
) -> None:
    url, _ = guarded
    body = json.dumps({"records": rows[:3]}).encode()
    slow = _start_slow_request(url, body)
    try:
        # The slow request reaches the service on its own connection: wait until it counts.
        deadline = time.monotonic() + 60
        refused = httpx.post(f"{url}/predict", content=body, headers=CLIENT, timeout=30)
        while refused.status_code == 200 and time.monotonic() < deadline:
            refused = httpx.post(f"{url}/predict", content=body, headers=CLIENT, timeout=30)
        ready = httpx.get(f"{url}/readyz", timeout=10)
        metrics = httpx.get(f"{url}/metrics", timeout=10)
        slow.sendall(body[10:])
        answer = http.client.HTTPResponse(slow)
        answer.begin()
        finished = answer.status, json.loads(answer.read())
    finally:
        slow.close()
    after = httpx.post(f"{url}/predict", content=body, headers=CLIENT, timeout=30)
    while after.status_code == 503 and time.monotonic() < deadline:
        after = httpx.post(f"{url}/predict", content=body, headers=CLIENT, timeout=30)

    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "1"
    assert "requests in flight" in refused.json()["error"]
    assert (ready.status_code, metrics.status_code) == (200, 200)
    assert finished[0] == 200 and finished[1]["model_version"] == 1
    assert after.status_code == 200, after.text


def test_sigterm_to_driftloop_serve_stops_the_service_and_its_workers(project: Settings) -> None:
    process, url = _start(project, [sys.executable, "-m", "driftloop.launcher.cli", "serve"])
    pids = tree(process.pid)
    try:
        # driftloop, BentoML's process manager and its worker (in a session of its own).
        assert len(pids) >= 3
        os.kill(process.pid, signal.SIGTERM)

        assert process.wait(timeout=120) == 128 + signal.SIGTERM
        assert running(pids) == []
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/readyz", timeout=10)
    finally:
        kill(pids)
        stop_server(process)
