"""``make demo``: the loop on embedded defaults, narrated as it goes.

1. Generates seeded credit-risk batches (one a day, the last one corrupted) and runs
   ``driftloop_ingest`` through Airflow for each day: good batches are published to ``main``,
   the bad one is quarantined on its branch with the reasons.
2. Runs ``driftloop_train`` on the published data: the first model becomes champion; a
   second, deliberately weak model is registered and kept out, with the reason.
"""

from __future__ import annotations

import shutil
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
            _say(f"{day}: rejected:\n{note['message']}")
        _say(f"{day}: {outcomes[day]}")
    return outcomes


WEAK_MODEL = {"max_depth": 1, "num_boost_round": 3, "eta": 0.05}


def train_twice(settings: Settings) -> list[str]:
    """Train a champion, then a weak challenger; return what the registry decided each time."""
    from driftloop.registry import Registry

    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    verdicts = []
    for reason, overrides in (("demo: first model", {}), ("demo: weak challenger", WEAK_MODEL)):
        _say(f"training through driftloop_train ({reason}) ...")
        outcome = run_dag_once(settings, "driftloop_train", conf={"reason": reason, **overrides})
        if not outcome.succeeded:
            _say(f"driftloop_train failed:\n{outcome.output[-3000:]}")
            return verdicts
        last = registry.decisions("credit_risk")[-1]
        verdict = "PROMOTED to champion" if last.promoted else "registered, NOT promoted"
        verdicts.append(verdict)
        _say(f"version {last.version}: {verdict}: {last.reason}")
    champion = registry.get_alias("credit_risk", "champion")
    if champion is not None:
        lineage = champion.lineage
        _say(
            f"champion: version {champion.version}, trained on data commit "
            f"{lineage.data_commit[:12]}, roc_auc {lineage.metrics['roc_auc']:.3f}"
        )
    return verdicts


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit code 0 when every stage did what the demo expects.

    ``--fresh`` deletes the home folder first, so that every run tells the same story.
    """
    settings = get_settings()
    if "--fresh" in (sys.argv[1:] if argv is None else argv) and settings.home_dir.exists():
        shutil.rmtree(settings.home_dir)
    _say(f"home: {settings.home_dir}")
    days = generate_demo_data(settings)
    _say(f"generated {len(days)} daily batches in {settings.landing_dir}")
    ensure_airflow_db(settings)
    outcomes = ingest_days(settings, days)
    published = [d for d, o in outcomes.items() if o.startswith("published")]
    quarantined = [d for d, o in outcomes.items() if o.startswith("QUARANTINED")]
    _say(f"ingest: {len(published)} batches published, {len(quarantined)} quarantined")
    verdicts = train_twice(settings)
    _say(
        f"summary: {len(published)} batches published, {len(quarantined)} quarantined; "
        f"training: {'; '.join(verdicts)}"
    )
    _say("next: `.venv/bin/driftloop models list`, `driftloop models show 1`")
    expected = (
        len(published) == GOOD_DAYS
        and len(quarantined) == 1
        and verdicts == ["PROMOTED to champion", "registered, NOT promoted"]
    )
    return 0 if expected else 1


if __name__ == "__main__":
    sys.exit(main())
