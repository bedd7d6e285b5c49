"""ASGI guard in front of the service: bearer token, body size and media type.

BentoML has no authentication of its own for self-hosted serving, and it would read any
body into memory before validating it; this middleware answers those cases itself, with a
JSON error, before BentoML sees the request. Health and metrics endpoints stay open so
that probes and scrapers need no secret.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/livez", "/readyz", "/healthz", "/metrics"})
JSON_TYPES = frozenset({"application/json", ""})


class RequestGuard:
    """Reject unauthenticated, oversized and non-JSON requests with a 4xx JSON error.

    Args:
        app: The wrapped ASGI app.
        max_body_bytes: Bodies larger than this get 413, declared or streamed.
        token: Bearer token every path but ``OPEN_PATHS`` requires; ``None``: no auth.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, token: str | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._expected = f"Bearer {token}".encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer refused requests here; pass the others on with a counted body."""
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self._expected is not None and not hmac.compare_digest(
            headers.get(b"authorization", b""), self._expected
        ):
            await _error(send, 401, "missing or wrong bearer token", www_authenticate=True)
            return
        if scope["method"] == "POST":
            media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media_type.decode("latin-1") not in JSON_TYPES:
                await _error(send, 415, "send the request body as application/json")
                return
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await _error(send, 413, _too_large(self.max_body_bytes))
            return
        limit = _BodyLimit(receive, send, self.max_body_bytes)
        await self.app(scope, limit.receive, limit.send)


class _BodyLimit:
    """One request's streamed body count: past the limit, answer 413 for the app.

    The app then sees a disconnect, and whatever it sends afterwards is dropped, so the
    client gets exactly one response.
    """

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive = receive
        self._send = send
        self._limit = limit
        self._received = 0
        self._answered = False

    async def receive(self) -> Message:
        if self._answered:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limit:
                self._answered = True
                await _error(self._send, 413, _too_large(self._limit))
                return {"type": "http.disconnect"}
        return message

    async def send(self, message: Message) -> None:
        if not self._answered:
            await self._send(message)


def _too_large(limit: int) -> str:
    return f"request body is larger than {limit} bytes"


async def _error(send: Send, status: int, message: str, *, www_authenticate: bool = False) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if www_authenticate:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
