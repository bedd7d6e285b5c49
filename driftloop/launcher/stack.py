"""Real Airflow components, started and stopped as one stack, driven over the REST API.

Scheduler, dag-processor, triggerer and api-server; by default on the embedded defaults
(LocalExecutor on SQLite). Given Celery workers, the stack runs the CeleryExecutor instead:
each worker is its own ``airflow celery worker`` process with its own environment (its own
``DRIFTLOOP_HOME``, as on its own machine), and the metadata database and broker come from
the environment (``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN``, ``AIRFLOW__CELERY__BROKER_URL``,
``AIRFLOW__CELERY__RESULT_BACKEND``). The api-server listens on 127.0.0.1 only and runs
Airflow's simple auth manager with two logins, ``admin`` and ``viewer``, whose passwords are
generated once into Airflow's home (mode 0600); the stack's own API calls log in as admin.
Production uses another auth manager (``docs/deploy.md``).

Each component runs in a session of its own and is stopped with its whole process tree
(``driftloop.launcher.processes``); a start that fails or is interrupted stops what it
started.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from driftloop.config import Settings
from driftloop.exceptions import DriftloopError
from driftloop.launcher.airflow import airflow_command, airflow_env, airflow_home, ensure_airflow_db
from driftloop.launcher.processes import run, spawn, stop_trees

COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
FINISHED = {"success", "failed"}
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"
PRELOAD_ENV = "DRIFTLOOP_PRELOAD_TASK_MODULES"
"""Set for the processes tasks fork from, which then import the tasks' modules once (the
scheduler through its plugin, a Celery worker through :data:`CELERY_CONFIG`;
``driftloop_provider.preload``, which a test checks names the same variable)."""
CELERY_CONFIG = "driftloop_provider.celery_config.CELERY_CONFIG"
"""``[celery] celery_config_options``: Airflow's Celery settings, and the workers' preload."""
CELERY_SETTINGS = ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND")


class StackError(DriftloopError):
    """The Airflow stack did not start, or a run did not finish in time."""


DATABASE_ERROR_ATTEMPTS = 3


@dataclass(frozen=True)
class CeleryWorker:
    """One Celery worker: its node name and what differs in its environment."""

    name: str
    env: dict[str, str] = field(default_factory=dict)
    concurrency: int = 1

    def node(self) -> str:
        """Celery's node name, ``<name>@<host>``; task instances record it as their host."""
        return f"{self.name}@{socket.gethostname()}"


def node_hostname() -> str:
    """Airflow's ``hostname_callable`` for workers: ``DRIFTLOOP_NODE_NAME``, else the FQDN.

    Workers sharing one machine (or containers with random host names) then record which
    worker ran each task.
    """
    return os.environ.get("DRIFTLOOP_NODE_NAME") or socket.getfqdn()


USERS = {"admin": "admin", "viewer": "viewer"}
"""The stack's logins and their simple-auth-manager roles."""


def passwords_file(settings: Settings) -> Path:
    """Where the simple auth manager reads the stack's passwords."""
    return airflow_home(settings) / "simple_auth_manager_passwords.json"


def stack_logins(settings: Settings) -> tuple[dict[str, str], bool]:
    """The stack's users and passwords, generated (mode 0600) the first time.

    Returns:
        The passwords by user, and whether they were generated just now.
    """
    path = passwords_file(settings)
    known = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    missing = [user for user in USERS if user not in known]
    if missing:
        known |= {user: secrets.token_urlsafe(12) for user in missing}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(json.dumps(known, indent=2) + "\n", encoding="utf-8")
    return {user: known[user] for user in USERS}, bool(missing)


def stack_env(settings: Settings, *, executor: str = "LocalExecutor") -> dict[str, str]:
    """``airflow_env`` plus what the stack needs (executor, auth, fast DAG parsing)."""
    stack_logins(settings)
    env = airflow_env(settings)
    env.update(
        {
            # Every component must sign and verify task tokens with the same secret; left
            # unset, each process draws its own and tasks fail "Signature verification".
            "AIRFLOW__API_AUTH__JWT_SECRET": _local_secret(settings, "jwt_secret"),
            "AIRFLOW__API__SECRET_KEY": _local_secret(settings, "api_secret_key"),
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{user}:{role}" for user, role in USERS.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file(settings)),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            # An idle scheduler loop sleeps this long before it looks for the next task to
            # queue (default 1 s): each gap between two tasks shrinks. Idle, it used 2% of a
            # core at 1 s, 8% at 0.2 s (docs/benchmarks.md, *A small batch*).
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            # A task's supervisor can miss its child's exit and wait this long to notice
            # (default 5 s), holding an executor slot, and the scheduler then takes the late
            # "finished" as news: an approval answered within those seconds failed its task.
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
            # Celery workers preload what the tasks import before they fork their pool.
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": CELERY_CONFIG,
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(settings.airflow_port + 1),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(settings.airflow_port + 2),
        }
    )
    return env


