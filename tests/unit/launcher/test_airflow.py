"""Airflow's metadata database is migrated once, not on every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.launcher import airflow
from driftloop.launcher.airflow import airflow_home, ensure_airflow_db


def test_a_current_sqlite_database_is_not_migrated_again(
    tmp_path: Path, repo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(home=tmp_path / "home", project_dir=repo_dir)
    monkeypatch.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", raising=False)
    migrations = []
    real_run = airflow._run

    def counting_run(command, settings, **kwargs):
        migrations.append(command[1:])
        return real_run(command, settings, **kwargs)

    monkeypatch.setattr(airflow, "_run", counting_run)

    ensure_airflow_db(settings)
    ensure_airflow_db(settings)
    assert migrations == [["db", "migrate"]]
    assert (airflow_home(settings) / "airflow.db").exists()

    # a database that is gone, or an Airflow of another version, is migrated again
    (airflow_home(settings) / "airflow.db").unlink()
    ensure_airflow_db(settings)
    marker = airflow_home(settings) / ".driftloop-migrated"
    marker.write_text("apache-airflow 0.0\n" + marker.read_text().split("\n", 1)[1])
    ensure_airflow_db(settings)
    assert migrations == [["db", "migrate"]] * 3
