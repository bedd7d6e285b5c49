"""One exception hierarchy for driftloop; third-party errors are translated into these."""

from __future__ import annotations

from datetime import datetime


class DriftloopError(Exception):
    """Base class of every error driftloop raises on purpose."""


class ConfigError(DriftloopError):
    """A setting, spec file or suite file is missing or invalid."""


class SpecError(ConfigError):
    """A dataset spec is invalid or does not match the data it describes."""


class DataSourceError(DriftloopError):
    """A source could not be read: missing path, corrupt file, bad encoding, unreachable server."""


class SourceUnavailable(DataSourceError):
    """A source that may come back (a database that cannot be reached): worth retrying."""


class PathNotAllowed(DataSourceError):
    """A path named at run time lies outside the landing zone and the ingest roots."""


class EmptyBatch(DriftloopError):
    """A scheduled data interval holds no rows: nothing to ingest."""


class VersioningError(DriftloopError):
    """A data-versioning operation failed."""


class RepositoryNotFound(VersioningError):
    """The repository does not exist."""


class RefNotFound(VersioningError):
    """A branch, commit or ref does not exist."""


class ObjectNotFound(VersioningError):
    """No object at that path on that ref."""


class BranchExists(VersioningError):
    """A branch of that name exists already."""


class NothingToCommit(VersioningError):
    """The branch has no uncommitted changes."""


class ObjectCorrupt(VersioningError):
    """An object's stored bytes no longer match the hash they were stored under."""


class MergeConflict(VersioningError):
    """Both sides of a merge changed the same paths."""

    def __init__(self, message: str, paths: list[str] | None = None) -> None:
        super().__init__(message)
        self.paths = paths or []


# --- Training, artifacts and promotion (driftloop.training.features, driftloop.training) ---


class TrainingError(DriftloopError):
    """The data cannot train a model: no target column, too few rows, a single class."""


class SchemaMismatch(TrainingError):
    """Columns or values do not match the dataset spec, or the spec no longer fits a model."""


class UnpublishedData(TrainingError):
    """The data to train on is not on the main branch (a quarantined or unmerged ref)."""


class ClusterUnavailable(DriftloopError):
    """The Dask scheduler cannot be reached, or has no workers: worth retrying."""


class ArtifactCorrupt(DriftloopError):
    """A stored model artifact fails its checksum or does not load."""


# --- Model registry (driftloop.registry) ---


class RegistryError(DriftloopError):
    """The model registry refused or failed an operation."""


class RegistryUnavailable(RegistryError):
    """The registry database cannot be reached or is busy: worth retrying."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class VersionNotFound(RegistryError):
    """No such registered model, or no such version of it."""


class AliasNotSet(RegistryError):
    """The alias has never pointed at a version of that model."""


class NothingToRollBack(RegistryError):
    """The alias has no earlier version to return to."""


class RegistryConflict(RegistryError):
    """The request contradicts the registry: a reused run key, an archived version."""


class AliasMoved(RegistryConflict):
    """The alias no longer points where the caller saw it: someone moved it meanwhile.

    Nothing moved; the registry recorded the refusal (``Registry.refused_moves``).
    """

    def __init__(
        self, message: str, *, expected: int | None, actual: int | None, to_version: int
    ) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual
        self.to_version = to_version


# --- Serving and packaging (driftloop.serving, bento.packaging, bento/) ---


class ServingError(DriftloopError):
    """The service cannot find, load or package a model to serve."""


class ChampionNotSet(ServingError):
    """The model has no champion in the registry: there is nothing to serve yet."""


# --- Monitoring: profiles, drift, retrain guards, alerts (driftloop.monitoring) ---


class MonitoringError(DriftloopError):
    """Profiling, drift scoring or monitoring bookkeeping failed."""


class ProfileError(MonitoringError):
    """A data profile cannot be built, read or merged (corrupt bytes, unusable columns)."""


class DriftCheckSkipped(MonitoringError):
    """Nothing to judge yet: no champion, no reference, no unseen data, or too few unseen rows.

    ``consumed_until`` is set when the new profiles can never be judged (there is no
    reference to judge them by): a checkpoint may move past them.
    """

    def __init__(self, message: str, *, consumed_until: datetime | None = None) -> None:
        super().__init__(message)
        self.consumed_until = consumed_until


class QualityCheckSkipped(MonitoringError):
    """Nothing new to judge the champion's quality on: no champion, or no new labelled batch."""


class AlertDeliveryError(MonitoringError):
    """An alert was logged but could not be delivered to its webhook (``host`` names it)."""

    def __init__(self, message: str, *, host: str) -> None:
        super().__init__(message)
        self.host = host
