"""Hooks: turn Airflow Connections into driftloop core clients."""
