"""What the registry hands out: immutable pydantic records, never ORM rows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from driftloop.config.training import TrainingEngine

JsonObject = dict[str, JsonValue]


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class VersionStatus(StrEnum):
    """Lifecycle of a model version: aliases may only point at registered versions."""

    REGISTERED = "registered"
    ARCHIVED = "archived"


class VersionLineage(_Record):
    """Where a model version came from: data, validation, code, parameters, results, artifacts."""

    data_commit: str = Field(description="Commit of the versioned store the model trained on")
    data_ref: str = Field(description="Ref that commit was read from, e.g. main")
    unpublished_data: bool = Field(
        default=False,
        description="The data commit was not on main: trained by explicit override "
        "(allow_unpublished_data), so never promoted automatically",
    )
    engine: TrainingEngine = Field(
        default="local", description="Where it trained: one process (local) or a Dask cluster"
    )
    workers: int = Field(
        default=1, ge=1, description="How many Dask workers trained it (1 for local)"
    )
    validation: JsonObject = Field(description="Validation summary of the training data")
    params: JsonObject = Field(description="Training parameters")
    metrics: JsonObject = Field(description="The version's metrics on the holdout")
    holdout_metrics_champion: JsonObject | None = Field(
        default=None, description="The champion's metrics on the same holdout, if there was one"
    )
    code_version: str
    artifact_uri: str = Field(description="Path in the versioned store, e.g. models/m/v3/model.ubj")
    artifact_commit: str = Field(description="Store commit holding the artifacts")
    artifact_sha256: str
    feature_schema: JsonObject
    tags: dict[str, str] = Field(default_factory=dict)


class RegisteredModel(_Record):
    """A named model; its versions are numbered 1, 2, 3..."""

    name: str
    description: str | None
    created_at: datetime


class ModelVersion(_Record):
    """One registered version of a model."""

    model: str
    version: int
    run_key: str = Field(description="The run that registered it (idempotency key)")
    status: VersionStatus
    lineage: VersionLineage
    reference_profile_uri: str | None
    created_by: str
    created_at: datetime


class AliasMove(_Record):
    """One move of an alias, as recorded in the audit log.

    ``changed`` is false for a move to the version the alias already pointed at:
    such a no-op is not audited, so it has no ``id``.
    """

    id: int | None
    model: str
    alias: str
    from_version: int | None
    to_version: int
    actor: str
    reason: str
    evidence: JsonObject
    run_key: str | None
    rollback_of: int | None = Field(description="Id of the move this rollback undid")
    at: datetime
    changed: bool = True


class RefusedMove(_Record):
    """A move the registry refused: the alias did not point at the version its caller saw.

    Nothing moved. ``expected_version`` is what the caller saw (``None``: unset),
    ``actual_version`` where the alias pointed instead, ``to_version`` where it was to go.
    """

    id: int
    model: str
    alias: str
    expected_version: int | None
    actual_version: int | None
    to_version: int
    actor: str
    reason: str
    evidence: JsonObject
    run_key: str | None
    at: datetime

    def names(self, version: int) -> bool:
        """Whether ``version`` was expected, found or the target."""
        return version in (self.expected_version, self.actual_version, self.to_version)


class Decision(_Record):
    """A recorded promotion decision, whether or not an alias moved."""

    id: int
    model: str
    version: int
    promoted: bool
    reason: str
    evidence: JsonObject
    actor: str
    run_key: str
    at: datetime
