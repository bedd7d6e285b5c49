"""Drift monitoring: profiles, drift scores and reports, retrain guards, alerts.

Modules: :mod:`~driftloop.monitoring.profiles` (build, merge and store profiles),
:mod:`~driftloop.monitoring.drift` (scores, verdict, report),
:mod:`~driftloop.monitoring.sketches` (what a column's sketches say),
:mod:`~driftloop.monitoring.report_html` (the drift report's self-contained page),
:mod:`~driftloop.monitoring.steps` (the loop's steps and its checkpoint),
:mod:`~driftloop.monitoring.guards` (cooldown, dedupe, budget, circuit breaker),
:mod:`~driftloop.monitoring.alerts` and :mod:`~driftloop.config.monitoring`.
whylogs is imported only when a profile is built or read.
"""
