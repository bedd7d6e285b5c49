"""One exception hierarchy for driftloop; third-party errors are translated into these."""

from __future__ import annotations

from typing import Any


class DriftloopError(Exception):
    """Base class of every error driftloop raises on purpose."""


class ConfigError(DriftloopError):
    """A setting, spec file or suite file is missing or invalid."""


class SpecError(ConfigError):
    """A dataset spec is invalid or does not match the data it describes."""


class DataSourceError(DriftloopError):
    """A source could not be read: missing path, corrupt file, bad encoding, unreachable database."""


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


class MergeConflict(VersioningError):
    """Both sides of a merge changed the same paths."""

    def __init__(self, message: str, paths: list[str] | None = None) -> None:
        super().__init__(message)
        self.paths = paths or []


class ValidationFailed(DriftloopError):
    """A batch failed its expectation suite.

    Carries the statistics, the failed expectations and where the full result
    and its Data Docs page were written.
    """

    def __init__(
        self,
        message: str,
        *,
        statistics: dict[str, Any],
        failures: list[dict[str, Any]],
        result_path: str | None = None,
        docs_path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.statistics = statistics
        self.failures = failures
        self.result_path = result_path
        self.docs_path = docs_path
