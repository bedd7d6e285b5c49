"""driftloop's pages inside Airflow's api-server: read through the core, act through audits."""
