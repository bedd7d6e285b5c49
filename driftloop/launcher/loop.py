"""The whole closed loop on a running Airflow stack, as ``make demo`` tells it.

generate data → ingest good batches and a bad one (quarantined) → train → champion → Bento →
serve → traffic → a baseline check → a batch whose labels no longer follow the features arrives
(its inputs do not move) → the champion's quality on it drops → retraining is triggered for
quality, with the evidence → drifted batches arrive → the monitor detects drift → retraining is
triggered with the reason → each new model is evaluated → promoted or not → the service switches
models.

The generated batches stand for days, which pass here in seconds: before the drifted days
arrive, the guards' record of the quality retrain is moved a day back (:func:`pass_a_day`),
so the drift retrain passes the cooldown as it would a day later. The guards keep their
defaults.

:func:`run_loop` tells it on generated data; :func:`serve_through_drift`, the part from serving
on, is shared with the loop on a user's own table (:mod:`driftloop.launcher.own_data`).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.config import Settings
from driftloop.config.promotion import CHAMPION
from driftloop.launcher.models import model_name
from driftloop.launcher.processes import stop_trees
from driftloop.launcher.service import start_service
from driftloop.launcher.stack import FINISHED, AirflowStack, StackError

if TYPE_CHECKING:
    from driftloop.data.sources import Interval

INGEST, TRAIN, MONITOR = "driftloop_ingest", "driftloop_train", "driftloop_drift_monitor"
START = date(2026, 1, 1)
DRIFT = {"income": 0.6, "interest_rate": 0.6}
RELATIONSHIP_SHIFT = 0.5
"""The degraded day: its features say nothing of its labels, and do not move."""
WEAK_MODEL = {"max_depth": 1, "num_boost_round": 3, "eta": 0.05}


@dataclass
class LoopReport:
    """What happened, for the summary and for the tests.

    ``ingested`` maps each batch to its ingest run's state; ``warnings`` each published batch
    to the validation warnings of its publish commit (empty when it passed clean).
    ``retrain_conf`` is the conf of the retrain the drifted batches triggered,
    ``quality_conf`` of the one the degraded batch triggered (empty: none was).
    """

    ingested: dict[str, str] = field(default_factory=dict)
    warnings: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    decisions: list[str] = field(default_factory=list)
    served_versions: list[int] = field(default_factory=list)
    drift_reason: str = ""
    drift_report: str = ""
    retrain_conf: dict[str, Any] = field(default_factory=dict)
    quality_conf: dict[str, Any] = field(default_factory=dict)
    endpoint: str = ""


def generate_loop_data(settings: Settings, *, rows: int, good_days: int) -> list[date]:
    """Good days, one corrupted day, one degraded day, two drifted days; return all the days.

    The degraded day's features come from the good days' distribution but its labels do
    not follow them (:data:`RELATIONSHIP_SHIFT`); the drifted days are valid but moved.
    """
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
    degraded_day = bad_day + timedelta(days=1)
    generate_batches(
        good.model_copy(update={"relationship_shift": RELATIONSHIP_SHIFT}),
        start=degraded_day,
        days=1,
        out_dir=out,
    )
    generate_batches(
        good.model_copy(update={"shift": DRIFT}),
        start=degraded_day + timedelta(days=1),
        days=2,
        out_dir=out,
    )
    return [START + timedelta(days=i) for i in range(good_days + 4)]


def day_interval(day: date) -> Interval:
    """The data interval (UTC) of one day's batch."""
    from driftloop.data.sources import Interval

    start = datetime.combine(day, datetime.min.time(), UTC)
    return Interval(start=start, end=start + timedelta(days=1))


def ingest(stack: AirflowStack, days: list[date], say: Callable[[str], None]) -> dict[str, str]:
    """Run the ingest DAG for each day's interval on the scheduler; return each run's state."""
    states = {}
    for day in days:
        run_id = stack.trigger(INGEST, logical_date=day_interval(day).end)
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


def sample_records(path: Path, target: str, count: int) -> list[dict[str, Any]]:
    """The first ``count`` rows of a landed file without their label, as a client sends them."""
    from driftloop.data.sources import read_file

    frame = read_file(path).head(count)
    return json.loads(frame.drop(columns=[target]).to_json(orient="records"))


def published_warnings(settings: Settings, dataset: str, key: str) -> list[dict[str, Any]]:
    """The validation warnings in the publish commit of ``dataset``'s batch ``key`` on main.

    None if there is no such commit.
    """
    from driftloop.data.published import names_batch_of
    from driftloop.versioning.factory import open_store

    published = next(
        (
            commit
            for commit in open_store(settings).log(settings.main_branch)
            if commit.metadata.get("batch") == key and names_batch_of(commit.metadata, dataset)
        ),
        None,
    )
    return json.loads(published.metadata.get("validation_warnings") or "[]") if published else []


