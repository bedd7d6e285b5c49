"""The launcher: the command line, the demo, the local Airflow stack and the service process.

The only part of driftloop that starts Airflow or BentoML processes; the core below it
neither imports nor starts them.
"""
