"""From a drift verdict to a retrain: the guards' decision, the train run's conf, the alerts.

The orchestrator asks :func:`gate_retrain` whether drift may trigger a retrain and gets back
what to trigger and what to tell people; when the retrain ends it calls
:func:`settle_retrain`, which records the outcome in the guards and sends the alerts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from driftloop.monitoring.alerts import Alert, send_alert
from driftloop.monitoring.guards import GuardDecision

if TYPE_CHECKING:
    from driftloop.config.monitoring import AlertSettings
    from driftloop.monitoring.guards import RetrainGuard


class RetrainGate(BaseModel):
    """The guards' decision on one drift verdict, the train run's conf and the alert."""

    model_config = ConfigDict(frozen=True)

    decision: GuardDecision
    conf: dict[str, Any]
    alert: Alert


def gate_retrain(
    guard: RetrainGuard,
    drift: dict[str, Any],
    *,
    dataset: str,
    train_running: bool,
    key: str,
    triggered_by: str,
    now: datetime | None = None,
) -> RetrainGate:
    """Ask the guards whether this drift may trigger a retrain; record it when it may.

    Args:
        guard: The dataset's retrain guards.
        drift: A drifted check's summary (:meth:`DriftResult.summary`).
        dataset: The dataset's name, for the alert.
        train_running: Whether a train run is queued or running (the dedupe guard).
        key: What makes a retried gate admit the same retrain, not a second one.
        triggered_by: Who triggers, recorded in the train run's conf.
        now: The decision's time (default: now).

    Raises:
        RegistryUnavailable: the guards' database cannot be reached.
        RegistryError: any other database error.
    """
    decision = guard.admit(now or datetime.now(UTC), drift["signature"], train_running, key=key)
    conf = {
        "reason": drift["reason"],
        "drifted_features": drift["drifted_features"],
        "report": drift.get("report_html"),
        "report_json": drift.get("report_json"),
        "signature": drift["signature"],
        "triggered_by": triggered_by,
    }
    verdict = "retrain triggered" if decision.allowed else "retrain withheld"
    alert = Alert(
        event="retrain_triggered" if decision.allowed else "retrain_withheld",
        title=f"Drift in {dataset}: {verdict}",
        message=f"{drift['reason']}. {decision.reason}.",
        dataset=dataset,
        details={
            "drifted_features": drift["drifted_features"],
            "signature": drift["signature"],
            "report": drift.get("report_html"),
            "allowed": decision.allowed,
        },
    )
    return RetrainGate(decision=decision, conf=conf, alert=alert)


def settle_retrain(
    guard: RetrainGuard,
    alerts: AlertSettings,
    *,
    success: bool,
    dataset: str,
    key: str,
    details: dict[str, Any],
    error: object = None,
) -> list[Alert]:
    """Record how a drift-triggered retrain ended, once per ``key``, and send the alerts.

    A failure that completes the breaker's count of failures in a row opens it, and adds a
    ``breaker_tripped`` alert.

    Returns:
        The alerts sent.

    Raises:
        AlertDeliveryError: the webhook did not accept an alert (the outcome is recorded).
        RegistryError: the guard state could not be updated.
    """
    outcome = guard.record_outcome(success, key=key)
    details = details | {"consecutive_failures": outcome.consecutive_failures}
    sent = [
        Alert(
            event="retrain_succeeded" if success else "retrain_failed",
            title=f"Retrain of {dataset} {'succeeded' if success else 'failed'}",
            message=(
                "the drift-triggered retrain finished"
                if success
                else f"the drift-triggered retrain failed "
                f"({outcome.consecutive_failures} in a row): {error}"
            ),
            dataset=dataset,
            details=details,
        )
    ]
    if outcome.tripped:
        sent.append(
            Alert(
                event="breaker_tripped",
                title=f"Retraining of {dataset} stopped: circuit breaker open",
                message=(
                    f"{outcome.consecutive_failures} drift-triggered retrains failed in a "
                    "row; no retrain is triggered until one succeeds or the breaker is reset"
                ),
                dataset=dataset,
                details=details,
            )
        )
    for alert in sent:
        send_alert(alert, alerts)
    return sent
