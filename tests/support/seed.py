"""Seed a store with published demo batches through the real ingest steps (no Airflow)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from driftloop.config import Settings
from driftloop.data.sources import Interval
from driftloop.data.synthetic import GeneratorConfig, generate_batches
from driftloop.ingest.steps import publish_batch, stage_batch, validate_batch
from driftloop.spec import DatasetSpec, load_spec
from driftloop.versioning.base import VersionStore
from driftloop.versioning.factory import open_store


def publish_days(
    settings: Settings,
    *,
    start: date,
    days: int,
    rows: int,
    seed: int = 5,
    store: VersionStore | None = None,
) -> tuple[VersionStore, DatasetSpec, str]:
    """Generate ``days`` daily batches and publish each to main; return store, spec, main head."""
    spec = load_spec(settings.dataset_spec_path)
    store = store or open_store(settings)
    generate_batches(
        GeneratorConfig(seed=seed, rows_per_batch=rows),
        start=start,
        days=days,
        out_dir=settings.landing_dir,
    )
    head = ""
    for offset in range(days):
        day = datetime.combine(start + timedelta(days=offset), datetime.min.time(), UTC)
        interval = Interval(start=day, end=day + timedelta(days=1))
        batch = stage_batch(store, spec, settings=settings, interval=interval, run_id="seed")
        report = validate_batch(store, spec, batch, settings=settings)
        head = publish_batch(store, batch, report.statistics, settings=settings, run_id="seed")
    return store, spec, head
