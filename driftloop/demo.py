"""``make demo``: the loop on embedded defaults, narrated as it goes.

Generates seeded credit-risk batches (one a day, the last one corrupted), then runs
``driftloop_ingest`` through Airflow for each day: good batches are published to ``main``,
the bad one is quarantined on its branch with the reasons.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, date, datetime, timedelta

from driftloop.config import Settings, get_settings
from driftloop.orchestration import ensure_airflow_db, run_dag_once

START = date(2026, 1, 1)
GOOD_DAYS = 4
ROWS_PER_DAY = 3000


def _say(message: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {message}", flush=True)


def generate_demo_data(settings: Settings) -> list[date]:
    """Write the demo's daily batches to the landing folder; return the days."""
    from driftloop.data.synthetic import CorruptionConfig, GeneratorConfig, generate_batches

    good = GeneratorConfig(seed=7, rows_per_batch=ROWS_PER_DAY)
    generate_batches(good, start=START, days=GOOD_DAYS, out_dir=settings.landing_dir)
    bad_day = START + timedelta(days=GOOD_DAYS)
    bad = good.model_copy(
        update={
            "new_categories": {"purpose": ["crypto"]},
            "corruption": CorruptionConfig(out_of_range={"income": -1000.0}),
        }
    )
    generate_batches(bad, start=bad_day, days=1, out_dir=settings.landing_dir)
    return [START + timedelta(days=i) for i in range(GOOD_DAYS + 1)]


def ingest_days(settings: Settings, days: list[date]) -> dict[date, str]:
    """Run the ingest DAG for each day's interval; return what became of each."""
    from driftloop.ingest import ingest_branch, read_quarantine_note
    from driftloop.versioning.factory import open_store

    store = open_store(settings)
    outcomes: dict[date, str] = {}
    for day in days:
        logical_date = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
        _say(f"ingesting {day} through driftloop_ingest ...")
        outcome = run_dag_once(settings, "driftloop_ingest", logical_date=logical_date)
        key = f"{day.isoformat()}T0000Z"
        if outcome.succeeded:
            head = store.get_commit(settings.main_branch)
            outcomes[day] = f"published to main@{head.id[:12]} ({head.metadata.get('rows')} rows)"
        else:
            note = read_quarantine_note(store, key)
            outcomes[day] = f"QUARANTINED on branch {ingest_branch(key)}"
            _say(f"{day}: rejected:\n{note['message']}\n  Data Docs: {note.get('docs_path')}")
        _say(f"{day}: {outcomes[day]}")
    return outcomes


def main() -> int:
    """Run the demo; exit code 0 when every stage did what the demo expects."""
    settings = get_settings()
    _say(f"home: {settings.home_dir}")
    days = generate_demo_data(settings)
    _say(f"generated {len(days)} daily batches in {settings.landing_dir}")
    ensure_airflow_db(settings)
    outcomes = ingest_days(settings, days)
    published = [d for d, o in outcomes.items() if o.startswith("published")]
    quarantined = [d for d, o in outcomes.items() if o.startswith("QUARANTINED")]
    _say(f"summary: {len(published)} batches published, {len(quarantined)} quarantined")
    expected = len(published) == GOOD_DAYS and len(quarantined) == 1
    return 0 if expected else 1


if __name__ == "__main__":
    sys.exit(main())
