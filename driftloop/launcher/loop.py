"""The whole closed loop on a running Airflow stack, as ``make demo`` tells it.

generate data → ingest good batches and a bad one (quarantined) → train → champion → Bento →
serve → traffic → a baseline drift check → drifted batches arrive → the monitor detects drift →
retraining is triggered with the reason → the new model is evaluated → promoted or not →
the service switches models.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from driftloop.config import Settings
from driftloop.config.promotion import CHAMPION
from driftloop.launcher.models import model_name
from driftloop.launcher.service import start_service
from driftloop.launcher.stack import AirflowStack, StackError

INGEST, TRAIN, MONITOR = "driftloop_ingest", "driftloop_train", "driftloop_drift_monitor"
START = date(2026, 1, 1)
DRIFT = {"income": 0.6, "interest_rate": 0.6}
WEAK_MODEL = {"max_depth": 1, "num_boost_round": 3, "eta": 0.05}


@dataclass
class LoopReport:
    """What happened, for the summary and for the tests."""

    ingested: dict[str, str] = field(default_factory=dict)
    decisions: list[str] = field(default_factory=list)
    served_versions: list[int] = field(default_factory=list)
    drift_reason: str = ""
    drift_report: str = ""
    retrain_conf: dict[str, Any] = field(default_factory=dict)
    endpoint: str = ""


def generate_loop_data(settings: Settings, *, rows: int, good_days: int) -> list[date]:
    """Good days, one corrupted day, then two drifted (but valid) days; return all the days."""
    from driftloop.data.synthetic import CorruptionConfig, GeneratorConfig, generate_batches

    good = GeneratorConfig(seed=7, rows_per_batch=rows)
    out = settings.landing_dir
    generate_batches(good, start=START, days=good_days, out_dir=out)
    bad_day = START + timedelta(days=good_days)
    corrupt = CorruptionConfig(out_of_range={"income": -1000.0})
    generate_batches(
        good.model_copy(update={"new_categories": {"purpose": ["crypto"]}, "corruption": corrupt}),
        start=bad_day,
        days=1,
        out_dir=out,
    )
    drift_start = bad_day + timedelta(days=1)
    generate_batches(
        good.model_copy(update={"shift": DRIFT}), start=drift_start, days=2, out_dir=out
    )
    return [START + timedelta(days=i) for i in range(good_days + 3)]


def ingest(stack: AirflowStack, days: list[date], say: Callable[[str], None]) -> dict[str, str]:
    """Run the ingest DAG for each day's interval on the scheduler; return each run's state."""
    states = {}
    for day in days:
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        run_id = stack.trigger(INGEST, logical_date=end)
        states[day.isoformat()] = stack.wait_for_run(INGEST, run_id)
        verdict = "published" if states[day.isoformat()] == "success" else "QUARANTINED"
        say(f"ingest {day}: {verdict}")
    return states


def train(stack: AirflowStack, reason: str, say: Callable[[str], None], **overrides: object) -> str:
    """Run the train DAG; return the registry's decision for it."""
    run_id = stack.trigger(TRAIN, conf={"reason": reason, **overrides})
    state = stack.wait_for_run(TRAIN, run_id, timeout=1800)
    if state != "success":
        raise StackError(f"{TRAIN} run {run_id} ended {state}")
    verdict = _last_decision(stack.settings)
    say(f"train ({reason}): {verdict}")
    return verdict


def http(settings: Settings, method: str, path: str, body: object = None) -> tuple[int, Any]:
    """One request to the service; return (status, decoded JSON or text)."""
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.serving_port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def sample_records(settings: Settings, day: date, count: int) -> list[dict[str, Any]]:
    """Records of a landed day, as a client application would send them."""
    from driftloop.data.sources import read_file

    frame = read_file(settings.landing_dir / f"applications_{day.isoformat()}.csv").head(count)
    return json.loads(frame.drop(columns=["default"]).to_json(orient="records"))


