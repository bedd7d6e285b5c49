from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from driftloop.config.monitoring import AlertSettings
from driftloop.exceptions import AlertDeliveryError
from driftloop.monitoring.alerts import Alert, send_alert

ALERT = Alert(
    event="breaker_tripped",
    title="Retraining stopped",
    message="3 retrains failed in a row",
    dataset="credit_risk",
    details={"consecutive_failures": 3},
)


class _Webhook(ThreadingHTTPServer):
    received: list[dict[str, Any]]
    status: int


class _Handler(BaseHTTPRequestHandler):
    server: _Webhook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append(
            {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
        )
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[_Webhook]:
    server = _Webhook(("127.0.0.1", 0), _Handler)
    server.received, server.status = [], 204
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: _Webhook, path: str = "/hooks/T000/secret-part") -> SecretStr:
    return SecretStr(f"http://127.0.0.1:{server.server_address[1]}{path}")


def test_an_alert_is_logged_without_a_webhook(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="driftloop.monitoring.alerts"):
        delivered = send_alert(ALERT, AlertSettings())

    assert not delivered
    assert "[breaker_tripped] Retraining stopped: 3 retrains failed in a row" in caplog.text


def test_an_alert_is_posted_as_json_with_the_token(webhook: _Webhook) -> None:
    settings = AlertSettings(webhook_url=_url(webhook), webhook_token=SecretStr("t0ken"))

    assert send_alert(ALERT, settings)

    (request,) = webhook.received
    assert request["path"] == "/hooks/T000/secret-part"
    assert request["headers"]["Authorization"] == "Bearer t0ken"
    assert request["json"]["event"] == "breaker_tripped"
    assert request["json"]["details"] == {"consecutive_failures": 3}
    assert Alert.model_validate(request["json"]) == ALERT


def test_a_refused_alert_raises_without_leaking_the_url(webhook: _Webhook) -> None:
    webhook.status = 500

    with pytest.raises(AlertDeliveryError, match="HTTP 500") as refused:
        send_alert(ALERT, AlertSettings(webhook_url=_url(webhook)))

    assert "secret-part" not in str(refused.value)
    assert refused.value.host == f"127.0.0.1:{webhook.server_address[1]}"


def test_an_unreachable_webhook_raises(webhook: _Webhook) -> None:
    url = _url(webhook)
    webhook.shutdown()
    webhook.server_close()

    with pytest.raises(AlertDeliveryError, match="not delivered"):
        send_alert(ALERT, AlertSettings(webhook_url=url, webhook_timeout_seconds=2))


def test_only_http_webhooks_are_accepted() -> None:
    with pytest.raises(ValidationError, match="http:// or https://"):
        AlertSettings(webhook_url=SecretStr("file:///etc/passwd"))


def test_a_redirect_is_not_followed_with_the_token(webhook: _Webhook) -> None:
    webhook.status = 307  # a redirect without Location: following it is urllib's choice
    with pytest.raises(AlertDeliveryError, match="HTTP 307"):
        send_alert(ALERT, AlertSettings(webhook_url=_url(webhook), webhook_token=SecretStr("t")))
    assert len(webhook.received) == 1


def test_plain_http_reaches_only_this_machine() -> None:
    with pytest.raises(ValidationError, match=r"https:// .*not hooks\.example\.com"):
        AlertSettings(webhook_url=SecretStr("http://hooks.example.com/T000/secret"))
    assert AlertSettings(webhook_url=SecretStr("https://hooks.example.com/T000/secret"))
