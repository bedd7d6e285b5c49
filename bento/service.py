"""The driftloop BentoML service: the champion model behind ``/predict``.

Where the model comes from:
- From a built Bento (``bento.packaging.build_bento``): the Bento carries the version it
  was built for as a ``BentoModel`` (its tag is the build argument ``model_tag``), with the
  spec it was trained with and the dataset's expectation suite. When
  ``DRIFTLOOP_REGISTRY_URL`` is set, the service also follows the registry's ``champion``
  alias from there on (hot swaps need the versioned store too).
- From source (``bentoml serve bento.service:DriftloopService``): the champion of the
  registry and store named by the driftloop settings, followed as it moves; the spec and
  suite are the project's.

The alias is polled every ``serving_poll_seconds`` in a background thread; a promotion or a
rollback swaps the model between requests, never within one (``driftloop.serving``).

``/predict`` takes the rows as ``records`` (one object per row) or, for batch clients, as
``columns`` (one list per feature): the same checks, the same answers. Bad input never
reaches the model: BentoML validates the body against the request model built from the spec
(``driftloop.serving.contract.request_body``, checked a column at a time) and answers 400
with ``detail[].loc == ["records", <row>, <field>]`` or ``["columns", <field>, <row>]``;
``RequestGuard`` answers 401/403 (tokens), 413 (body size) and 415 (not JSON) before that,
and ``ConcurrencyLimit`` 503 with ``Retry-After`` once a worker has
``serving_max_concurrency`` requests in flight (BentoML's own ``traffic.max_concurrency``
answers 429 without ``Retry-After``, and divides the cap between workers).
Input the data contract frowns on (a value beyond the suite's learned range, a negative one
where it never is, a null where not nullable, an unknown category) is scored, with per-row
warnings counted in ``/metrics`` as ``driftloop_input_warnings_total{feature, kind}``
(``driftloop.serving.limits``); a missing suite only drops the range and sign warnings.
``/predict`` scores concurrent requests in shared model calls (``Coalescer``); inputs and
predictions are profiled off the request path, in a child process at a lower CPU priority
(``driftloop.serving.profiles``).

``GET /metadata`` is what a client needs (model, version, data commit, threshold, request
schema); ``GET /metadata/full`` adds the lineage, the aliases and the watcher's state with
its last error, which can name hosts: only ``serving_admin_token`` opens it.
"""

from __future__ import annotations

import functools
import gc
import json
import logging
from pathlib import Path
from typing import Annotated, Any

import bentoml
from fastapi import FastAPI
from pydantic import Field, JsonValue, SecretStr
from starlette.responses import Response

from bento.environment import PROFILE_PROCESSES
from bento.middleware import ConcurrencyLimit, RequestGuard
from bento.packaging import LINEAGE_FILE, MODEL_FILE, SCHEMA_FILE, SPEC_FILE, SUITE_FILE
from driftloop.config import Settings
from driftloop.exceptions import ConfigError, DriftloopError
from driftloop.serving.contract import (
    PredictResponse,
    VersionedPrediction,
    request_body,
    request_model,
)
from driftloop.serving.handle import ModelHandle, handle_from_artifact, open_champion
from driftloop.serving.limits import FeatureLimits, learned_limits
from driftloop.serving.profiles import ServingProfiles
from driftloop.serving.scoring import Coalescer, encode, score
from driftloop.serving.watcher import ChampionWatcher
from driftloop.spec import load_spec
from driftloop.validation.suites import load_suite
from driftloop.versioning.factory import open_store

log = logging.getLogger("driftloop.bento")

settings = Settings()
PACKAGED_TAG: str | None = getattr(bentoml.use_arguments(), "model_tag", None)


def _contract_files() -> tuple[Path, Path]:
    """The spec and suite requests are checked against: the packaged ones, else the project's."""
    if PACKAGED_TAG:
        model = bentoml.models.get(PACKAGED_TAG)
        return Path(model.path_of(SPEC_FILE)), Path(model.path_of(SUITE_FILE))
    return settings.dataset_spec_path, settings.suite_path


def _learned_limits(path: Path) -> dict[str, FeatureLimits]:
    """The learned limits of the suite at ``path``; none if it is missing or unreadable.

    Serving goes on without the suite (logged once, when the service is imported): it then
    warns about nulls and unknown categories, not about ranges and signs.
    """
    try:
        return learned_limits(load_suite(path))
    except ConfigError as exc:
        log.warning("serving without range or sign warnings: %s", exc)
        return {}


SPEC_PATH, SUITE_PATH = _contract_files()
SPEC = load_spec(SPEC_PATH)
Record = request_model(SPEC, limits=_learned_limits(SUITE_PATH))
PredictRequest = request_body(Record, max_rows=settings.serving_max_rows)
Records = Annotated[
    list[Record],
    Field(min_length=1, max_length=settings.serving_max_rows, description="Records to score"),
]

info_app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
FULL_METADATA = "/metadata/full"