def wait_for_monitor(stack: AirflowStack, run_id: str, say: Callable[[str], None]) -> str:
    """Wait for a monitor run (its sensor defers to the triggerer while it waits)."""
    state = stack.wait_for_run(MONITOR, run_id, timeout=1800)
    say(f"drift monitor run {run_id}: {state}")
    if state != "success":
        raise StackError(f"{MONITOR} run {run_id} ended {state}")
    return state


def run_loop(
    stack: AirflowStack, *, rows: int, good_days: int, say: Callable[[str], None]
) -> LoopReport:
    """Drive the whole loop on a started stack; return what happened."""
    settings = stack.settings
    report = LoopReport(endpoint=f"http://127.0.0.1:{settings.serving_port}")
    days = generate_loop_data(settings, rows=rows, good_days=good_days)
    say(f"generated {len(days)} daily batches in {settings.landing_dir}")
    stack.wait_for_dags(INGEST, TRAIN, MONITOR)
    stack.unpause(INGEST)
    stack.unpause(TRAIN)
    report.ingested = ingest(stack, days[: good_days + 1], say)
    report.decisions.append(train(stack, "demo: first model", say))
    report.decisions.append(train(stack, "demo: weak challenger", say, **WEAK_MODEL))

    service = start_service(settings)
    try:
        status, answer = http(
            settings, "POST", "/predict", {"records": sample_records(settings, days[0], 2)}
        )
        say(f"POST /predict -> {status}: {json.dumps(answer)[:300]}")
        report.served_versions.append(answer["model_version"])
        bad = {"records": [{"age": "forty"}]}
        status, answer = http(settings, "POST", "/predict", bad)
        say(f"POST /predict (bad) -> {status}: {json.dumps(answer)[:300]}")
        status, answer = http(settings, "GET", "/metadata")
        say(f"GET /metadata -> {status}: version {answer.get('version')}")

        # The monitor's first run finds nothing the champion has not seen (its training
        # batches are never judged); then the drifted batches arrive and are judged.
        stack.unpause(MONITOR)
        wait_for_monitor(stack, _first_run(stack, MONITOR), say)
        report.ingested |= ingest(stack, days[good_days + 1 :], say)
        run_id = stack.trigger(MONITOR)
        wait_for_monitor(stack, run_id, say)

        retrains = [r for r in stack.runs(TRAIN) if (r.get("conf") or {}).get("drifted_features")]
        if retrains:
            report.retrain_conf = retrains[-1]["conf"]
            report.drift_reason = str(report.retrain_conf.get("reason"))
            report.drift_report = str(report.retrain_conf.get("report"))
            say(f"drift triggered {TRAIN}: {report.drift_reason}")
            report.decisions.append(_last_decision(settings))
            say(f"retrain: {report.decisions[-1]}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            version = http(settings, "GET", "/metadata")[1].get("version")
            if version == _champion(settings):
                break
            time.sleep(2)
        report.served_versions.append(
            http(settings, "POST", "/predict", {"records": sample_records(settings, days[-1], 1)})[
                1
            ]["model_version"]
        )
        say(f"the service now answers with version {report.served_versions[-1]}")
    finally:
        _stop(service)
    return report


def _first_run(stack: AirflowStack, dag_id: str, timeout: float = 120) -> str:
    """The run the scheduler creates when a DAG is unpaused."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = stack.runs(dag_id)
        if runs:
            return runs[0]["dag_run_id"]
        time.sleep(2)
    raise StackError(f"the scheduler created no run of {dag_id} in {timeout}s")


def _last_decision(settings: Settings) -> str:
    from driftloop.registry import Registry

    last = Registry(url=settings.registry_database_url).decisions(model_name(settings))[-1]
    return (
        f"version {last.version} {'PROMOTED' if last.promoted else 'NOT promoted'}: {last.reason}"
    )


def _champion(settings: Settings) -> int | None:
    from driftloop.registry import Registry

    champion = Registry(url=settings.registry_database_url).get_alias(
        model_name(settings), CHAMPION
    )
    return champion.version if champion else None


def _stop(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)
