"""Settings from secret files (the compose deployment's ``/run/secrets``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.exceptions import ConfigError


def test_secret_files_set_top_level_and_nested_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "driftloop_registry_url").write_text("postgresql://r@db/registry\n")
    (tmp_path / "DRIFTLOOP_LAKEFS__SECRET_ACCESS_KEY").write_text("s3cr3t")
    (tmp_path / "airflow_db_url").write_text("not ours")
    monkeypatch.setenv("DRIFTLOOP_SECRETS_DIR", str(tmp_path))

    settings = Settings()

    assert settings.registry_url == "postgresql://r@db/registry"
    assert settings.lakefs.secret_access_key is not None
    assert settings.lakefs.secret_access_key.get_secret_value() == "s3cr3t"


def test_environment_wins_over_a_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "driftloop_repository").write_text("from-file")
    monkeypatch.setenv("DRIFTLOOP_SECRETS_DIR", str(tmp_path))
    monkeypatch.setenv("DRIFTLOOP_REPOSITORY", "from-env")

    assert Settings().repository == "from-env"


def test_a_missing_secrets_folder_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRIFTLOOP_SECRETS_DIR", str(tmp_path / "absent"))

    with pytest.raises(ConfigError, match="absent"):
        Settings()


def test_specs_and_suites_live_in_the_project_unless_a_folder_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRIFTLOOP_EXPECTATIONS", raising=False)
    monkeypatch.setenv("DRIFTLOOP_DATASET", "loans")
    project = tmp_path / "project"

    assert Settings(project_dir=project).suite_path == project / "expectations" / "loans.json"

    monkeypatch.setenv("DRIFTLOOP_EXPECTATIONS", str(tmp_path / "demo" / "expectations"))
    settings = Settings(project_dir=project)
    assert settings.dataset_spec_path == tmp_path / "demo" / "expectations" / "loans.yaml"
    assert settings.suite_path == tmp_path / "demo" / "expectations" / "loans.json"

    monkeypatch.setenv("DRIFTLOOP_EXPECTATIONS", "contracts")
    assert Settings(project_dir=project).expectations_dir == project / "contracts"
