"""The pages: models, one version, batches, drift, approvals; and promote, roll back, approve.

Airflow mounts this app in its api-server without authenticating it (apache/airflow#72655), so
every route depends on Airflow's own security: reading needs a logged-in user, acting needs
the right to edit the train DAG. Every action is audited with the Airflow user's name and is a
compare-and-swap against the champion the page showed.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import jinja2
from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from driftloop_ui.charts import interval_chart, line_chart

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.monitoring.quality import QualityStore
    from driftloop.overview.quality import QualityHistory
    from driftloop.registry import Registry
    from driftloop.spec import DatasetSpec
    from driftloop.versioning.base import VersionStore

TRAIN_DAG = "driftloop_train"
APPROVAL_TASK = "approve"
CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'self'; base-uri 'none'"
)
"""Our pages: no script at all, images and forms from here only."""
REPORT_CSP = f"{CSP}; sandbox"
"""Drift reports: static pages, also sandboxed."""
DOCS_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "font-src data:; frame-ancestors 'self'; sandbox allow-scripts"
)
"""Data Docs pages: GX writes values from data into them unescaped and needs inline scripts,
so they carry everything inline and run sandboxed, in an origin of their own."""

Editor = Depends(requires_access_dag(method="PUT", param_dag_id=TRAIN_DAG))
templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True
    )
)
app = FastAPI(title="driftloop", docs_url=None, redoc_url=None, openapi_url=None)


@app.middleware("http")
async def _security_headers(request: Request, call_next: Any) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


@lru_cache(maxsize=1)
def _settings() -> Settings:
    from driftloop.config import get_settings

    return get_settings()


@lru_cache(maxsize=1)
def _spec() -> DatasetSpec:
    from driftloop.spec import load_spec

    return load_spec(_settings().dataset_spec_path)


def _registry() -> Registry:
    from driftloop.registry import open_registry

    return open_registry(_settings().registry_database_url)


@lru_cache(maxsize=1)
def _quality() -> QualityStore:
    # One per process: the store checks the schema on its first call, not on each page.
    from driftloop.monitoring.quality import QualityStore

    return QualityStore(url=_settings().registry_database_url)


def _store() -> VersionStore:
    from driftloop.versioning.factory import open_store

    return open_store(_settings())


def _page(request: Request, name: str, user: Any, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"user": user.get_name(), "dataset": _spec().name, "path": request.url.path, **context},
    )


def _champion() -> int | None:
    from driftloop.config.promotion import CHAMPION
    from driftloop.exceptions import VersionNotFound

    try:
        champion = _registry().get_alias(_spec().name, CHAMPION)
    except VersionNotFound:
        return None  # no model registered yet
    return None if champion is None else champion.version


def _actor(user: Any) -> str:
    return f"airflow-ui:{user.get_name()}"


@app.get("/")
def index(user: GetUserDep) -> RedirectResponse:
    """The models page."""
    return RedirectResponse("models", status_code=303)


@app.get("/models", response_class=HTMLResponse)
def models(request: Request, user: GetUserDep) -> HTMLResponse:
    """Every version: aliases, metrics, data commit, and the Airflow run that made it."""
    from driftloop.overview.models import version_rows

    rows = version_rows(_registry(), _spec().name)
    return _page(request, "models.html", user, rows=rows, champion=_champion(), dag=TRAIN_DAG)


@app.get("/models/{version}", response_class=HTMLResponse)
def version_page(request: Request, version: int, user: GetUserDep) -> HTMLResponse:
    """One version: lineage, quality on labelled batches, decisions, alias moves, plots."""
    from driftloop.exceptions import VersionNotFound
    from driftloop.overview.models import version_detail
    from driftloop.overview.quality import quality_history

    try:
        detail = version_detail(_registry(), _store(), _spec().name, version)
    except VersionNotFound as missing:
        raise HTTPException(404, str(missing)) from missing
    quality = quality_history(_quality(), detail.version, _settings().monitoring.quality)
    return _page(
        request,
        "version.html",
        user,
        detail=detail,
        quality=quality,
        quality_chart=_quality_chart(quality),
        champion=_champion(),
        dag=TRAIN_DAG,
    )


def _quality_chart(history: QualityHistory) -> str:
    """The rule's metric per batch with its interval, the holdout value and the rule's line."""
    metric, holdout, limit = history.metric, history.holdout, history.limit
    sign = "+" if history.lower_is_better else "\u2212"
    return interval_chart(
        [None if e is None else (e.value, e.low, e.high) for e in history.estimates()],
        [r.batch for r in history.results],
        title=f"{metric} of version {history.version} on each labelled batch",
        name=f"{metric} on the batch (bar: its interval)",
        baseline=None if holdout is None else (f"holdout {holdout:.3f}", holdout),
        limit=None
        if limit is None
        else (f"holdout {sign} tolerance {history.tolerance:g}: {limit:.3f}", limit),
    )


@app.get("/models/{version}/plots/{name}")
def plot(version: int, name: str, user: GetUserDep) -> Response:
    """A plot written by training (PNG)."""
    from driftloop.exceptions import VersionNotFound
    from driftloop.overview.models import version_detail

    try:
        plots = version_detail(_registry(), _store(), _spec().name, version).plots
    except VersionNotFound as missing:
        raise HTTPException(404, str(missing)) from missing
    if name not in plots:
        raise HTTPException(404, f"version {version} has no plot {name!r}")
    return Response(plots[name], media_type="image/png")


@app.post("/models/{version}/promote")
def promote(
    version: int,
    user: GetUserDep,
    expected_champion: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "promoted in the Airflow UI",
    _: None = Editor,
) -> RedirectResponse:
    """Make ``version`` the champion, if the champion is still the one the page showed."""
    from driftloop.config.promotion import CHAMPION

    _act(
        lambda expected: _registry().move_alias(
            _spec().name, CHAMPION, version, actor=_actor(user), reason=reason, expected=expected
        ),
        expected_champion,
    )
    return RedirectResponse(f"../{version}", status_code=303)


@app.post("/models/rollback")
def rollback(
    user: GetUserDep,
    expected_champion: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "rolled back in the Airflow UI",
    _: None = Editor,
) -> RedirectResponse:
    """Return the champion to the version before it, if it is still the one the page showed."""
    from driftloop.config.promotion import CHAMPION

    _act(
        lambda expected: _registry().rollback(
            _spec().name, CHAMPION, actor=_actor(user), reason=reason, expected=expected
        ),
        expected_champion,
    )
    return RedirectResponse("../models", status_code=303)


def _seen(expected_champion: str) -> int | None:
    """The champion version a form was shown with (empty: there was none)."""
    return int(expected_champion) if expected_champion.strip() else None


def _act(move: Any, expected_champion: str) -> None:
    from driftloop.exceptions import AliasMoved, RegistryError

    try:
        move(_seen(expected_champion))
    except AliasMoved as moved:
        raise HTTPException(409, str(moved)) from moved
    except RegistryError as refused:
        raise HTTPException(400, str(refused)) from refused


@app.get("/batches", response_class=HTMLResponse)
def batches(request: Request, user: GetUserDep) -> HTMLResponse:
    """Published and quarantined batches, with the reasons and the warnings."""
    from driftloop.overview.batches import published_batches, quarantined_batches

    store, dataset = _store(), _spec().name
    return _page(
        request,
        "batches.html",
        user,
        published=published_batches(store, _settings().main_branch, dataset),
        quarantined=quarantined_batches(store, dataset),
    )


@app.get("/batches/{key}/docs")
def data_docs(key: str, user: GetUserDep) -> Response:
    """The Data Docs page of a quarantined batch, as committed on its branch."""
    from driftloop.exceptions import ObjectNotFound, RefNotFound
    from driftloop.ingest.batch import ingest_branch
    from driftloop.ingest.quarantine import read_quarantine_note
    from driftloop.validation.datadocs import inline_page

    store, dataset = _store(), _spec().name
    try:
        note = read_quarantine_note(store, dataset, key)
        page = store.read_object(ingest_branch(dataset, key), str(note["docs_object"]))
    except (ObjectNotFound, RefNotFound, KeyError) as missing:
        raise HTTPException(404, f"no Data Docs page for batch {key!r}") from missing
    return HTMLResponse(
        inline_page(page.decode("utf-8")), headers={"Content-Security-Policy": DOCS_CSP}
    )


@app.get("/drift", response_class=HTMLResponse)
def drift(request: Request, user: GetUserDep) -> HTMLResponse:
    """Per-feature drift over time as a chart, and the newest check."""
    from driftloop.overview.drift import drift_history

    history = drift_history(_store(), _spec().name, _settings().monitoring.branch)
    labels = [check.checked_at.strftime("%m-%d %H:%M") for check in history.checks]
    chart = line_chart(history.hellinger(), labels, title="Hellinger distance per feature")
    return _page(request, "drift.html", user, history=history, chart=chart, champion=_champion())


@app.get("/drift/report/{name}")
def drift_report(name: str, user: GetUserDep) -> Response:
    """A drift report's HTML page, from the monitoring branch."""
    from driftloop.exceptions import ObjectNotFound

    if "/" in name or not name.endswith(".html"):
        raise HTTPException(404, f"no report {name!r}")
    path = f"monitoring/{_spec().name}/reports/{name}"
    try:
        page = _store().read_object(_settings().monitoring.branch, path)
    except ObjectNotFound as missing:
        raise HTTPException(404, f"no report {name!r}") from missing
    return Response(page, media_type="text/html", headers={"Content-Security-Policy": REPORT_CSP})


