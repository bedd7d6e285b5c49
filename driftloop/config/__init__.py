"""One settings object: environment, secret files, ``driftloop.yaml``, then defaults.

Environment variables carry the prefix ``DRIFTLOOP_`` and ``__`` between nested names.

Secret files: when ``DRIFTLOOP_SECRETS_DIR`` names a folder (``/run/secrets`` in the compose
deployment), each file in it named like a setting's environment variable, in any case, sets
that setting: ``driftloop_registry_url``, ``driftloop_lakefs__secret_access_key``.

Every local store lives under ``home`` (``DRIFTLOOP_HOME``, default ``./.driftloop``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from driftloop.config.monitoring import MonitoringSettings
from driftloop.config.promotion import PromotionPolicy
from driftloop.config.training import DaskSettings, TrainingEngine
from driftloop.exceptions import ConfigError


class LakeFSSettings(BaseModel):
    """Where the lakeFS server is and how to log in (used when ``versioning_backend`` is lakefs)."""

    endpoint: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    storage_namespace: str | None = Field(
        default=None,
        description="Storage namespace for a new repository, e.g. s3://bucket/driftloop",
    )
    timeout_seconds: float = Field(
        default=30.0, gt=0, description="Deadline of each request to lakeFS (connect and answer)"
    )
    retries: int = Field(
        default=3,
        ge=0,
        description="Retries, with exponential backoff, of a request that could not connect, "
        "and of a read that timed out or got 429 or 5xx (never of a commit or merge)",
    )


def _config_file() -> Path:
    return Path(os.environ.get("DRIFTLOOP_CONFIG", "driftloop.yaml"))


class SecretFilesSource(EnvSettingsSource):
    """Settings read from files named like their environment variables (nested ``__`` too)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        folder = os.environ.get("DRIFTLOOP_SECRETS_DIR")
        if not folder:
            return {}
        root = Path(folder)
        if not root.is_dir():
            raise ConfigError(f"DRIFTLOOP_SECRETS_DIR={folder} is not a folder")
        return {
            path.name.lower(): path.read_text(encoding="utf-8").strip()
            for path in root.iterdir()
            if path.is_file() and path.name.lower().startswith("driftloop_")
        }


