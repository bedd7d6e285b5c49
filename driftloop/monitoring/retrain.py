"""From a drift or quality verdict to a retrain: the guards' decision, the run's conf, alerts.

The orchestrator asks :func:`gate_retrain` whether drift, or a loss of the champion's quality
on labelled new batches, may trigger a retrain (``monitoring.retrain_on`` says how the two
combine, :func:`retrain_signal`) and gets back
what to trigger and what to tell people; when the retrain ends it calls
:func:`settle_retrain`, which records the outcome in the guards and sends the alerts.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from driftloop.exceptions import MonitoringError
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


RetrainOn = Literal["any", "drift", "quality", "both"]


def retrain_signal(
    drift: dict[str, Any] | None, quality: dict[str, Any] | None, retrain_on: RetrainOn
) -> dict[str, Any] | None:
    """What asks for a retrain, given the drift and quality verdicts; ``None``: nothing does.

    ``any``: drift or a quality loss; ``drift`` or ``quality``: that signal alone (the
    other is reported but triggers nothing); ``both``: drift and a quality loss in the same
    check. The reason leads with the quality loss when it fires (``"quality: ..."``), then
    drift (``"drift: ..."``).

    Args:
        drift: a drift check's summary (:meth:`DriftResult.summary`), or ``None``.
        quality: a quality verdict's summary (:meth:`QualityVerdict.summary`), or ``None``.
        retrain_on: how the two combine (``monitoring.retrain_on``).
    """
    drifted = bool(drift and drift.get("drifted"))
    degraded = bool(quality and quality.get("degraded"))
    fires = {
        "any": drifted or degraded,
        "drift": drifted,
        "quality": degraded,
        "both": drifted and degraded,
    }[retrain_on]
    if not fires:
        return None
    fired = [
        (name, summary)
        for name, summary, on in (("quality", quality, degraded), ("drift", drift, drifted))
        if on and retrain_on in ("any", "both", name)
    ]
    batches = {b["key"] for b in (drift or {}).get("batches", [])} if drifted else set()
    batches |= set((quality or {}).get("batches", [])) if degraded else set()
    signatures = "+".join(summary["signature"] for _, summary in fired)
    return {
        "signals": [name for name, _ in fired],
        "reason": "; ".join(summary["reason"] for _, summary in fired),
        "signature": (
            signatures if len(fired) == 1 else hashlib.sha256(signatures.encode()).hexdigest()[:16]
        ),
        "drifted_features": drift["drifted_features"] if drift and drifted else [],
        "evidence": {name: _evidence(name, summary) for name, summary in fired},
        "batches": sorted(batches),
        "report": (drift or {}).get("report_html") if drifted else None,
        "report_json": (drift or {}).get("report_json") if drifted else None,
    }


def _evidence(signal: str, summary: dict[str, Any]) -> dict[str, Any]:
    """What a fired signal stands on, for the conf and the alert."""
    if signal == "quality":
        return summary["evidence"] | {"model_version": summary.get("model_version")}
    return {
        "drifted_features": summary["drifted_features"],
        "target_rows": summary.get("target_rows"),
        "model_version": summary.get("model_version"),
    }


def gate_retrain(
    guard: RetrainGuard,
    drift: dict[str, Any] | None,
    *,
    dataset: str,
    train_running: bool,
    key: str,
    triggered_by: str,
    quality: dict[str, Any] | None = None,
    retrain_on: RetrainOn = "any",
    now: datetime | None = None,
) -> RetrainGate:
    """Ask the guards whether drift or a quality loss may trigger a retrain; record it when it may.

    Args:
        guard: The dataset's retrain guards.
        drift: A drift check's summary (:meth:`DriftResult.summary`), or ``None``.
        dataset: The dataset's name, for the alert.
        train_running: Whether a train run is queued or running (the dedupe guard).
        key: What makes a retried gate admit the same retrain, not a second one.
        triggered_by: Who triggers, recorded in the train run's conf.
        quality: A quality verdict's summary (:meth:`QualityVerdict.summary`), or ``None``.
        retrain_on: How the two signals combine (see :func:`retrain_signal`).
        now: The decision's time (default: now).

    Raises:
        MonitoringError: neither signal asks for a retrain under ``retrain_on``.
        RegistryUnavailable: the guards' database cannot be reached.
        RegistryError: any other database error.
    """
    signal = retrain_signal(drift, quality, retrain_on)
    if signal is None:
        raise MonitoringError(
            f"nothing asks for a retrain of {dataset} (retrain_on={retrain_on!r}): "
            f"drift: {(drift or {}).get('reason')}; quality: {(quality or {}).get('reason')}"
        )
    decision = guard.admit(now or datetime.now(UTC), signal["signature"], train_running, key=key)
    conf = {
        "reason": signal["reason"],
        "signals": signal["signals"],
        "drifted_features": signal["drifted_features"],
        "evidence": signal["evidence"],
        "batches": signal["batches"],
        "report": signal["report"],
        "report_json": signal["report_json"],
        "signature": signal["signature"],
        "triggered_by": triggered_by,
    }
    verdict = "retrain triggered" if decision.allowed else "retrain withheld"
    what = " and ".join({"drift": "Drift", "quality": "Quality loss"}[s] for s in signal["signals"])
    alert = Alert(
        event="retrain_triggered" if decision.allowed else "retrain_withheld",
        title=f"{what} in {dataset}: {verdict}",
        message=f"{signal['reason']}. {decision.reason}.",
        dataset=dataset,
        details={
            "signals": signal["signals"],
            "drifted_features": signal["drifted_features"],
            "evidence": signal["evidence"],
            "batches": signal["batches"],
            "signature": signal["signature"],
            "report": signal["report"],
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
