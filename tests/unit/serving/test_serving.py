"""The serving core: request contract, loading the champion, hot swaps, batching, the guard."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from bento.middleware import ConcurrencyLimit, RequestGuard
from driftloop.config import Settings
from driftloop.exceptions import ArtifactCorrupt, ChampionNotSet, ServingError
from driftloop.registry import ModelVersion, Registry
from driftloop.serving.contract import request_model
from driftloop.serving.handle import ChampionLoader, ModelHandle, open_champion
from driftloop.serving.scoring import Coalescer, encode, predict, score
from driftloop.serving.watcher import ChampionWatcher
from driftloop.spec import DatasetSpec
from driftloop.training.features import model_frame


@pytest.fixture()
def registry(project: Settings):
    registry = Registry(url=project.registry_database_url)
    yield registry
    registry.close()


def _records(spec: DatasetSpec, rows: list[dict]) -> list:
    return TypeAdapter(list[request_model(spec)]).validate_python(rows)


def test_served_probabilities_equal_the_training_path(champion, spec, rows) -> None:
    import pandas as pd

    response = predict(champion, _records(spec, rows))

    expected = champion.booster.inplace_predict(model_frame(pd.DataFrame(rows), spec))
    served = np.array([p.probability for p in response.predictions])
    np.testing.assert_allclose(served, expected, rtol=1e-6)
    assert response.model_version == 1 and response.data_commit == champion.data_commit
    assert [p.id for p in response.predictions] == [row["application_id"] for row in rows]
    assert {p.label for p in response.predictions} <= {"yes", "no"}
    assert all((p.label == "yes") == (p.probability >= 0.5) for p in response.predictions)


def test_nulls_and_unknown_categories_score_as_missing_with_a_warning(champion, spec, rows) -> None:
    row = dict(rows[0], income=None, purpose="crypto")
    missing = dict(rows[0], income=None, purpose=None)

    unknown, null = predict(champion, _records(spec, [row, missing])).predictions

    assert unknown.probability == pytest.approx(null.probability)
    assert unknown.warnings == ["feature 'purpose': unknown category 'crypto', scored as missing"]
    # income may be null; purpose may not (spec: nullable false), which is worth a warning.
    assert null.warnings == [
        "feature 'purpose': null, but the feature is not nullable, scored as missing"
    ]


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        ({"age": "forty"}, "age", "float_type"),
        ({"age": True}, "age", "float_type"),
        ({"income": 1e300}, "income", "less_than_equal"),
        ({"purpose": ["car"]}, "purpose", None),
        ({"home_ownership": {"a": 1}}, "home_ownership", None),
    ],
)
def test_invalid_values_are_named_by_row_and_field(spec, rows, change, field, kind) -> None:
    bad = [rows[0], rows[1], dict(rows[2], **change)]

    with pytest.raises(ValidationError) as caught:
        _records(spec, bad)

    locations = [error["loc"][:2] for error in caught.value.errors()]
    assert all(location == (2, field) for location in locations)
    if kind:
        assert kind in {error["type"] for error in caught.value.errors()}


def test_a_missing_feature_is_an_error_but_extra_keys_are_ignored(spec, rows) -> None:
    row = {k: v for k, v in rows[0].items() if k != "savings"}

    with pytest.raises(ValidationError) as caught:
        _records(spec, [dict(rows[0], target="yes"), row])

    assert [e["loc"] for e in caught.value.errors()] == [(1, "savings")]
    assert caught.value.errors()[0]["type"] == "missing"


def test_non_finite_numbers_are_rejected_from_json(spec, rows) -> None:
    import json

    body = json.dumps([rows[0]]).replace('"age": ', '"age": NaN, "x": ', 1)

    with pytest.raises(ValidationError) as caught:
        TypeAdapter(list[request_model(spec)]).validate_json(body)

    assert caught.value.errors()[0]["loc"][:2] == (0, "age")


def test_features_with_awkward_names_get_safe_attributes(spec) -> None:
    renamed = {"age": "age in years", "income": "model_config", "savings": "class"}
    features = [f.model_copy(update={"name": renamed.get(f.name, f.name)}) for f in spec.features]
    odd = spec.model_copy(update={"features": features})
    record = request_model(odd)
    row = {f.name: (1.5 if f.kind == "numeric" else f.categories[0]) for f in odd.features}

    encoded = encode([record.model_validate(dict(row, **{"age in years": 42.0}))])

    assert encoded.matrix.shape == (1, len(features))
    assert encoded.matrix[0, 0] == 42.0
    assert set(record.model_json_schema()["properties"]) >= {"age in years", "model_config"}


def test_the_champion_loads_with_its_lineage(champion: ModelHandle, registry) -> None:
    version = registry.get_version("credit_risk", 1)

    assert (champion.model, champion.version, champion.source) == ("credit_risk", 1, "registry")
    assert champion.data_commit == version.lineage.data_commit
    assert champion.lineage["artifact_sha256"] == version.lineage.artifact_sha256
    assert champion.describe(full=True)["lineage"]["code_version"] == version.lineage.code_version
    assert set(champion.describe()) == {"model", "version", "data_commit", "threshold"}


def test_no_champion_is_a_clear_error(project: Settings, spec, tmp_path: Path) -> None:
    other = Registry(url=f"sqlite:///{tmp_path / 'empty.db'}")
    other.upgrade()
    loader = ChampionLoader(registry=other, store=open_champion(project, spec).store, spec=spec)

    with pytest.raises(ChampionNotSet, match="not registered"):
        loader.load_champion()


def _corrupt_version(registry: Registry, good: ModelVersion) -> ModelVersion:
    lineage = good.lineage.model_copy(update={"artifact_sha256": "0" * 64})
    return registry.register_version(
        "credit_risk", run_key="corrupt", lineage=lineage, created_by="tests"
    )


def _move(registry: Registry, version: int) -> None:
    registry.move_alias("credit_risk", "champion", version, actor="tests", reason="tests")


def test_watcher_swaps_on_promotion_and_rollback_and_skips_a_corrupt_version(
    loader, registry, champion
) -> None:
    corrupt = _corrupt_version(registry, registry.get_version("credit_risk", 1))
    watcher = ChampionWatcher(loader, champion, interval=60)
    try:
        _move(registry, corrupt.version)
        with pytest.raises(ArtifactCorrupt, match=re.escape(corrupt.lineage.artifact_uri)):
            loader.load(corrupt.version)
        assert watcher.poll() is False
        assert watcher.handle is champion
        assert str(corrupt.version) in watcher.status()["rejected_versions"]

        _move(registry, 2)
        assert watcher.poll() is True
        assert watcher.handle.version == 2
        assert watcher.poll() is False

        _move(registry, 1)
        assert watcher.poll() is True
        assert watcher.handle.version == 1
    finally:
        _move(registry, 1)


def test_a_request_keeps_the_handle_it_took(loader, registry, champion, spec, rows) -> None:
    watcher = ChampionWatcher(loader, champion, interval=60)
    taken = watcher.handle
    try:
        _move(registry, 2)
        watcher.poll()
        assert predict(taken, _records(spec, rows[:3])).model_version == 1
        assert predict(watcher.handle, _records(spec, rows[:3])).model_version == 2
    finally:
        _move(registry, 1)


def test_the_watcher_thread_follows_the_alias(loader, registry, champion) -> None:
    watcher = ChampionWatcher(loader, champion, interval=0.05)
    watcher.start()
    try:
        _move(registry, 2)
        deadline = time.monotonic() + 30
        while watcher.handle.version != 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watcher.handle.version == 2
    finally:
        watcher.stop()
        _move(registry, 1)


def test_coalesced_requests_equal_single_ones_and_keep_versions_apart(
    loader, champion, spec, rows
) -> None:
    challenger = loader.load(2)
    requests = [
        (champion if i % 2 else challenger, _records(spec, rows[i * 7 : i * 7 + 1 + i % 5]))
        for i in range(20)
    ]
    coalescer = Coalescer(max_rows=8)

    async def run_all():
        scored = await asyncio.gather(*(coalescer.score(h, encode(r)) for h, r in requests))
        return [scores.response() for scores in scored]

    responses = asyncio.run(run_all())

    for (handle, records), response in zip(requests, responses, strict=True):
        alone = predict(handle, records)
        assert response.model_version == handle.version
        assert [p.probability for p in response.predictions] == pytest.approx(
            [p.probability for p in alone.predictions], rel=1e-6
        )


# --- The ASGI guard in front of the service ---


async def _echo(scope, receive, send) -> None:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"%d" % len(body)})


def _guarded(token: str | None = None, admin_token: str | None = None) -> httpx.AsyncClient:
    app = RequestGuard(
        _echo, max_body_bytes=100, token=token, admin_token=admin_token, admin_paths={"/admin"}
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def test_guard_requires_the_token_except_on_health_endpoints() -> None:
    async def scenario():
        async with _guarded("s3cret") as client:
            return [
                (await client.post("/predict", json={})).status_code,
                (
                    await client.post("/predict", json={}, headers={"Authorization": "Bearer x"})
                ).status_code,
                (
                    await client.post(
                        "/predict", json={}, headers={"Authorization": "Bearer s3cret"}
                    )
                ).status_code,
                (await client.get("/readyz")).status_code,
                (await client.get("/metrics")).status_code,
            ]

    assert asyncio.run(scenario()) == [401, 401, 200, 200, 200]


@pytest.mark.parametrize(
    ("token", "admin_token", "sent", "expected"),
    [
        ("client", "admin", None, {"/predict": 401, "/admin": 401}),
        ("client", "admin", "wrong", {"/predict": 401, "/admin": 401}),
        ("client", "admin", "client", {"/predict": 200, "/admin": 403}),
        ("client", "admin", "admin", {"/predict": 200, "/admin": 200}),
        (None, "admin", None, {"/predict": 200, "/admin": 401}),
        (None, "admin", "admin", {"/predict": 200, "/admin": 200}),
        (None, None, None, {"/predict": 200, "/admin": 403}),
        ("client", None, "client", {"/predict": 200, "/admin": 403}),
    ],
)
def test_admin_paths_open_to_the_admin_token_only(
    token: str | None, admin_token: str | None, sent: str | None, expected: dict[str, int]
) -> None:
    headers = {"Authorization": f"Bearer {sent}"} if sent else {}

    async def scenario():
        async with _guarded(token, admin_token) as client:
            return {path: (await client.get(path, headers=headers)) for path in expected}

    replies = asyncio.run(scenario())
    assert {path: reply.status_code for path, reply in replies.items()} == expected
    for reply in replies.values():
        assert (reply.headers.get("www-authenticate") == "Bearer") == (reply.status_code == 401)


def test_the_admin_token_cannot_be_the_prediction_token() -> None:
    with pytest.raises(ValidationError, match="serving_admin_token must differ from serving_token"):
        Settings(serving_token="same", serving_admin_token="same")

    assert Settings(serving_token="a", serving_admin_token="b").serving_admin_token is not None


def test_guard_refuses_large_and_non_json_bodies() -> None:
    async def chunks():
        for _ in range(5):
            yield b"x" * 30

    async def scenario():
        async with _guarded() as client:
            declared = await client.post(
                "/predict", content=b"x" * 101, headers={"Content-Type": "application/json"}
            )
            streamed = await client.post(
                "/predict", content=chunks(), headers={"Content-Type": "application/json"}
            )
            form = await client.post("/predict", data={"a": "b"})
            fine = await client.post(
                "/predict",
                content=b"x" * 100,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            return declared, streamed, form, fine

    declared, streamed, form, fine = asyncio.run(scenario())
    assert (declared.status_code, streamed.status_code) == (413, 413)
    assert "larger than 100 bytes" in declared.json()["error"]
    assert form.status_code == 415
    assert (fine.status_code, fine.text) == (200, "100")


def test_the_concurrency_cap_answers_503_at_once_and_never_caps_health() -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def slow(scope, receive, send) -> None:
        if scope["path"] == "/slow":
            entered.set()
            await release.wait()
        await _echo(scope, receive, send)

    limited = ConcurrencyLimit(slow, limit=1, retry_after=2)

    async def scenario():
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            first = asyncio.create_task(client.post("/slow", content=b"abc"))
            await entered.wait()
            refused = await client.post("/predict", content=b"x")
            health = [(await client.get(path)).status_code for path in ("/readyz", "/metrics")]
            in_flight = limited.in_flight
            release.set()
            done = await first
            after = await client.post("/predict", content=b"xy")
            return refused, health, in_flight, done, after

    refused, health, in_flight, done, after = asyncio.run(scenario())
    assert refused.status_code == 503 and refused.headers["retry-after"] == "2"
    assert "1 requests in flight" in refused.json()["error"]
    assert health == [200, 200] and in_flight == 1
    assert (done.status_code, done.text) == (200, "3")
    assert (after.status_code, after.text) == (200, "2")
    assert limited.in_flight == 0


# --- Serving profiles ---


def test_serving_profiles_are_per_version_and_bounded(
    serving_profiles, loader, champion, spec, rows
) -> None:
    from driftloop.monitoring.profiles import list_profiles, read_profile, read_view

    def served(handle, batch):
        return score(handle, encode(_records(spec, batch)))

    challenger = loader.load(2)
    profiles = serving_profiles(spec=spec, worker="t1")
    for i in range(3):
        profiles.record(served(champion, rows[i : i + 2]))
    profiles.record(served(challenger, [dict(rows[0], purpose="crypto")]))

    written = profiles.flush()

    assert sorted((p.key.split("-")[1], p.rows) for p in written) == [("v1", 6), ("v2", 1)]
    listed = list_profiles(loader.store, dataset="credit_risk", kind="serving")
    assert {p.key for p in written} <= {p.key for p in listed}
    view = read_view(read_profile(loader.store, next(p for p in written if "-v2-" in p.key)))
    assert view.get_column("purpose").to_summary_dict()["counts/n"] == 1
    assert "prediction.probability" in view.get_columns()
    assert profiles.flush() == []

    sampled = serving_profiles(spec=spec, max_rows=5, worker="t2")
    for i in range(40):
        sampled.record(served(champion, rows[i : i + 1]))
    assert [p.rows for p in sampled.flush()] == [5]


def test_serving_profiles_are_made_in_a_nicer_child_that_comes_back(
    serving_profiles, champion, spec, rows
) -> None:
    profiles = serving_profiles(spec=spec, worker="t3", niceness=5)
    child = profiles._in_child(os.getpid)
    assert child != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, child) == os.getpriority(os.PRIO_PROCESS, 0) + 5

    os.kill(child, signal.SIGKILL)
    profiles.record(score(champion, encode(_records(spec, rows[:3]))))
    with pytest.raises(ServingError, match="serving-profile process died"):
        profiles.flush()
    profiles.record(score(champion, encode(_records(spec, rows[:2]))))
    assert [p.rows for p in profiles.flush()] == [2]
    assert profiles._in_child(os.getpid) != child
