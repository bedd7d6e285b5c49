"""The Airflow Assets that tie driftloop's DAGs together."""

from __future__ import annotations

from airflow.sdk import Asset

PUBLISHED_DATA = Asset(name="driftloop_published_data", uri="driftloop://data/main")
"""Updated each time a validated batch is merged into ``main``; the event carries the commit id."""

CHAMPION_MODEL = Asset(name="driftloop_champion_model", uri="driftloop://models/champion")
"""Updated when ``champion`` moves; the event carries the model and version."""

DRIFT_SCORES = Asset(name="driftloop_drift_scores", uri="driftloop://monitoring/drift")
"""Updated by every drift check; the event carries the per-feature scores and the verdict."""
