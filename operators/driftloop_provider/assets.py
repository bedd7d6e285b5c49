"""The Airflow Assets that tie driftloop's DAGs together."""

from __future__ import annotations

from airflow.sdk import Asset

PUBLISHED_DATA = Asset(name="driftloop_published_data", uri="driftloop://data/main")
"""Updated each time a validated batch is merged into ``main``; the event carries the commit id."""

CHAMPION_MODEL = Asset(name="driftloop_champion_model", uri="driftloop://models/champion")
"""Updated when ``champion`` moves; the event carries the model and version."""

DRIFT_SCORES = Asset(name="driftloop_drift_scores", uri="driftloop://monitoring/drift")
"""Updated by every drift check; the event carries the per-feature scores and the verdict."""

BATCH_PROFILES = Asset(name="driftloop_batch_profiles", uri="driftloop://monitoring/profiles")
"""Updated when the ingest DAG writes batch profiles; the event carries the dataset, the
profiled batch keys, their rows and the commit of main they were read from. It schedules
the drift monitor."""

BATCH_QUALITY = Asset(name="driftloop_batch_quality", uri="driftloop://monitoring/quality")
"""Updated by every quality check that scored a batch; the event carries the champion's
metrics (with bootstrap intervals) on each newly labelled batch and the quality verdict."""
