"""``make demo``: the whole closed loop on embedded defaults, narrated as it goes.

Starts real Airflow components (scheduler, dag-processor, triggerer, api-server; LocalExecutor
on SQLite), then :func:`driftloop.launcher.loop.run_loop`: ingest good batches and a bad one
(quarantined), train a champion and a weak challenger (kept out, with the reason), serve the
champion over HTTP, let drifted batches arrive, and watch the drift monitor trigger retraining
and the service switch models. Ends with a summary and exit code 0 when the loop closed.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from driftloop.config import Settings, get_settings
from driftloop.launcher.loop import run_loop
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


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit code 0 when every stage did what the demo expects.

    ``--fresh`` deletes the home folder first, so that every run tells the same story.
    """
    settings = get_settings()
    if "--fresh" in (sys.argv[1:] if argv is None else argv) and settings.home_dir.exists():
        shutil.rmtree(settings.home_dir)
    _say(
        f"home: {settings.home_dir}; starting Airflow (scheduler, dag-processor, triggerer, "
        f"api-server) ..."
    )
    with AirflowStack(settings) as stack:
        _say(f"Airflow UI: {stack.base_url}")
        report = run_loop(stack, rows=ROWS_PER_DAY, good_days=GOOD_DAYS, say=_say)
    published = [d for d, s in report.ingested.items() if s == "success"]
    quarantined = [d for d, s in report.ingested.items() if s != "success"]
    _say("summary:")
    _say(f"  batches published: {', '.join(published)}; quarantined: {', '.join(quarantined)}")
    _say(f"  main is at commit {_main_commit(settings)}")
    for decision in report.decisions:
        _say(f"  {decision}")
    _say(f"  {report.drift_reason or 'no drift detected'}")
    if report.drift_report:
        _say(f"  drift report: {_export_report(settings, report.drift_report)}")
    _say(f"  service versions seen: {report.served_versions} at {report.endpoint} (stopped)")
    _say(
        f"  the Airflow UI was at http://127.0.0.1:{settings.airflow_port}; `make up` starts it "
        "again with the endpoint and leaves both running"
    )
    closed = (
        len(quarantined) == 1
        and len(published) == GOOD_DAYS + 2
        and bool(report.retrain_conf)
        and "NOT promoted" in report.decisions[1]
    )
    return 0 if closed else 1


if __name__ == "__main__":
    sys.exit(main())