@app.get("/approvals", response_class=HTMLResponse)
def approvals(request: Request, user: GetUserDep) -> HTMLResponse:
    """Promotions waiting for a person, each with the evidence of its decision."""
    pending = _airflow(
        request,
        "GET",
        f"/dags/{TRAIN_DAG}/dagRuns/~/hitlDetails?response_received=false&limit=50",
    )["hitl_details"]
    rows = [_approval(request, item) for item in pending]
    return _page(request, "approvals.html", user, rows=rows, champion=_champion())


@app.post("/approvals/{run_id}")
def answer(
    request: Request,
    run_id: str,
    user: GetUserDep,
    choice: Annotated[str, Form()],
    expected_champion: Annotated[str, Form()],
    _: None = Editor,
) -> RedirectResponse:
    """Approve or reject a pending promotion through Airflow's HITL API, audited."""
    if choice not in ("Approve", "Reject"):
        raise HTTPException(400, f"choice must be Approve or Reject, not {choice!r}")
    expected = _seen(expected_champion)
    champion = _champion()
    if champion != expected:
        raise HTTPException(
            409,
            f"the champion is version {champion}, not {expected} as the page showed: "
            "look at the evidence again",
        )
    registered = _registered(request, run_id)
    _airflow(
        request,
        "PATCH",
        f"/dags/{TRAIN_DAG}/dagRuns/{run_id}/taskInstances/{APPROVAL_TASK}/-1/hitlDetails",
        {"chosen_options": [choice], "params_input": {}},
    )
    _registry().record_decision(
        registered["model"],
        registered["version"],
        promoted=choice == "Approve",
        reason=f"{choice.lower()}d by {user.get_name()} in the Airflow UI",
        evidence={"champion_seen": expected, "airflow_run_id": run_id},
        actor=_actor(user),
        run_key=f"{run_id}/{APPROVAL_TASK}",
    )
    return RedirectResponse("../approvals", status_code=303)


