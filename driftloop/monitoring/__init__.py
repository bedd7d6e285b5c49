"""Drift monitoring: profiles, drift scores and reports, retrain guards, alerts.

Modules: :mod:`~driftloop.monitoring.profiles` (build, merge and store profiles),
:mod:`~driftloop.monitoring.drift` (scores, verdict, report),
:mod:`~driftloop.monitoring.steps` (the loop's steps and its checkpoint),
:mod:`~driftloop.monitoring.guards` (cooldown, dedupe, budget, circuit breaker),
:mod:`~driftloop.monitoring.alerts` and :mod:`~driftloop.config.monitoring`.
whylogs is imported only when a profile is built or read.
"""
