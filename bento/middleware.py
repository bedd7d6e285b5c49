"""ASGI middleware in front of the service: bearer tokens, body size, media type, load.

BentoML has no authentication of its own for self-hosted serving, and it would read any
body into memory before validating it; :class:`RequestGuard` answers those cases itself, with
a JSON error, before BentoML sees the request. :class:`ConcurrencyLimit` answers 503 when a
worker already has its cap of requests in flight. Health and metrics endpoints stay open and
uncapped so that probes and scrapers need no secret and get an answer under load.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Collection, MutableMapping, Sequence
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

    Two bearer tokens: ``token`` (prediction clients) opens every path but ``OPEN_PATHS``
    and ``admin_paths``; ``admin_token`` opens those too. On an admin path, no token or an
    unknown one gets 401, the prediction token 403, and without an ``admin_token`` every
    request gets 403: the path stays shut.

    Args:
        app: The wrapped ASGI app.
        max_body_bytes: Bodies larger than this get 413, declared or streamed.
        token: Bearer token of the prediction clients; ``None``: those paths are open.
        admin_token: Bearer token of ``admin_paths`` (it opens the other paths too).
        admin_paths: Paths only the admin token opens.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        token: str | None = None,
        admin_token: str | None = None,
        admin_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._client = _bearer(token)
        self._admin = _bearer(admin_token)
        self.admin_paths = frozenset(admin_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer refused requests here; pass the others on with a counted body."""
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        refusal = self._refusal(scope["path"], headers.get(b"authorization", b""))
        if refusal is not None:
            status, message = refusal
            await _error(send, status, message, headers=_CHALLENGE if status == 401 else ())
            return
        if scope["method"] == "POST":
            media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
            if media_type.decode("latin-1") not in JSON_TYPES:
                await _error(send, 415, "send the request body as application/json")
                return
        declared = headers.get(b"content-length")
        if declared is None:
            # A streamed body (chunked): counted as it arrives.
            limit = _BodyLimit(receive, send, self.max_body_bytes)
            await self.app(scope, limit.receive, limit.send)
        elif declared.isdigit() and int(declared) <= self.max_body_bytes:
            # The server reads no more than the declared length: nothing to count.
            await self.app(scope, receive, send)
        else:
            await _error(send, 413, _too_large(self.max_body_bytes))

    def _refusal(self, path: str, authorization: bytes) -> tuple[int, str] | None:
        """The status and message refusing ``authorization`` on ``path``; ``None``: let it in."""
        admin = _matches(authorization, self._admin)
        if path in self.admin_paths:
            if self._admin is None:
                return 403, f"{path} is closed: the service has no admin token"
            if admin:
                return None
            if _matches(authorization, self._client):
                return 403, f"{path} needs the admin token"
            return 401, "missing or wrong bearer token"
        if self._client is None or admin or _matches(authorization, self._client):
            return None
        return 401, "missing or wrong bearer token"


class ConcurrencyLimit:
    """Answer 503 with ``Retry-After`` once ``limit`` requests are in flight in this worker.

    Nothing waits in a queue: a request over the cap is answered at once, with a JSON error,
    and the client retries after ``retry_after`` seconds. ``OPEN_PATHS`` (health, metrics)
    are neither counted nor refused. One instance serves one worker's event loop, so a plain
    counter is exact.

    Args:
        app: The wrapped ASGI app.
        limit: Most requests in flight at once.
        retry_after: Seconds a refused client is told to wait.
    """

    def __init__(self, app: ASGIApp, *, limit: int, retry_after: int = 1) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = retry_after
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse the request over the cap; count the others while they run."""
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            message = f"the service has {self.limit} requests in flight; retry later"
            retry = [(b"retry-after", str(self.retry_after).encode())]
            await _error(send, 503, message, headers=retry)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


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


def _bearer(token: str | None) -> bytes | None:
    return f"Bearer {token}".encode() if token else None


def _matches(authorization: bytes, expected: bytes | None) -> bool:
    return expected is not None and hmac.compare_digest(authorization, expected)


_CHALLENGE = ((b"www-authenticate", b"Bearer"),)


async def _error(
    send: Send, status: int, message: str, *, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    body = json.dumps({"error": message}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*head, *headers]})
    await send({"type": "http.response.body", "body": body})
