"""Pick and build the versioning backend named in the settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from driftloop.exceptions import ConfigError

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.versioning.base import VersionStore


def open_store(settings: Settings) -> VersionStore:
    """Build the version store that ``settings.versioning_backend`` names.

    ``local`` keeps the repository under ``settings.versioning_dir``; ``lakefs`` talks
    to the server in ``settings.lakefs``. Either way the repository is
    ``settings.repository``, and nothing is contacted until the store is used.

    Raises:
        ConfigError: ``lakefs`` is chosen but its endpoint or keys are not set.

    """
    # Backends are imported here so only the chosen one's dependencies (lakefs_sdk) load.
    if settings.versioning_backend == "local":
        from driftloop.versioning.local import LocalVersionStore

        return LocalVersionStore(root=settings.versioning_dir, repository=settings.repository)

    from driftloop.versioning.lakefs import LakeFSVersionStore, lakefs_client

    lakefs = settings.lakefs
    secret = lakefs.secret_access_key.get_secret_value() if lakefs.secret_access_key else ""
    required = {
        "endpoint": lakefs.endpoint,
        "access_key_id": lakefs.access_key_id,
        "secret_access_key": secret,
    }
    missing = [f"lakefs.{name}" for name, value in required.items() if not value]
    if missing:
        variables = ", ".join(f"DRIFTLOOP_LAKEFS__{name.upper()}" for name in required)
        raise ConfigError(
            f"versioning_backend is 'lakefs' but {', '.join(missing)} is not set "
            f"(set them in driftloop.yaml or as {variables})"
        )
    client = lakefs_client(
        lakefs.endpoint,
        lakefs.access_key_id,
        secret,
        timeout_seconds=lakefs.timeout_seconds,
        retries=lakefs.retries,
    )
    return LakeFSVersionStore(
        client=client,
        repository=settings.repository,
        storage_namespace=lakefs.storage_namespace,
    )