class Settings(BaseSettings):
    """driftloop's configuration. Nothing needs setting for the embedded defaults."""

    model_config = SettingsConfigDict(
        env_prefix="DRIFTLOOP_", env_nested_delimiter="__", extra="forbid"
    )

    home: Path = Path(".driftloop")
    landing: Path | None = Field(
        default=None,
        description="Folder where source files land, ${DRIFTLOOP_LANDING_DIR} in a spec's path "
        "(default: <home>/landing); shared by every worker of a distributed deployment",
    )
    ingest_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Folders besides the landing zone that a file named at run time (the "
        "ingest DAG's 'path') may be in; in the environment separated by ':' (os.pathsep)",
    )
    project_dir: Path = Field(
        default_factory=Path.cwd, description="Folder holding expectations/ and dags/"
    )
    dataset: str = Field(default="credit_risk", description="Name of the dataset spec to use")
    expectations: Path | None = Field(
        default=None,
        description="Folder of dataset specs and GX suites (default: <project_dir>/expectations)",
    )
    versioning_backend: Literal["local", "lakefs"] = "local"
    repository: str = "driftloop"
    main_branch: str = "main"
    models_branch: str = Field(
        default="models", description="Branch of the data repository holding model artifacts"
    )
    lakefs: LakeFSSettings = Field(default_factory=LakeFSSettings)
    lakefs_conn_id: str | None = Field(
        default=None, description="Airflow connection of the lakeFS server (overrides lakefs.*)"
    )
    airflow_port: int = Field(default=8080, description="Port of the local Airflow api-server")
    task_timeout_minutes: float = Field(
        default=60.0,
        gt=0,
        description="execution_timeout of every task of driftloop's DAGs unless it sets its own "
        "(train: 2 h; the approval's wait for a person: 2 days); read when a DAG is parsed",
    )
    registry_url: str | None = None
    registry_conn_id: str | None = Field(
        default=None, description="Airflow connection holding the registry URL (overrides it)"
    )
    promotion: PromotionPolicy = Field(default_factory=PromotionPolicy)
    training_engine: TrainingEngine = Field(
        default="local",
        description="Where training runs: 'local' in the task's process, 'dask' on the "
        "workers of the Dask cluster (dask.* or dask_conn_id); a run's 'engine' overrides",
    )
    dask: DaskSettings = Field(default_factory=DaskSettings)
    dask_conn_id: str | None = Field(
        default=None,
        description="Airflow connection of the Dask scheduler (overrides dask.scheduler_address)",
    )
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    # Serving (driftloop.serving, bento/service.py).
    serving_port: int = Field(default=3000, ge=1, le=65535)
    serving_workers: int = Field(default=1, ge=1, description="Worker processes of the service")
    serving_max_rows: int = Field(default=1000, ge=1, description="Most records in one request")
    serving_max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="Larger request bodies get 413"
    )
    serving_token: SecretStr | None = Field(
        default=None, description="Bearer token required by every endpoint but the health ones"
    )
    serving_admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of /metadata/full (lineage, watcher state); unset: closed",
    )
    serving_max_concurrency: int = Field(
        default=64,
        ge=1,
        description="Requests in flight per service worker; more get 503 with Retry-After",
    )
    serving_poll_seconds: float = Field(
        default=2.0, ge=0, description="How often the service checks the champion alias; 0: never"
    )
    serving_profile_seconds: float = Field(
        default=60.0, ge=0, description="Interval of the serving whylogs profiles; 0: none"
    )
    serving_profile_max_rows: int = Field(
        default=2000, ge=1, description="Rows profiled per interval and worker; more are sampled"
    )

    @field_validator("serving_admin_token")
    @classmethod
    def _admin_token_differs(
        cls, value: SecretStr | None, info: ValidationInfo
    ) -> SecretStr | None:
        """The admin token would open the lineage to every client if it were theirs too."""
        client = info.data.get("serving_token")
        if value is not None and client is not None and value == client:
            raise ValueError("serving_admin_token must differ from serving_token")
        return value

    @field_validator("ingest_roots", mode="before")
    @classmethod
    def _split_roots(cls, value: object) -> object:
        """``a:b`` from the environment; a list from ``driftloop.yaml``."""
        if isinstance(value, str):
            return [part for part in value.split(os.pathsep) if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order: init arguments, environment, secret files, ``driftloop.yaml``."""
        yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=_config_file())
        return (init_settings, env_settings, SecretFilesSource(settings_cls), yaml_source)

    @cached_property
    def home_dir(self) -> Path:
        """Absolute home folder (relative ``home`` is taken from ``project_dir``)."""
        home = self.home if self.home.is_absolute() else self.project_dir / self.home
        return home.resolve()

    @property
    def expectations_dir(self) -> Path:
        """Where dataset specs and GX suites live: ``expectations`` when set, else the project's.

        The project's ``expectations/`` is versioned in git; a separate folder keeps a spec
        that is not the project's (the own-data demo's) out of it.
        """
        if self.expectations is None:
            return self.project_dir / "expectations"
        return self._in_project(self.expectations)

    @property
    def dataset_spec_path(self) -> Path:
        """The active dataset spec file."""
        return self.expectations_dir / f"{self.dataset}.yaml"

    @property
    def suite_path(self) -> Path:
        """The active GX expectation suite file."""
        return self.expectations_dir / f"{self.dataset}.json"

    @property
    def versioning_dir(self) -> Path:
        """Root of the ``local`` versioning backend."""
        return self.home_dir / "versioning"

    @property
    def reports_dir(self) -> Path:
        """Validation results, Data Docs, drift reports."""
        return self.home_dir / "reports"

    @property
    def landing_dir(self) -> Path:
        """Where source files land: ``landing`` when set, else ``<home>/landing``."""
        if self.landing is None:
            return self.home_dir / "landing"
        return self._in_project(self.landing)

    @property
    def ingest_root_dirs(self) -> list[Path]:
        """Where a file named at run time may be: the landing zone, then ``ingest_roots``.

        Each is absolute (a relative root is taken from ``project_dir``) with its symlinks
        resolved, as the paths checked against them are.
        """
        roots = [self.landing_dir, *(self._in_project(root) for root in self.ingest_roots)]
        return [root.resolve() for root in roots]

    def _in_project(self, folder: Path) -> Path:
        """``folder`` as given when absolute, else taken from ``project_dir``."""
        return folder if folder.is_absolute() else self.project_dir / folder

    @property
    def registry_database_url(self) -> str:
        """The registry's SQLAlchemy URL: SQLite under ``home`` unless set."""
        return self.registry_url or f"sqlite:///{self.home_dir / 'registry.db'}"


def get_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, ``driftloop.yaml`` and ``overrides``."""
    return Settings(**overrides)
