"""Version stores for the contract suite: every backend, built through ``open_store``.

``local`` runs on a temporary folder; ``lakefs-standin`` drives ``LakeFSVersionStore``
over HTTP against the stand-in server (one repository per test); ``lakefs-real`` runs
against a real lakeFS when ``LAKEFS_ENDPOINT``, ``LAKEFS_ACCESS_KEY_ID`` and
``LAKEFS_SECRET_ACCESS_KEY`` are set (``LAKEFS_STORAGE_NAMESPACE`` defaults to
``local://driftloop-tests``), and is skipped otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import lakefs_sdk
import pytest
from pydantic import SecretStr

from driftloop.config import LakeFSSettings, Settings
from driftloop.versioning.base import VersionStore
from driftloop.versioning.factory import open_store
from driftloop.versioning.lakefs import lakefs_client
from tests.support.lakefs_standin import LakeFSStandIn

REAL_LAKEFS_ENV = ("LAKEFS_ENDPOINT", "LAKEFS_ACCESS_KEY_ID", "LAKEFS_SECRET_ACCESS_KEY")


@pytest.fixture(scope="session")
def lakefs_standin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeFSStandIn]:
    with LakeFSStandIn(data_dir=tmp_path_factory.mktemp("lakefs-standin")) as standin:
        yield standin


def unique_repository() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def lakefs_settings(
    home: Path, *, endpoint: str, key: str, secret: str, repository: str, namespace: str
) -> Settings:
    return Settings(
        home=home,
        versioning_backend="lakefs",
        repository=repository,
        lakefs=LakeFSSettings(
            endpoint=endpoint,
            access_key_id=key,
            secret_access_key=SecretStr(secret),
            storage_namespace=namespace,
        ),
    )


@pytest.fixture(params=["local", "lakefs-standin", "lakefs-real"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VersionStore]:
    """A ready repository (``main`` holds only the initial commit) on each backend."""
    repository = unique_repository()
    if request.param == "local":
        settings = Settings(home=tmp_path, versioning_backend="local", repository=repository)
    elif request.param == "lakefs-standin":
        standin: LakeFSStandIn = request.getfixturevalue("lakefs_standin")
        settings = lakefs_settings(
            tmp_path,
            endpoint=standin.endpoint,
            key=standin.access_key_id,
            secret=standin.secret_access_key,
            repository=repository,
            namespace=f"local://standin/{repository}",
        )
    else:
        if not all(os.environ.get(name) for name in REAL_LAKEFS_ENV):
            # No lakeFS server can run here (its binary cannot be installed): every case of
            # this parameter also runs against the stand-in, which speaks lakeFS's REST API.
            pytest.skip(
                "no real lakeFS server here; the same cases run against the lakeFS stand-in. "
                "Set " + ", ".join(REAL_LAKEFS_ENV) + " to run them against a real one"
            )
        namespace = os.environ.get("LAKEFS_STORAGE_NAMESPACE", "local://driftloop-tests")
        settings = lakefs_settings(
            tmp_path,
            endpoint=os.environ["LAKEFS_ENDPOINT"],
            key=os.environ["LAKEFS_ACCESS_KEY_ID"],
            secret=os.environ["LAKEFS_SECRET_ACCESS_KEY"],
            repository=repository,
            namespace=f"{namespace.rstrip('/')}/{repository}",
        )
    version_store = open_store(settings)
    version_store.ensure_repository("main")
    yield version_store
    if request.param == "lakefs-real":
        client = lakefs_client(
            os.environ["LAKEFS_ENDPOINT"],
            os.environ["LAKEFS_ACCESS_KEY_ID"],
            os.environ["LAKEFS_SECRET_ACCESS_KEY"],
        )
        lakefs_sdk.RepositoriesApi(client).delete_repository(repository)