@bentoml.service(
    name="driftloop",
    workers=settings.serving_workers,
    traffic={"timeout": 30},
    logging={"access": {"enabled": False}},
    tracing={"excluded_urls": ["/predict"]},
)
@bentoml.asgi_app(info_app, path="/")
class DriftloopService:
    """Scores credit applications (or whatever the dataset spec describes) with the champion."""

    packaged = bentoml.models.BentoModel(PACKAGED_TAG) if PACKAGED_TAG else None

    def __init__(self) -> None:
        self.watcher: ChampionWatcher | None = None
        self.coalescer = Coalescer()
        if self.packaged is not None:
            self._handle = _packaged_handle(self.packaged)
            follow = settings.registry_url is not None
        else:
            self._handle = open_champion(settings, SPEC).load_champion()
            follow = True
        if follow and settings.serving_poll_seconds > 0:
            self.watcher = ChampionWatcher(
                open_champion(settings, SPEC), self._handle, interval=settings.serving_poll_seconds
            )
            self.watcher.start()
        self.profiles: ServingProfiles | None = None
        if settings.serving_profile_seconds > 0:
            self.profiles = ServingProfiles(
                open_store=functools.partial(open_store, settings),
                processes=PROFILE_PROCESSES,
                spec=SPEC,
                interval=settings.serving_profile_seconds,
                max_rows=settings.serving_profile_max_rows,
                branch=settings.monitoring.branch,
                source_ref=settings.main_branch,
            )
            self.profiles.start()
        log.info("serving %s version %s", self.handle.model, self.handle.version)

    @bentoml.on_startup
    def settle_garbage_collector(self) -> None:
        """Keep the collector's pauses short in the serving worker (not in-process callers)."""
        _settle_garbage_collector()

    @bentoml.on_shutdown
    def shutdown(self) -> None:
        """Stop following the alias; write the last serving profile."""
        if self.watcher is not None:
            self.watcher.stop()
        if self.profiles is not None:
            self.profiles.stop()

    @property
    def handle(self) -> ModelHandle:
        """The model for the next request."""
        return self.watcher.handle if self.watcher is not None else self._handle

    # The body is the one positional-only argument: BentoML hands over the validated model
    # as it is, and answers a Response as it is (it would otherwise build PredictResponse and
    # stream it in chunks).
    @bentoml.api(route="/predict", output_spec=PredictResponse)
    async def predict(self, body: PredictRequest, /) -> Response:
        """Score rows sent as records or as columns; the answer names the model version."""
        scores = await self.coalescer.score(self.handle, body.batch)
        if self.profiles is not None:
            self.profiles.record(scores)
        return Response(scores.json(), media_type="application/json")

    @bentoml.api(route="/predict_batch", batchable=True, max_batch_size=4096, max_latency_ms=20)
    async def predict_batch(self, records: Records) -> list[VersionedPrediction]:
        """Score records batched with other requests (adaptive batching); rows name versions."""
        scores = score(self.handle, encode(records))
        if self.profiles is not None:
            self.profiles.record(scores)
        return scores.rows()

    @info_app.get("/metadata")
    def metadata(self) -> dict[str, JsonValue]:
        """What a client needs: model, version, data commit, threshold and request schema."""
        return _public_metadata(self.handle)

    @info_app.get(FULL_METADATA)
    def full_metadata(self) -> dict[str, JsonValue]:
        """``/metadata`` plus lineage, source, aliases and the watcher's state (admin token)."""
        handle = self.handle
        return {
            **_public_metadata(handle),
            **handle.describe(full=True),
            "aliases": self._aliases(),
            "watcher": self.watcher.status() if self.watcher is not None else None,
        }

    def _aliases(self) -> dict[str, int] | None:
        if self.watcher is None:
            return None
        try:
            return self.watcher.loader.registry.aliases(self.handle.model)
        except DriftloopError:
            return None


def _settle_garbage_collector() -> None:
    """Keep the cyclic garbage collector's pauses short while requests are served.

    Measured on the 1-row benchmark: full collections paused the worker for 100-350 ms every
    1-2 s (p99 200 ms against a 2 ms median). What the worker has loaded by now (about 450k
    objects) lives as long as it does, so it is frozen out of the collector's sight. And
    BentoML's timeout middleware keeps a timer alive for ``traffic.timeout`` seconds per
    request (about 90k at 3k requests/s): collected every 700 net allocations, the youngest
    generation passed those timers, and the objects of the requests in flight, on toward the
    oldest one, which filled up every second or two. Collected every 10,000, it finds the
    requests' objects already freed by reference counting (p99 16 ms); cyclic garbage lives
    a little longer.
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(10_000, middle, oldest)


def _public_metadata(handle: ModelHandle) -> dict[str, JsonValue]:
    return {
        **handle.describe(),
        "request_schema": Record.model_json_schema(),
        "feature_schema": SPEC.model_dump(mode="json", include={"features", "target"}),
        "max_rows": settings.serving_max_rows,
    }


def _packaged_handle(model: Any) -> ModelHandle:
    """The handle of the model the Bento carries (checked against its checksum and spec)."""
    lineage = json.loads(Path(model.path_of(LINEAGE_FILE)).read_text(encoding="utf-8"))
    return handle_from_artifact(
        Path(model.path_of(MODEL_FILE)).read_bytes(),
        model=str(model.info.labels["model"]),
        version=int(model.info.labels["version"]),
        lineage=lineage,
        model_schema=json.loads(Path(model.path_of(SCHEMA_FILE)).read_text(encoding="utf-8")),
        spec=SPEC,
        source=f"bento:{model.tag}",
    )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


# Added first, so outermost: a request the guard refuses never takes a place under the cap.
DriftloopService.add_asgi_middleware(
    RequestGuard,
    max_body_bytes=settings.serving_max_body_bytes,
    token=_secret(settings.serving_token),
    admin_token=_secret(settings.serving_admin_token),
    admin_paths={FULL_METADATA},
)
DriftloopService.add_asgi_middleware(ConcurrencyLimit, limit=settings.serving_max_concurrency)
