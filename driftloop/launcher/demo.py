"""``driftloop demo`` (``make demo``): the whole closed loop, narrated as it goes.

Starts real Airflow components (scheduler, dag-processor, triggerer, api-server; LocalExecutor
on SQLite) and drives the loop on them. On generated data
(:func:`driftloop.launcher.loop.run_loop`): ingest good batches and a bad one (quarantined),
train a champion and a weak challenger (kept out, with the reason), serve the champion over
HTTP, let a batch arrive whose labels no longer follow its (unmoved) features and watch the
monitor retrain for the champion's quality, with the evidence, then let drifted batches arrive
and watch it retrain for drift and the service switch models. On a user's table
(``--data PATH --target COL``, :mod:`driftloop.launcher.own_data`): the same loop, without
the degraded day, on its slices, the last one shifted. Ends with a summary and exit code 0
when the loop closed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from driftloop.config import Settings
from driftloop.exceptions import DriftloopError
from driftloop.launcher.loop import LoopReport, describe_warnings, run_loop
from driftloop.launcher.stack import AirflowStack

GOOD_DAYS = 4
ROWS_PER_DAY = 3000


def _say(message: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _export_report(settings: Settings, path: str) -> Path:
    """Copy a drift report from the store's monitoring branch to a file a browser can open."""
    from driftloop.versioning.factory import open_store

    target = settings.reports_dir / "drift" / Path(path).name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(open_store(settings).read_object(settings.monitoring.branch, path))
    return target


def _main_commit(settings: Settings) -> str:
    from driftloop.versioning.factory import open_store

    return open_store(settings).resolve(settings.main_branch)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the demo (``driftloop demo``); exit code 0 when every stage did what it expects.

    Args:
        args: ``fresh`` (delete the home first, so that every run tells the same story),
            and for a user's table ``data``, ``target``, ``id`` and ``name``.
        settings: Where the demo's home is; with ``data`` they are read again with the
            table's dataset (see :func:`~driftloop.launcher.own_data.prepare_table`).

    Returns:
        0 when the loop closed, 1 when it did not, 2 for bad arguments or a home in use.
    """
    if args.data and not args.target:
        print("--data needs --target (the label column)", file=sys.stderr)
        return 2
    home = settings.home_dir
    if args.fresh and home.exists():
        shutil.rmtree(home)
    elif home.exists() and any(home.iterdir()):
        # An earlier run's champion, batches and monitor state would change the story.
        print(
            f"{home} already holds driftloop's state: run with --fresh to delete it first, "
            "or set DRIFTLOOP_HOME to a new folder",
            file=sys.stderr,
        )
        return 2
    if args.data:
        from driftloop.launcher.own_data import loop_closed, prepare_table, run_own_loop

        try:
            settings, table = prepare_table(
                settings, args.data, target=args.target, id_column=args.id, name=args.name
            )
        except DriftloopError:
            # The home was empty: leave it so, and the corrected command runs without --fresh.
            shutil.rmtree(home, ignore_errors=True)
            raise
        _say(
            f"dataset {settings.dataset!r}: learned from {table.sample_rows} rows of "
            f"{table.batches[0]}:\n{table.contract}"
        )
        _say(f"spec {settings.dataset_spec_path}, suite {settings.suite_path}")
        _say(f"batches in {settings.landing_dir}: {', '.join(p.name for p in table.batches)}")
    _say(
        f"home: {settings.home_dir}; starting Airflow (scheduler, dag-processor, triggerer, "
        f"api-server) ..."
    )
    with AirflowStack(settings) as stack:
        _say(f"Airflow UI: {stack.base_url}")
        if args.data:
            report = run_own_loop(stack, table, say=_say)
        else:
            report = run_loop(stack, rows=ROWS_PER_DAY, good_days=GOOD_DAYS, say=_say)
    if args.data:
        _summarise(settings, report, table.environment)
        return 0 if loop_closed(report, table) else 1
    _summarise(settings, report, {"DRIFTLOOP_HOME": str(settings.home_dir)})
    states = list(report.ingested.values())
    closed = (
        states.count("success") == GOOD_DAYS + 3
        and len(states) == GOOD_DAYS + 4
        and "quality" in report.quality_conf.get("signals", [])
        and "drift" in report.retrain_conf.get("signals", [])
        and "NOT promoted" in report.decisions[1]
    )
    return 0 if closed else 1


def _summarise(settings: Settings, report: LoopReport, environment: dict[str, str]) -> None:
    """Print what happened: batches, main's commit, decisions, drift, service versions.

    ``environment`` is what ``driftloop up`` needs to start the same stack again.
    """
    published = [b for b, s in report.ingested.items() if s == "success"]
    clean = [b for b in published if not report.warnings.get(b)]
    warned = [b for b in published if report.warnings.get(b)]
    quarantined = [b for b, s in report.ingested.items() if s != "success"]
    _say("summary:")
    _say(f"  batches published without warnings: {', '.join(clean) or 'none'}")
    for batch in warned:
        _say(f"  published with warnings: {batch}: {describe_warnings(report.warnings[batch])}")
    _say(f"  quarantined: {', '.join(quarantined) or 'none'}")
    _say(f"  main is at commit {_main_commit(settings)}")
    for decision in report.decisions:
        _say(f"  {decision}")
    quality = report.quality_conf.get("evidence", {}).get("quality")
    if quality:
        _say(f"  retrain for quality: {report.quality_conf['reason']}")
        _say(f"  its evidence: {json.dumps(quality)}")
    _say(f"  {report.drift_reason or 'no drift detected'}")
    if report.drift_report:
        _say(f"  drift report: {_export_report(settings, report.drift_report)}")
    _say(f"  service versions seen: {report.served_versions} at {report.endpoint} (stopped)")
    variables = " ".join(f"{name}={value}" for name, value in environment.items())
    _say(
        f"  the Airflow UI was at http://127.0.0.1:{settings.airflow_port}; "
        f"`{variables} driftloop up` starts it again with the endpoint and leaves both running"
    )