def describe_warnings(warnings: list[dict[str, Any]]) -> str:
    """``N validation warnings (range: a, b; categories: c)``, or ``no validation warnings``."""
    if not warnings:
        return "no validation warnings"
    by_rule: dict[str, list[str]] = {}
    for warning in warnings:
        rule = warning.get("rule") or warning["expectation"]
        by_rule.setdefault(rule, []).append(str(warning.get("column") or "table"))
    listed = "; ".join(f"{rule}: {', '.join(columns)}" for rule, columns in by_rule.items())
    return f"{len(warnings)} validation warnings ({listed})"


def wait_for_monitor(stack: AirflowStack, run_id: str, say: Callable[[str], None]) -> str:
    """Wait for a monitor run (its sensor defers to the triggerer while it waits)."""
    state = stack.wait_for_run(MONITOR, run_id, timeout=1800)
    say(f"drift monitor run {run_id}: {state}")
    if state != "success":
        raise StackError(f"{MONITOR} run {run_id} ended {state}")
    return state


def event_runs(stack: AirflowStack, seen: set[str]) -> list[dict[str, Any]]:
    """The monitor's runs started by an Asset event (batch profiles), but for ``seen`` ones."""
    return [
        run
        for run in stack.runs(MONITOR)
        if run["run_type"] == "asset_triggered" and run["dag_run_id"] not in seen
    ]


