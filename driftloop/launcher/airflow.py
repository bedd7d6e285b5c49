"""Run driftloop's DAGs through Airflow from the CLI and the demo.

This module drives the ``airflow`` command in a subprocess, so the core never imports
Airflow. The embedded default is Airflow on SQLite under ``DRIFTLOOP_HOME/airflow``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata
from pathlib import Path

from driftloop import __version__
from driftloop.config import Settings
from driftloop.exceptions import ConfigError
from driftloop.launcher import processes
from driftloop.lineage import CODE_VERSION_ENV, code_version


def airflow_home(settings: Settings) -> Path:
    """Airflow's home under driftloop's, with its SQLite database, for the embedded default."""
    return settings.home_dir / "airflow"


def airflow_env(settings: Settings, *, parallelism: int | None = None) -> dict[str, str]:
    """The environment an ``airflow`` process needs to see driftloop's DAGs and stores."""
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ)
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(airflow_home(settings)),
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.project_dir / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(settings.project_dir / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__PARALLELISM": str(parallelism or os.cpu_count() or 2),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
                f"http://127.0.0.1:{settings.airflow_port}/execution/"
            ),
            "AIRFLOW__API__PORT": str(settings.airflow_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "DRIFTLOOP_HOME": str(settings.home_dir),
            "DRIFTLOOP_PROJECT_DIR": str(settings.project_dir),
        }
    )
    env.setdefault(CODE_VERSION_ENV, stamped_code_version(settings.project_dir))
    env.setdefault(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{airflow_home(settings) / 'airflow.db'}"
    )
    return env


def stamped_code_version(project_dir: Path) -> str:
    """``driftloop <version> git <commit>``, ``+dirty`` when tracked files differ from it."""
    try:
        sha = _git(project_dir, "rev-parse", "--short=12", "HEAD")
        dirty = _git(project_dir, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return code_version(project_dir)
    return f"driftloop {__version__} git {sha}{'+dirty' if dirty else ''}"


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def airflow_command() -> str:
    """The ``airflow`` executable beside the running Python.

    Raises:
        ConfigError: Airflow is not installed in this environment.
    """
    found = shutil.which("airflow", path=str(Path(sys.executable).parent)) or shutil.which(
        "airflow"
    )
    if not found:
        raise ConfigError("the `airflow` command is not installed here (run `make install`)")
    return found


def ensure_airflow_db(settings: Settings) -> None:
    """Create or upgrade Airflow's metadata database.

    ``airflow db migrate`` costs about 7 s even when there is nothing to do, and every
    ``driftloop ingest`` or ``train`` would pay it: after a migration of a SQLite database a
    marker records the Airflow version and the URL, and while both match and the file exists
    the migration is skipped. Other databases are always migrated (another process may have
    dropped and recreated one).
    """
    home = airflow_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    url = airflow_env(settings)["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    marker = home / ".driftloop-migrated"
    stamp = f"apache-airflow {metadata.version('apache-airflow')}\n{url}\n"
    database = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    current = marker.exists() and marker.read_text(encoding="utf-8") == stamp
    if database is not None and database.exists() and current:
        return
    _run([airflow_command(), "db", "migrate"], settings)
    if database is not None:
        marker.write_text(stamp, encoding="utf-8")


@dataclass(frozen=True)
class DagRunOutcome:
    """How one ``airflow dags test`` run ended."""

    dag_id: str
    succeeded: bool
    output: str


def dag_test_command(
    dag_id: str, *, logical_date: datetime | None = None, conf: dict[str, object] | None = None
) -> list[str]:
    """The ``airflow dags test`` command that runs one DAG run to its end."""
    command = [airflow_command(), "dags", "test", dag_id]
    if logical_date is not None:
        command.append(logical_date.isoformat())
    if conf:
        command += ["--conf", json.dumps(conf)]
    return command


def run_dag_once(
    settings: Settings,
    dag_id: str,
    *,
    logical_date: datetime | None = None,
    conf: dict[str, object] | None = None,
) -> DagRunOutcome:
    """Run one DAG run to its end in this process tree with ``airflow dags test``."""
    result = _run(
        dag_test_command(dag_id, logical_date=logical_date, conf=conf), settings, check=False
    )
    output = result.stdout + result.stderr
    succeeded = result.returncode == 0 and "state=failed" not in output.replace(" ", "")
    return DagRunOutcome(dag_id=dag_id, succeeded=succeeded, output=output)


def _run(
    command: list[str], settings: Settings, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = processes.run(command, env=airflow_env(settings), capture=True)
    if check and result.returncode != 0:
        raise ConfigError(
            f"`{' '.join(command[1:])}` failed with exit code {result.returncode}:\n"
            f"{(result.stdout + result.stderr)[-4000:]}"
        )
    return result