@dataclass
class AirflowStack:
    """A running Airflow stack; use as a context manager or call :meth:`stop`."""

    settings: Settings
    workers: tuple[CeleryWorker, ...] = ()
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _token: str | None = field(default=None, repr=False)

    @property
    def executor(self) -> str:
        """``CeleryExecutor`` when the stack has workers, else ``LocalExecutor``."""
        return "CeleryExecutor" if self.workers else "LocalExecutor"

    @property
    def base_url(self) -> str:
        """Where the api-server (and the UI) answer."""
        return f"http://127.0.0.1:{self.settings.airflow_port}"

    @property
    def pid_file(self) -> Path:
        """Where ``make up`` records the stack's process ids for ``make down``."""
        return airflow_home(self.settings) / "stack.pids"

    def start(self, *, timeout: float = 240) -> AirflowStack:
        """Start every component and wait until the api-server reports them healthy.

        With Celery workers, also wait until every worker answers a ping.

        Whatever goes wrong on the way, an error or driftloop being interrupted, the
        components already started are stopped before the exception goes on.

        Raises:
            StackError: a component exited, the Celery settings are missing, or the stack
                was not healthy in time.
        """
        env = stack_env(self.settings, executor=self.executor)
        missing = [name for name in CELERY_SETTINGS if self.workers and not env.get(name)]
        if missing:
            raise StackError(f"Celery workers need {', '.join(missing)} in the environment")
        ensure_airflow_db(self.settings)
        try:
            self._start_components(env, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_components(self, env: dict[str, str], timeout: float) -> None:
        airflow = airflow_command()
        for name in COMPONENTS:
            command = [airflow, name]
            if name == "api-server":
                command += ["--host", "127.0.0.1", "--port", str(self.settings.airflow_port)]
            forks_tasks = name == "scheduler" and not self.workers
            self._spawn(name, command, env | ({PRELOAD_ENV: "1"} if forks_tasks else {}))
        for worker in self.workers:
            command = [airflow, "celery", "worker", "--celery-hostname", worker.node()]
            command += ["--concurrency", str(worker.concurrency), "--skip-serve-logs"]
            named = {
                PRELOAD_ENV: "1",
                "DRIFTLOOP_NODE_NAME": worker.node(),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.node_hostname",
            }
            self._spawn(f"worker-{worker.name}", command, env | named | worker.env)
        self.pid_file.write_text(
            json.dumps({n: p.pid for n, p in self.processes.items()}), encoding="utf-8"
        )
        deadline = time.monotonic() + timeout
        self._wait_healthy(timeout)
        if self.workers:
            self._wait_for_workers(env, max(30.0, deadline - time.monotonic()))

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        logs = airflow_home(self.settings) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.processes[name] = spawn(command, env=env, output=logs / f"{name}.log")

    def record_pid(self, name: str, pid: int) -> None:
        """Add a process (its group) for ``make down`` to stop with the stack."""
        pids = json.loads(self.pid_file.read_text(encoding="utf-8"))
        self.pid_file.write_text(json.dumps(pids | {name: pid}), encoding="utf-8")

    def stop(self) -> None:
        """Stop every component with its whole process tree, and wait until they end."""
        stop_trees(*self.processes.values())
        self.pid_file.unlink(missing_ok=True)

    def __enter__(self) -> AirflowStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the REST API (``/api/v2``); return the decoded JSON.

        On SQLite every component writes to one file, and a write that waits past SQLite's
        busy timeout makes the api-server answer 500 "Database error" after rolling the
        request's transaction back; such a request is sent again, up to three times.

        Raises:
            StackError: the api-server answered with an error.
        """
        request = urllib.request.Request(
            f"{self.base_url}/api/v2{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        attempt = 1
        while True:
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read() or b"null")
            except urllib.error.HTTPError as exc:
                text = exc.read().decode(errors="replace")
                locked = exc.code == 500 and "Database error" in text
                if not locked or attempt == DATABASE_ERROR_ATTEMPTS:
                    raise StackError(f"{method} {path} answered {exc.code}: {text}") from exc
            time.sleep(attempt)
            attempt += 1

    @property
    def token(self) -> str:
        """An API token of the stack's admin login (logged in on first use)."""
        if self._token is None:
            self._token = self.login("admin")
        return self._token

    def login(self, user: str) -> str:
        """Log ``user`` in with the stack's generated password; return the API token.

        Raises:
            StackError: the api-server refused the login.
        """
        password = stack_logins(self.settings)[0][user]
        request = urllib.request.Request(
            f"{self.base_url}/auth/token",
            method="POST",
            data=json.dumps({"username": user, "password": password}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())["access_token"]
        except urllib.error.HTTPError as exc:
            raise StackError(f"logging in as {user} answered {exc.code}: {exc.read()!r}") from exc

    def wait_for_dags(self, *dag_ids: str, timeout: float = 180) -> None:
        """Wait until the dag-processor has parsed these DAGs.

        Raises:
            StackError: they did not appear in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            known = {d["dag_id"] for d in self.api("GET", "/dags?limit=100")["dags"]}
            if set(dag_ids) <= known:
                return
            time.sleep(2)
        raise StackError(f"DAGs {sorted(set(dag_ids) - known)} were not parsed in {timeout}s")

    def unpause(self, dag_id: str) -> None:
        """Unpause a DAG (DAGs start paused)."""
        self.api("PATCH", f"/dags/{dag_id}", {"is_paused": False})

    def trigger(
        self,
        dag_id: str,
        *,
        conf: dict[str, Any] | None = None,
        logical_date: datetime | None = None,
    ) -> str:
        """Queue a run; return its run id."""
        body = {
            "logical_date": logical_date.isoformat() if logical_date else None,
            "conf": conf or {},
        }
        return self.api("POST", f"/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, *, timeout: float = 900) -> str:
        """Wait until a run finishes; return its state (``success`` or ``failed``).

        Raises:
            StackError: it did not finish in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in FINISHED:
                return state
            self._check_alive()
            time.sleep(1)
        raise StackError(f"run {run_id} of {dag_id} did not finish in {timeout}s")

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """Every run of a DAG, oldest first."""
        return self.api("GET", f"/dags/{dag_id}/dagRuns?order_by=run_after&limit=100")["dag_runs"]

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(
                    f"{self.base_url}/api/v2/monitor/health", timeout=5
                ) as r:
                    last = json.loads(r.read())
                statuses = [
                    last.get(k, {}).get("status")
                    for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")
                ]
                if all(s == "healthy" for s in statuses):
                    return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            time.sleep(2)
        raise StackError(
            f"Airflow was not healthy within {timeout}s (last health: {last}); "
            f"logs in {airflow_home(self.settings) / 'logs'}"
        )

    def _wait_for_workers(self, env: dict[str, str], timeout: float) -> None:
        nodes = {worker.node() for worker in self.workers}
        ping = [sys.executable, "-m", "celery", "--app", CELERY_APP, "inspect", "ping", "--json"]
        ping += ["--timeout", "5", "--destination", ",".join(sorted(nodes))]
        deadline = time.monotonic() + timeout
        answered: set[str] = set()
        while time.monotonic() < deadline:
            self._check_alive()
            result = run(ping, env=env, capture=True)
            answered = _ping_answers(result.stdout)
            if nodes <= answered:
                return
            time.sleep(2)
        raise StackError(f"Celery workers {sorted(nodes - answered)} did not answer in {timeout}s")

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise StackError(
                    f"airflow {name} exited with code {process.returncode}; see "
                    f"{airflow_home(self.settings) / 'logs' / f'{name}.log'}"
                )


def stop_recorded_stack(settings: Settings) -> bool:
    """Stop a stack started by ``make up`` (from its pid file) and wait until it has ended.

    Returns whether one was recorded.
    """
    pid_file = airflow_home(settings) / "stack.pids"
    if not pid_file.exists():
        return False
    stop_trees(*json.loads(pid_file.read_text(encoding="utf-8")).values())
    pid_file.unlink()
    return True


def _ping_answers(output: str) -> set[str]:
    """Node names that answered ``celery inspect ping --json`` (its last JSON line)."""
    for line in reversed(output.splitlines()):
        try:
            replies = json.loads(line)
        except ValueError:
            continue
        if isinstance(replies, dict):
            return set(replies)
    return set()


def _local_secret(settings: Settings, name: str) -> str:
    """A random secret kept in Airflow's home, made once and shared by every component."""
    path = airflow_home(settings) / name
    if not path.exists():
        airflow_home(settings).mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()
