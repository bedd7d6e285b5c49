"""Notifiers for task and DAG callbacks: retrain outcomes, the circuit breaker, failures.

Every alert is logged and, when ``monitoring.alerts.webhook_url`` is set, POSTed as JSON.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, get_args

from airflow.sdk import BaseNotifier

if TYPE_CHECKING:
    from airflow.sdk import Context


class DriftloopNotifier(BaseNotifier):
    """Send one alert from a callback, e.g. ``on_failure_callback`` of the monitor DAG.

    :param event: the alert's kind, one of :data:`driftloop.monitoring.alerts.AlertEvent`.
    :param title: a one-line summary (templated).
    :param message: the body (templated).
    """

    template_fields: Sequence[str] = ("title", "message")

    def __init__(self, *, event: str, title: str, message: str) -> None:
        from driftloop.monitoring.alerts import AlertEvent

        super().__init__()
        if event not in get_args(AlertEvent):
            raise ValueError(f"event must be one of {get_args(AlertEvent)} (got {event!r})")
        self.event = event
        self.title = title
        self.message = message

    def notify(self, context: Context) -> None:
        """Log the alert and POST it to the webhook, if one is configured.

        Raises:
            AlertDeliveryError: the webhook did not accept it.
        """
        from driftloop.config import get_settings
        from driftloop.monitoring.alerts import Alert, send_alert

        settings = get_settings()
        send_alert(
            Alert.model_validate(
                {
                    "event": self.event,
                    "title": self.title,
                    "message": self.message,
                    "dataset": settings.dataset,
                    "details": _run_details(context),
                }
            ),
            settings.monitoring.alerts,
        )

    async def async_notify(self, context: Context) -> None:
        """Send from the triggerer (deadline alerts) without blocking its event loop."""
        await asyncio.to_thread(self.notify, context)


class RetrainOutcomeNotifier(BaseNotifier):
    """Record a drift-triggered retrain's outcome in the retrain guards, and alert on it.

    Put it on the task that triggers the train DAG and waits for it
    (``TriggerDagRunOperator(wait_for_completion=True)``)::

        on_success_callback=RetrainOutcomeNotifier(success=True),
        on_failure_callback=RetrainOutcomeNotifier(success=False),

    A failure that completes ``monitoring.guards.breaker_failures`` failures in a row
    opens the circuit breaker, which stops further retrains, and sends a
    ``breaker_tripped`` alert. The outcome is recorded once per monitor run, however
    often the callback fires.

    :param success: whether this callback reports success (``on_success_callback``)
        or failure (``on_failure_callback``).
    """

    def __init__(self, *, success: bool) -> None:
        super().__init__()
        self.success = success

    def notify(self, context: Context) -> None:
        """Record the outcome; alert on it, and on a tripped breaker.

        Raises:
            AlertDeliveryError: the webhook did not accept an alert (the outcome is recorded).
            RegistryError: the guard state could not be updated.
        """
        from driftloop.config import get_settings
        from driftloop.monitoring.guards import RetrainGuard
        from driftloop.monitoring.retrain import settle_retrain
        from driftloop.spec import load_spec
        from driftloop_provider.hooks.registry import registry_url

        settings = get_settings()
        spec = load_spec(settings.dataset_spec_path)
        guard = RetrainGuard(
            url=registry_url(settings), scope=spec.name, settings=settings.monitoring.guards
        )
        details = _run_details(context)
        settle_retrain(
            guard,
            settings.monitoring.alerts,
            success=self.success,
            dataset=spec.name,
            key=f"{details['dag_id']}/{details['run_id']}",
            details=details,
            error=context.get("exception"),
        )


def _run_details(context: Context) -> dict[str, Any]:
    ti = context.get("ti")
    return {
        "dag_id": getattr(context.get("dag"), "dag_id", None) or getattr(ti, "dag_id", None),
        "run_id": context.get("run_id"),
        "task_id": getattr(ti, "task_id", None),
    }
