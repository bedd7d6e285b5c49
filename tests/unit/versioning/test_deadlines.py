"""The lakeFS client's deadline and retries, against servers that hang or fail on purpose.

Each server speaks plain HTTP on 127.0.0.1: one accepts connections and never answers; the
other answers from a script (status codes, then lakeFS's own bodies), recording what it got.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from driftloop.config import LakeFSSettings, Settings
from driftloop.exceptions import VersioningError
from driftloop.versioning.factory import open_store
from driftloop.versioning.lakefs import LakeFSVersionStore, lakefs_client

REPOSITORY = "repo"
BRANCHES = {
    "pagination": {"has_more": False, "next_offset": "", "results": 1, "max_per_page": 1000},
    "results": [{"id": "main", "commit_id": "c0ffee"}],
}


class SilentServer:
    """Accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return
            self.connections.append(connection)

    def accepted(self, at_least: int) -> int:
        """The number of connections accepted, once it reaches ``at_least`` (or 5 s passed)."""
        deadline = time.monotonic() + 5
        while len(self.connections) < at_least and time.monotonic() < deadline:
            time.sleep(0.01)
        return len(self.connections)

    def close(self) -> None:
        self._socket.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._socket.close()
        for connection in self.connections:
            connection.close()
        self._thread.join(timeout=5)


class ScriptedServer(ThreadingHTTPServer):
    """Answers each request with the next ``(status, body)``; the last one repeats."""

    def __init__(self, script: list[tuple[int, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)
        self.script = script
        self.requests: list[tuple[str, str]] = []
        self.endpoint = f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, method: str, path: str) -> tuple[int, Any]:
        self.requests.append((method, path))
        return self.script[min(len(self.requests), len(self.script)) - 1]


class _ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedServer

    def do_GET(self) -> None:
        self._reply("GET")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._reply("POST")

    def _reply(self, method: str) -> None:
        status, payload = self.server.answer(method, self.path.split("?")[0])
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def scripted(script: list[tuple[int, Any]]) -> ScriptedServer:
    server = ScriptedServer(script)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def store_at(endpoint: str, *, timeout_seconds: float = 5, retries: int = 2) -> LakeFSVersionStore:
    client = lakefs_client(
        endpoint, "key", "secret", timeout_seconds=timeout_seconds, retries=retries
    )
    return LakeFSVersionStore(client=client, repository=REPOSITORY)


def test_a_server_that_never_answers_fails_the_read_after_its_retries(
    silent: SilentServer,
) -> None:
    store = store_at(silent.endpoint, timeout_seconds=0.2, retries=2)

    with pytest.raises(VersioningError) as caught:
        store.list_branches()

    message = str(caught.value)
    assert message.startswith("list branches: lakeFS did not answer GET ")
    url = f"{silent.endpoint}/api/v1/repositories/{REPOSITORY}/branches"
    assert f"{url}?amount=1000 (3 attempts) within 0.2 s each (lakefs.timeout_seconds)" in message
    assert silent.accepted(at_least=3) == 3


def test_a_commit_that_got_no_answer_is_not_sent_again(silent: SilentServer) -> None:
    store = store_at(silent.endpoint, timeout_seconds=0.2, retries=2)

    with pytest.raises(
        VersioningError, match=r"commit on branch 'main': .*/commits within 0\.2 s \(lakefs"
    ):
        store.commit("main", "may or may not have happened")

    # It may have been committed: sending it again could commit twice or fail "no changes".
    assert silent.accepted(at_least=1) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_a_read_answered_with_a_transient_error_succeeds_on_retry(status: int) -> None:
    server = scripted(
        [(status, {"message": "busy"}), (status, {"message": "busy"}), (200, BRANCHES)]
    )
    try:
        assert store_at(server.endpoint, retries=2).list_branches() == ["main"]
    finally:
        server.shutdown()

    path = f"/api/v1/repositories/{REPOSITORY}/branches"
    assert server.requests == [("GET", path)] * 3


def test_a_read_that_keeps_failing_reports_the_last_answer() -> None:
    server = scripted([(503, {"message": "lakeFS is restarting"})])
    try:
        with pytest.raises(VersioningError, match=r"lakeFS answered 503 .*: lakeFS is restarting"):
            store_at(server.endpoint, retries=1).list_branches()
    finally:
        server.shutdown()

    assert len(server.requests) == 2


def test_a_commit_answered_503_is_not_repeated() -> None:
    server = scripted([(503, {"message": "try later"})])
    try:
        with pytest.raises(VersioningError, match="commit on branch 'main': lakeFS answered 503"):
            store_at(server.endpoint, retries=3).commit("main", "once")
    finally:
        server.shutdown()

    assert server.requests == [("POST", f"/api/v1/repositories/{REPOSITORY}/branches/main/commits")]


def test_an_unreachable_server_is_named_with_the_attempts() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    store = store_at(endpoint, retries=1)

    with pytest.raises(VersioningError) as caught:
        store.commit("main", "nobody there")

    message = str(caught.value)
    assert message.startswith("commit on branch 'main': cannot reach lakeFS for POST ")
    assert f"{endpoint}/api/v1/repositories/{REPOSITORY}/branches/main/commits (2 attempts)" in (
        message
    )
    assert "Connection refused" in message


def test_the_settings_set_the_deadline_and_the_retries(
    silent: SilentServer, tmp_path: Path
) -> None:
    settings = Settings(
        home=tmp_path,
        versioning_backend="lakefs",
        repository=REPOSITORY,
        lakefs=LakeFSSettings(
            endpoint=silent.endpoint,
            access_key_id="key",
            secret_access_key=SecretStr("secret"),
            timeout_seconds=0.1,
            retries=0,
        ),
    )

    with pytest.raises(VersioningError, match=r"/branches\?amount=1000 within 0\.1 s \(lakefs"):
        open_store(settings).list_branches()

    assert silent.accepted(at_least=1) == 1
