"""The stack's Celery mode, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.launcher.stack import AirflowStack, CeleryWorker, StackError, node_hostname


def test_celery_workers_without_a_broker_are_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW__CELERY__BROKER_URL", raising=False)
    monkeypatch.setenv("AIRFLOW__CELERY__RESULT_BACKEND", "db+postgresql://x@127.0.0.1/x")
    stack = AirflowStack(Settings(home=tmp_path), workers=(CeleryWorker("alpha"),))

    assert stack.executor == "CeleryExecutor"
    with pytest.raises(StackError, match="AIRFLOW__CELERY__BROKER_URL") as caught:
        stack.start()
    assert "RESULT_BACKEND" not in str(caught.value)
    assert not stack.processes


def test_without_workers_the_stack_runs_the_local_executor(tmp_path: Path) -> None:
    assert AirflowStack(Settings(home=tmp_path)).executor == "LocalExecutor"


def test_a_worker_names_itself_to_airflow(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = CeleryWorker("beta")
    monkeypatch.setenv("DRIFTLOOP_NODE_NAME", worker.node())

    assert node_hostname() == worker.node()
    assert worker.node().startswith("beta@")


def _api_answering(answers: list[tuple[int, bytes]]):
    """A real HTTP server on a free port answering each request with the next of ``answers``."""
    import http.server
    import threading

    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path == "/auth/token":
                token = b'{"access_token": "t"}'
                self.send_response(201)
                self.send_header("Content-Length", str(len(token)))
                self.end_headers()
                self.wfile.write(token)
                return
            assert self.headers["Authorization"] == "Bearer t"
            seen.append(self.path)
            code, body = answers[min(len(seen), len(answers)) - 1]
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.mark.parametrize(
    ("answers", "calls", "outcome"),
    [
        # SQLite was busy twice, then the run was created
        ([(500, b'{"detail": {"reason": "Database error"}}')] * 2 + [(200, b'{"ok": 1}')], 3, 1),
        # busy every time: the third answer is the error
        ([(500, b'{"detail": {"reason": "Database error"}}')], 3, None),
        # any other error is not retried
        ([(409, b'{"detail": "exists"}'), (200, b"{}")], 1, None),
    ],
)
def test_a_database_error_of_the_api_server_is_retried(
    tmp_path: Path, answers, calls, outcome
) -> None:
    server, seen = _api_answering(answers)
    try:
        settings = Settings(home=tmp_path / "home", airflow_port=server.server_address[1])
        stack = AirflowStack(settings)
        if outcome is None:
            with pytest.raises(StackError, match=r"POST /dags/d/dagRuns answered (500|409)"):
                stack.api("POST", "/dags/d/dagRuns", {})
        else:
            assert stack.api("POST", "/dags/d/dagRuns", {}) == {"ok": outcome}
    finally:
        server.shutdown()
    assert seen == ["/api/v2/dags/d/dagRuns"] * calls


def test_the_stack_has_real_logins_kept_private(tmp_path: Path) -> None:
    from driftloop.launcher.stack import passwords_file, stack_env, stack_logins

    settings = Settings(home=tmp_path / "home")
    logins, fresh = stack_logins(settings)
    again, fresh_again = stack_logins(settings)
    assert fresh and not fresh_again and logins == again
    assert set(logins) == {"admin", "viewer"} and len(set(logins.values())) == 2
    assert passwords_file(settings).stat().st_mode & 0o777 == 0o600
    env = stack_env(settings)
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] == "False"
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin,viewer:viewer"
