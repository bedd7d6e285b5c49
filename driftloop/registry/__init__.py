"""The model registry: versions with lineage, audited aliases and promotion decisions.

SQLAlchemy over one URL (SQLite by default, PostgreSQL in production); the schema
is managed by the Alembic migrations shipped in ``migrations/``.
"""

from __future__ import annotations

from driftloop.registry.records import (
    AliasMove,
    Decision,
    ModelVersion,
    RefusedMove,
    RegisteredModel,
    VersionLineage,
    VersionStatus,
)
from driftloop.registry.store import Registry, open_registry

__all__ = [
    "AliasMove",
    "Decision",
    "ModelVersion",
    "RefusedMove",
    "RegisteredModel",
    "Registry",
    "VersionLineage",
    "VersionStatus",
    "open_registry",
]