def _approval(request: Request, item: dict[str, Any]) -> dict[str, Any]:
    run_id = item["task_instance"]["dag_run_id"]
    registered = _registered(request, run_id)
    decisions = [
        d for d in _registry().decisions(registered["model"]) if d.version == registered["version"]
    ]
    return {
        "run_id": run_id,
        "subject": item.get("subject"),
        "body": item.get("body"),
        "version": registered["version"],
        "decision": decisions[0] if decisions else None,
    }


def _registered(request: Request, run_id: str) -> dict[str, Any]:
    entry = _airflow(
        request,
        "GET",
        f"/dags/{TRAIN_DAG}/dagRuns/{run_id}/taskInstances/register/xcomEntries/return_value",
    )
    value = entry["value"]
    return json.loads(value) if isinstance(value, str) else value


def _airflow(
    request: Request, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Call Airflow's REST API as the user who called us (their token, their rights)."""
    header = request.headers.get("authorization", "")
    token = header[7:] if header.lower().startswith("bearer ") else None
    token = token or request.cookies.get(COOKIE_NAME_JWT_TOKEN, "")
    base = f"{request.url.scheme}://{request.url.netloc}/api/v2"
    response = httpx.request(
        method,
        base + path,
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if response.status_code >= 400:
        raise HTTPException(response.status_code, f"Airflow answered: {response.text}")
    return response.json()
