"""Alerts on drift, retrain outcomes and the retrain circuit breaker: logged, optionally POSTed."""

from __future__ import annotations

import logging
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from driftloop.config.monitoring import AlertSettings
from driftloop.exceptions import AlertDeliveryError

AlertEvent = Literal[
    "retrain_triggered",
    "retrain_withheld",
    "retrain_succeeded",
    "retrain_failed",
    "breaker_tripped",
    "monitor_failed",
]
_SEVERE: frozenset[str] = frozenset({"retrain_failed", "breaker_tripped", "monitor_failed"})

log = logging.getLogger(__name__)


class Alert(BaseModel):
    """One alert; it is the JSON body a webhook receives."""

    model_config = ConfigDict(frozen=True)

    event: AlertEvent
    title: str
    message: str
    dataset: str | None = None
    details: dict[str, JsonValue] = Field(default_factory=dict)
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: following it would carry the token to another host."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def send_alert(alert: Alert, settings: AlertSettings) -> bool:
    """Log the alert, then POST it as JSON to the configured webhook, if any.

    Returns:
        Whether a webhook received it (``False`` when none is configured).

    Raises:
        AlertDeliveryError: the webhook did not answer with a 2xx status in time; the
            alert has been logged regardless.
    """
    level = logging.ERROR if alert.event in _SEVERE else logging.WARNING
    log.log(level, "[%s] %s: %s", alert.event, alert.title, alert.message)
    if settings.webhook_url is None:
        return False
    url = settings.webhook_url.get_secret_value()
    # Errors name the host only: the rest of a webhook URL is often its secret.
    host = urllib.parse.urlsplit(url).netloc.rpartition("@")[2]
    headers = {"Content-Type": "application/json", "User-Agent": "driftloop-alerts"}
    if settings.webhook_token is not None:
        headers["Authorization"] = f"Bearer {settings.webhook_token.get_secret_value()}"
    request = urllib.request.Request(
        url, data=alert.model_dump_json().encode(), headers=headers, method="POST"
    )
    try:
        with _NO_REDIRECTS.open(request, timeout=settings.webhook_timeout_seconds) as reply:
            status = reply.status
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = f"HTTP {exc.code}" if isinstance(exc, urllib.error.HTTPError) else str(exc)
        raise AlertDeliveryError(
            f"alert {alert.event!r} not delivered to the webhook at {host}: {reason}", host=host
        ) from exc
    if not 200 <= status < 300:
        raise AlertDeliveryError(
            f"alert {alert.event!r} not accepted by the webhook at {host}: HTTP {status}",
            host=host,
        )
    return True
