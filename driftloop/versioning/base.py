"""The data-versioning port: one interface, a ``local`` and a ``lakefs`` backend.

Semantics follow lakeFS: writes land on a branch as uncommitted changes; ``commit``
seals them; ``merge`` brings a branch's commits into another; refs are branch
names or commit ids.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from driftloop.exceptions import ObjectNotFound


class Commit(BaseModel):
    """A sealed commit."""

    id: str
    message: str
    metadata: dict[str, str] = Field(default_factory=dict)
    parents: list[str] = Field(default_factory=list)
    created_at: datetime


class Change(BaseModel):
    """One path that differs between two refs (or is uncommitted on a branch)."""

    path: str
    type: Literal["added", "removed", "changed"]


class ObjectInfo(BaseModel):
    """An object at a ref."""

    path: str
    size_bytes: int
    checksum: str


class ObjectLocation(BaseModel):
    """An object at a commit, and where a reader outside the store finds its bytes."""

    path: str = Field(description="The object's path in the repository")
    url: str = Field(description="What fsspec opens: a local file, or s3://<repository>/...")
    size_bytes: int
    checksum: str


@dataclass(frozen=True)
class ObjectLocations:
    """The objects under a prefix at one commit, readable with fsspec (Dask workers do).

    ``storage_options`` are the filesystem's arguments (``fsspec.open(url, **options)``); they
    may hold credentials, so they stay out of the ``repr``.
    """

    commit_id: str
    objects: list[ObjectLocation]
    storage_options: dict[str, Any] = field(default_factory=dict, repr=False)


class VersionStore(ABC):
    """A versioned object store with branches, commits and merges (lakeFS semantics).

    Every method raises :class:`driftloop.exceptions.VersioningError` subclasses only.
    """

    repository: str

    @abstractmethod
    def ensure_repository(self, default_branch: str = "main") -> None:
        """Create the repository with an initial commit on ``default_branch`` if it is missing."""

    @abstractmethod
    def create_branch(self, name: str, source_ref: str, *, exist_ok: bool = False) -> str:
        """Create ``name`` at ``source_ref`` and return its head commit id.

        Raises:
            BranchExists: ``name`` exists and ``exist_ok`` is false.
            RefNotFound: ``source_ref`` does not exist.
        """

    @abstractmethod
    def delete_branch(self, name: str) -> None:
        """Delete a branch (its commits stay reachable by id).

        Raises:
            RefNotFound: no such branch.
        """

    @abstractmethod
    def list_branches(self) -> list[str]:
        """Names of all branches, sorted."""

    @abstractmethod
    def write_object(self, branch: str, path: str, data: bytes) -> ObjectInfo:
        """Stage ``data`` at ``path`` on ``branch`` (uncommitted until :meth:`commit`).

        Raises:
            RefNotFound: no such branch.
        """

    @abstractmethod
    def delete_object(self, branch: str, path: str) -> None:
        """Stage the removal of ``path`` on ``branch``.

        Raises:
            ObjectNotFound: nothing at ``path``.
        """

    @abstractmethod
    def read_object(self, ref: str, path: str) -> bytes:
        """Read ``path`` at ``ref`` (a branch reads its uncommitted changes too).

        Raises:
            RefNotFound: no such ref.
            ObjectNotFound: nothing at ``path``.
        """

    @abstractmethod
    def list_objects(self, ref: str, prefix: str = "") -> list[ObjectInfo]:
        """Objects under ``prefix`` at ``ref``, sorted by path."""

    @abstractmethod
    def locate_objects(self, ref: str, prefix: str = "") -> ObjectLocations:
        """Where processes outside the store read the objects under ``prefix`` at ``ref``.

        The locations are pinned to ``ref``'s commit (a branch's uncommitted changes are
        not included), so they keep naming the same bytes while the branch moves on. Each
        is read with ``fsspec.open(url, "rb", **storage_options)``.

        Raises:
            RefNotFound: no such ref.
        """

    @abstractmethod
    def uncommitted(self, branch: str) -> list[Change]:
        """Uncommitted changes on ``branch``, sorted by path."""

    @abstractmethod
    def commit(self, branch: str, message: str, metadata: dict[str, str] | None = None) -> Commit:
        """Seal the uncommitted changes on ``branch``.

        Raises:
            NothingToCommit: there are no uncommitted changes.
        """

    @abstractmethod
    def get_commit(self, ref: str) -> Commit:
        """The commit a ref points at.

        Raises:
            RefNotFound: no such ref.
        """

    @abstractmethod
    def log(self, ref: str, limit: int = 100) -> list[Commit]:
        """Commits reachable from ``ref``, newest first (first parents first)."""

    @abstractmethod
    def merge_base(self, left_ref: str, right_ref: str) -> str:
        """The best common ancestor of two refs, as ``git merge-base`` defines it.

        When one ref's commit is the other's or one of its ancestors, that commit is the
        base.

        Raises:
            RefNotFound: either ref does not exist.
            VersioningError: the refs share no history.
        """

    @abstractmethod
    def diff(self, left_ref: str, right_ref: str, prefix: str = "") -> list[Change]:
        """Committed changes that turn ``left_ref`` into ``right_ref``, sorted by path."""

    @abstractmethod
    def merge(
        self,
        source_ref: str,
        destination_branch: str,
        message: str,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Merge ``source_ref`` into ``destination_branch``; return the resulting head commit id.

        When the destination already contains everything in the source, nothing is
        written and the destination's head is returned (merging is idempotent).

        Raises:
            MergeConflict: both sides changed the same paths since their merge base.
        """

    @abstractmethod
    def revert(self, branch: str, commit_id: str, metadata: dict[str, str] | None = None) -> Commit:
        """Add a commit to ``branch`` that undoes ``commit_id`` (first parent for merges).

        Raises:
            RefNotFound: no such branch or commit.
            MergeConflict: later commits changed the same paths.
        """

    def resolve(self, ref: str) -> str:
        """The commit id that ``ref`` points at now.

        Raises:
            RefNotFound: no such ref.
        """
        return self.get_commit(ref).id

    def is_ancestor(self, ref: str, branch: str) -> bool:
        """Whether ``ref``'s commit is ``branch``'s head or one of its ancestors.

        Raises:
            RefNotFound: either does not exist.
        """
        commit_id = self.resolve(ref)
        return self.merge_base(commit_id, branch) == commit_id

    def write_if_changed(self, branch: str, path: str, data: bytes) -> bool:
        """Stage ``data`` unless ``branch`` holds exactly it already; say whether it wrote.

        Re-running a task then stages nothing, so its commit finds nothing to commit.
        """
        try:
            if self.read_object(branch, path) == data:
                return False
        except ObjectNotFound:
            pass
        self.write_object(branch, path, data)
        return True

    def branch_exists(self, name: str) -> bool:
        """Whether a branch of that name exists."""
        return name in self.list_branches()