def wait_for_event_runs(
    stack: AirflowStack, seen: set[str], say: Callable[[str], None], *, timeout: float = 1800
) -> list[str]:
    """Wait for the monitor runs that new batch profiles' Asset events start; return their ids.

    The monitor runs one at a time: an event that comes while a run is active waits in
    Airflow's queue and starts a run when that one ends. So this returns once no event is
    queued and every run they started has finished.

    Raises:
        StackError: a run failed, or the runs did not finish in time.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = event_runs(stack, seen)
        queued = stack.api("GET", f"/dags/{MONITOR}/assets/queuedEvents")["total_entries"]
        if runs and not queued and all(run["state"] in FINISHED for run in runs):
            for run in runs:
                say(f"drift monitor run {run['dag_run_id']}: {run['state']}")
            if any(run["state"] != "success" for run in runs):
                raise StackError(f"a {MONITOR} run started by new batch profiles failed")
            return [run["dag_run_id"] for run in runs]
        time.sleep(2)
    raise StackError(f"the {MONITOR} runs of new batch profiles did not finish in {timeout}s")


def run_loop(
    stack: AirflowStack,
    *,
    rows: int,
    good_days: int,
    say: Callable[[str], None],
    degraded_day: bool = True,
) -> LoopReport:
    """Drive the whole loop on generated data on a started stack; return what happened.

    Without ``degraded_day``, the degraded day is not ingested and only drift retrains.
    """
    from driftloop.data.synthetic import TARGET
    from driftloop.ingest.batch import batch_key

    settings = stack.settings
    report = LoopReport()
    days = generate_loop_data(settings, rows=rows, good_days=good_days)
    say(f"generated {len(days)} daily batches in {settings.landing_dir}")
    stack.wait_for_dags(INGEST, TRAIN, MONITOR)
    # The synthetic spec reads data intervals by event time, so ingest runs on the scheduler.
    stack.unpause(INGEST)
    stack.unpause(TRAIN)
    report.ingested = ingest(stack, days[: good_days + 1], say)
    report.decisions.append(train(stack, "demo: first model", say))
    report.decisions.append(train(stack, "demo: weak challenger", say, **WEAK_MODEL))

    def ingest_degraded() -> None:
        report.ingested |= ingest(stack, days[good_days + 1 : good_days + 2], say)

    def ingest_drifted() -> None:
        report.ingested |= ingest(stack, days[good_days + 2 :], say)

    serve_through_drift(
        stack,
        report,
        records=sample_records(_day_file(settings, days[0]), TARGET, 2),
        bad_request={"records": [{"age": "forty"}]},
        ingest_drifted=ingest_drifted,
        ingest_degraded=ingest_degraded if degraded_day else None,
        later_records=sample_records(_day_file(settings, days[-1]), TARGET, 1),
        say=say,
    )
    dataset = model_name(settings)  # the spec's name: its model's and its batches'
    for day in days:
        if report.ingested.get(day.isoformat()) == "success":  # not ingested: no degraded day
            key = batch_key(interval=day_interval(day))
            report.warnings[day.isoformat()] = published_warnings(settings, dataset, key)
    return report


def serve_through_drift(
    stack: AirflowStack,
    report: LoopReport,
    *,
    records: list[dict[str, Any]],
    bad_request: dict[str, Any],
    ingest_drifted: Callable[[], None],
    later_records: list[dict[str, Any]],
    say: Callable[[str], None],
    ingest_degraded: Callable[[], None] | None = None,
) -> None:
    """Serve the champion, let degraded and drifted data in, watch the monitor retrain.

    The service answers ``records`` and refuses ``bad_request``; the monitor's first run finds
    nothing the champion has not seen; ``ingest_degraded`` (if given) publishes batches on
    which the champion's quality drops, then ``ingest_drifted`` the drifted ones. Each time,
    the profiles' Asset events start monitor runs that judge the new batches and (on a quality
    loss or drift) trigger the train DAG and wait for it; ``report.quality_conf`` and
    ``report.retrain_conf`` get those retrains' confs. The service, once it follows the
    champion, answers ``later_records``.

    Raises:
        StackError: a monitor run failed or did not finish.
    """
    settings = stack.settings
    report.endpoint = f"http://127.0.0.1:{settings.serving_port}"
    service = start_service(settings)
    try:
        status, answer = http(settings, "POST", "/predict", {"records": records})
        say(f"POST /predict -> {status}: {json.dumps(answer)[:300]}")
        report.served_versions.append(answer["model_version"])
        status, answer = http(settings, "POST", "/predict", bad_request)
        say(f"POST /predict (bad) -> {status}: {json.dumps(answer)[:300]}")
        status, answer = http(settings, "GET", "/metadata")
        say(f"GET /metadata -> {status}: version {answer.get('version')}")

        # The monitor's first run finds nothing the champion has not seen (its training
        # batches are never judged); then the drifted batches arrive, and the Asset events
        # of their profiles start the runs that judge them.
        stack.unpause(MONITOR)
        wait_for_monitor(stack, _first_run(stack, MONITOR), say)
        if ingest_degraded is not None:
            report.quality_conf = _retrain_after(stack, report, ingest_degraded, say)
            pass_a_day(settings, model_name(settings))
        report.retrain_conf = _retrain_after(stack, report, ingest_drifted, say)
        if report.retrain_conf:
            report.drift_reason = str(report.retrain_conf.get("reason"))
            report.drift_report = str(report.retrain_conf.get("report"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            version = http(settings, "GET", "/metadata")[1].get("version")
            if version == _champion(settings):
                break
            time.sleep(2)
        answer = http(settings, "POST", "/predict", {"records": later_records})[1]
        report.served_versions.append(answer["model_version"])
        say(f"the service now answers with version {report.served_versions[-1]}")
    finally:
        stop_trees(service)


def pass_a_day(settings: Settings, scope: str) -> None:
    """Let a day pass for ``scope``'s retrain guards (generated days arrive seconds apart)."""
    from driftloop.monitoring.guards import RetrainGuard

    RetrainGuard(
        url=settings.registry_database_url, scope=scope, settings=settings.monitoring.guards
    ).move_back(timedelta(days=1))


def _retrain_after(
    stack: AirflowStack,
    report: LoopReport,
    ingest_batches: Callable[[], None],
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Publish batches, wait for the monitor runs their events start; the retrain they asked for.

    Returns the conf of the train run the monitor triggered meanwhile (it waits for that run
    to end before it finishes), or ``{}`` when it triggered none; that run's decision is added
    to ``report.decisions``.
    """
    monitored = {run["dag_run_id"] for run in stack.runs(MONITOR)}
    trained = {run["dag_run_id"] for run in stack.runs(TRAIN)}
    ingest_batches()
    wait_for_event_runs(stack, monitored, say)
    retrains = [
        run
        for run in stack.runs(TRAIN)
        if run["dag_run_id"] not in trained and (run.get("conf") or {}).get("signals")
    ]
    if not retrains:
        return {}
    conf = dict(retrains[-1]["conf"])
    say(f"{' and '.join(conf['signals'])} triggered {TRAIN}: {conf['reason']}")
    report.decisions.append(_last_decision(stack.settings))
    say(f"retrain: {report.decisions[-1]}")
    return conf


def _day_file(settings: Settings, day: date) -> Path:
    """The file :func:`generate_loop_data` landed for ``day``."""
    return settings.landing_dir / f"applications_{day.isoformat()}.csv"


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
