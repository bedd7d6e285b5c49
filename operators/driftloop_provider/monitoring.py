"""Drift-monitoring operators: profile batches, score drift, gate retraining, send alerts.

Composed in the monitor DAG as::

    NewProfileSensor >> ScoreQualityOperator >> ScoreDriftOperator >> RetrainGateOperator
    NewProfileSensor >> ScoreDriftOperator
    ScoreQualityOperator >> RetrainGateOperator >> [TriggerDagRunOperator, SendAlertOperator]

The drift check runs after the quality check so that its report shows both; it runs
when the quality check skipped too (nothing new labelled).

Each ``execute()`` calls one function of :mod:`driftloop.monitoring` and returns a small dict.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from driftloop_provider.base import (
    DriftloopBaseOperator,
    DriftloopBranchOperator,
    DriftloopResources,
)
from driftloop_provider.triggers import parse_instant

if TYPE_CHECKING:
    from airflow.sdk import Context

    from driftloop.monitoring.guards import RetrainGuard

RUNNING_STATES = ["queued", "running"]


def retrain_guard(resources: DriftloopResources) -> RetrainGuard:
    """The retrain guards of the dataset's model, kept in the registry's database."""
    from driftloop.monitoring.guards import RetrainGuard

    return RetrainGuard(
        url=resources.registry_url,
        scope=resources.spec.name,
        settings=resources.settings.monitoring.guards,
    )


class ProfileBatchesOperator(DriftloopBaseOperator):
    """Profile every batch published on ``main`` that has no batch profile yet.

    Catches up on its own, so it fits after ``publish`` in the ingest DAG or first in
    the monitor DAG. Returns ``{"profiled": [batch keys], "rows": n, "commit": id}``.

    With outlets (the ingest DAG's ``BATCH_PROFILES``), each outlet's Asset event carries
    ``{"dataset", "batches", "rows", "commit"}``, and a run that wrote no profile (a re-run,
    a batch profiled already) skips: Airflow emits an event for every outlet of a task that
    succeeds, and an event must mean a profile was written. A labels-only dataset's batches
    (late labels) have nothing to profile: the task skips for them too.

    :param commit: the commit of ``main`` to profile, e.g. the publish task's
        ``commit_id`` (templated); empty: main's head.
    """

    template_fields: Sequence[str] = ("commit",)

    def __init__(self, *, commit: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commit = commit

    def execute(self, context: Context) -> dict[str, Any]:
        """Profile the missing batches; return their keys, row count and main's commit."""
        from driftloop.exceptions import MonitoringError
        from driftloop.monitoring.steps import profile_new_batches

        commit = self.commit or self.store.resolve(self.settings.main_branch)
        try:
            written = profile_new_batches(self.store, self.spec, self.settings, commit=commit)
        except MonitoringError as bad:
            raise AirflowFailException(f"cannot profile batches: {bad}") from bad
        self.log.info("Profiled %s batches of %s at %s", len(written), self.spec.name, commit)
        profiled = {
            "profiled": [p.key for p in written],
            "rows": sum(p.rows for p in written),
            "commit": commit,
        }
        if not self.outlets:
            return profiled
        if not written:
            reason = (
                f"{self.spec.name} is a labels-only dataset: nothing to profile"
                if self.spec.labels_only
                else f"every batch of {self.spec.name} at {commit} has a profile"
            )
            raise AirflowSkipException(f"{reason}: no event to send")
        event = {
            "dataset": self.spec.name,
            "batches": profiled["profiled"],
            "rows": profiled["rows"],
            "commit": commit,
        }
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = event
        return profiled


class ScoreDriftOperator(DriftloopBaseOperator):
    """Score the champion's window against its reference when something new arrived.

    The window is what the champion was not trained on: the batches published after its
    training data and its serving profiles since it went live
    (:func:`~driftloop.monitoring.steps.check_drift`). Writes the JSON and HTML report to
    the monitoring branch, moves the checkpoint, logs what was compared (version,
    reference, each batch and its rows, the serving windows, what is still settling),
    sets the summary as the ``extra`` of every outlet's Asset event, and returns
    :meth:`DriftResult.summary() <driftloop.monitoring.drift.DriftResult.summary>`:
    ``drifted``, ``reason``, ``drifted_features``, ``signature``, ``scores``,
    ``model_version``, ``reference``, ``batches``, ``serving``, ``waiting``,
    ``report_json``, ``report_html``. Skips, saying why and what waits, when there is
    nothing to judge (nothing new in the window, too few rows, no champion with a
    reference profile).

    The quality check's summary (``quality``) goes into the report, JSON and HTML (its
    "Model quality" section); it does not change the drift verdict, and the gate reads it
    on its own. Run it with ``trigger_rule="none_failed_min_one_success"`` after the
    quality task, so that a skipped quality check (its XCom resolves to ``None``) leaves a
    report saying quality was not scored, and a failed one fails this task upstream.

    :param since: ISO timestamp overriding the checkpoint (templated).
    :param quality: the output of :class:`~driftloop_provider.quality.ScoreQualityOperator`
        (templated): :class:`~driftloop.monitoring.quality.QualitySummary` as a dict; ``None``:
        not scored in this run. Fails, without retrying, when it is not such a summary.
    """

    template_fields: Sequence[str] = ("since", "quality")

    def __init__(self, *, since: str | None = None, quality: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.since = since
        self.quality = quality

    def execute(self, context: Context) -> dict[str, Any]:
        """Check drift; return the summary."""
        from pydantic import ValidationError

        from driftloop.exceptions import ConfigError, DriftCheckSkipped
        from driftloop.monitoring.quality import QualitySummary
        from driftloop.monitoring.steps import run_drift_check

        try:
            since = parse_instant(self.since) if self.since else None
        except ValueError as bad:
            raise AirflowFailException(f"since {self.since!r} is not an ISO timestamp") from bad
        try:
            quality = None if self.quality is None else QualitySummary.model_validate(self.quality)
        except ValidationError as bad:
            raise AirflowFailException(f"quality is not a quality check's summary: {bad}") from bad
        try:
            result = run_drift_check(
                self.store, self.registry, self.spec, self.settings, since=since, quality=quality
            )
        except DriftCheckSkipped as skipped:
            raise AirflowSkipException(str(skipped)) from skipped
        except ConfigError as bad:
            raise AirflowFailException(f"cannot check drift: {bad}") from bad
        summary = result.summary()
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = summary
        for line in result.describe_window():
            self.log.info("%s", line)
        self.log.info("%s; report: %s", result.reason, result.report_html)
        return summary


class RetrainGateOperator(DriftloopBranchOperator):
    """Ask the retrain guards whether drift or a quality loss may trigger a retrain.

    The two signals combine as ``monitoring.retrain_on`` says (``any`` by default: either
    fires; :func:`~driftloop.monitoring.retrain.retrain_signal`). Nothing fires: no
    downstream task runs. A signal fires: ``alert_task_id`` (if given) always runs,
    and ``retrain_task_id`` runs when the guards (circuit breaker, dedupe, cooldown,
    daily budget) allow it. An admitted retrain is recorded at once, atomically, keyed
    by this run, so a retried gate triggers the same retrain rather than a second one.

    Pushes to XCom: ``decision`` (``allowed``, ``reason``, ``signature``,
    ``breaker_open``), ``retrain_conf`` (the conf for the train DAG: ``reason``, starting
    with ``quality`` or ``drift``, ``signals``, ``drifted_features``, ``evidence``,
    ``batches``, ``report``, ``report_json``, ``signature``, ``triggered_by``)
    and ``alert`` (the alert :class:`SendAlertOperator` sends).

    :param drift: the output of :class:`ScoreDriftOperator` (templated).
    :param quality: the output of :class:`~driftloop_provider.quality.ScoreQualityOperator`
        (templated); ``None``: drift alone.
    :param retrain_task_id: the task that triggers the train DAG.
    :param alert_task_id: the task that sends the drift alert.
    :param train_dag_id: the train DAG, whose queued or running runs count as "a
        retrain is running" for the dedupe guard; ``None`` to skip that lookup.
    """

    template_fields: Sequence[str] = ("drift", "quality")

    def __init__(
        self,
        *,
        drift: Any,
        quality: Any = None,
        retrain_task_id: str,
        alert_task_id: str | None = None,
        train_dag_id: str | None = "driftloop_train",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.drift = drift
        self.quality = quality
        self.retrain_task_id = retrain_task_id
        self.alert_task_id = alert_task_id
        self.train_dag_id = train_dag_id

    def choose_branch(self, context: Context) -> str | list[str]:
        """Decide; return the tasks to follow."""
        from driftloop.monitoring.retrain import gate_retrain, retrain_signal

        drift, quality = self.drift or {}, self.quality or {}
        retrain_on = self.settings.monitoring.retrain_on
        if retrain_signal(drift, quality, retrain_on) is None:
            self.log.info(
                "Nothing asks for a retrain (retrain_on=%s): %s; %s",
                retrain_on,
                drift.get("reason", "no drift check"),
                quality.get("reason", "no quality check"),
            )
            return []
        ti = context["ti"]
        running = bool(self.train_dag_id) and (
            ti.get_dr_count(dag_id=self.train_dag_id, states=RUNNING_STATES) > 0
        )
        gate = gate_retrain(
            retrain_guard(self),
            drift,
            quality=quality,
            retrain_on=retrain_on,
            dataset=self.spec.name,
            train_running=running,
            key=context["run_id"],
            triggered_by=f"{ti.dag_id}/{context['run_id']}",
        )
        ti.xcom_push(key="decision", value=gate.decision.model_dump())
        ti.xcom_push(key="retrain_conf", value=gate.conf)
        ti.xcom_push(key="alert", value=gate.alert.model_dump(mode="json"))
        allowed = gate.decision.allowed
        self.log.info("Retrain %s: %s", "allowed" if allowed else "withheld", gate.decision.reason)
        follow = [self.retrain_task_id] if allowed else []
        return follow + ([self.alert_task_id] if self.alert_task_id else [])


class SendAlertOperator(DriftloopBaseOperator):
    """Log an alert and POST it to the configured webhook (``monitoring.alerts``).

    :param alert: the alert, e.g. the ``alert`` XCom of :class:`RetrainGateOperator`
        (templated): ``event``, ``title``, ``message`` and optional ``dataset``, ``details``.
    """

    template_fields: Sequence[str] = ("alert",)

    def __init__(self, *, alert: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alert = alert

    def execute(self, context: Context) -> dict[str, Any]:
        """Send; return whether a webhook received it."""
        from pydantic import ValidationError

        from driftloop.monitoring.alerts import Alert, send_alert

        try:
            alert = Alert.model_validate(self.alert)
        except ValidationError as bad:
            raise AirflowFailException(f"not an alert: {bad}") from bad
        delivered = send_alert(alert, self.settings.monitoring.alerts)
        return {"event": alert.event, "delivered": delivered}
