"""The ``lakefs`` backend: the port over lakeFS's REST API, through the generated ``lakefs_sdk``.

Every call goes through the client it is handed, and every error the SDK raises is
translated into :mod:`driftloop.exceptions` in :func:`_translated`, the one choke point.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import lakefs_sdk
import urllib3
from lakefs_sdk.exceptions import ApiException, OpenApiException
from pydantic.v1 import ValidationError as SdkValidationError

from driftloop.config import LakeFSSettings
from driftloop.exceptions import (
    BranchExists,
    MergeConflict,
    NothingToCommit,
    ObjectNotFound,
    RefNotFound,
    RepositoryNotFound,
    VersioningError,
)
from driftloop.versioning.base import (
    Change,
    Commit,
    ObjectInfo,
    ObjectLocation,
    ObjectLocations,
    VersionStore,
)

_API_PATH = "/api/v1"
_PAGE_SIZE = 1000
_CHANGE_TYPES = ("added", "removed", "changed")
_AUTH_SETTINGS = ["basic_auth", "cookie_auth", "oidc_auth", "saml_auth", "jwt_token"]


_DEFAULTS = LakeFSSettings()
# Only reads are repeated after a timeout or an error answer: a commit or merge whose answer
# was lost may have happened. A connection that could not be made is retried for every call.
_REPEATABLE_METHODS = frozenset({"GET", "HEAD"})
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_BACKOFF_SECONDS = 0.5
_RETRY_AFTER_MAX_SECONDS = 60


def lakefs_client(
    endpoint: str,
    access_key_id: str,
    secret_access_key: str,
    *,
    timeout_seconds: float = _DEFAULTS.timeout_seconds,
    retries: int = _DEFAULTS.retries,
) -> lakefs_sdk.ApiClient:
    """Build a ``lakefs_sdk`` client for a lakeFS server, logging in with an access key.

    Every request has a deadline. A request that could not connect is retried, and so is a
    read (GET, HEAD) that timed out or was answered 429 or 5xx, up to ``retries`` times with
    exponential backoff (0, 1, 2, 4 s...; a ``Retry-After`` up to 60 s is honoured).

    Args:
        endpoint: The server's URL, with or without the ``/api/v1`` suffix.
        access_key_id: The access key id.
        secret_access_key: The secret access key.
        timeout_seconds: The deadline of each attempt, connecting and answering.
        retries: How many times a failed request is repeated.

    """
    host = endpoint.rstrip("/")
    if not host.endswith(_API_PATH):
        host += _API_PATH
    configuration = lakefs_sdk.Configuration(
        host=host, username=access_key_id, password=secret_access_key
    )
    configuration.retries = urllib3.Retry(
        total=retries,
        allowed_methods=_REPEATABLE_METHODS,
        status_forcelist=_RETRY_STATUSES,
        backoff_factor=_BACKOFF_SECONDS,
        raise_on_status=False,
        retry_after_max=_RETRY_AFTER_MAX_SECONDS,
    )
    return _DeadlineClient(configuration, timeout_seconds=timeout_seconds, retries=retries)


class _NoAnswer(urllib3.exceptions.HTTPError):
    """lakeFS could not be reached or did not answer in time; the message says which."""


class _DeadlineClient(lakefs_sdk.ApiClient):
    """A ``lakefs_sdk`` client whose every request has a deadline, and says so when it passes.

    The generated API passes no timeout unless each call is given one, and a timeout set on
    the connection pool is overridden by that ``None``: the deadline is set here instead,
    where every request passes.
    """

    def __init__(
        self, configuration: lakefs_sdk.Configuration, *, timeout_seconds: float, retries: int
    ) -> None:
        super().__init__(configuration)
        self.timeout_seconds = timeout_seconds
        self.retries = retries

    def request(
        self, method: str, url: str, *args: Any, _request_timeout: Any = None, **kwargs: Any
    ) -> Any:
        """Send one request (retried by the pool's policy) with the client's deadline."""
        try:
            return super().request(
                method,
                url,
                *args,
                _request_timeout=_request_timeout or self.timeout_seconds,
                **kwargs,
            )
        except urllib3.exceptions.HTTPError as exc:
            raise _NoAnswer(self._explain(method, url, exc)) from exc

    def _explain(self, method: str, url: str, exc: urllib3.exceptions.HTTPError) -> str:
        request, each = f"{method} {url}", ""
        if isinstance(exc, urllib3.exceptions.MaxRetryError):
            if self.retries:
                request, each = f"{request} ({self.retries + 1} attempts)", " each"
            exc = exc.reason or exc
        # urllib3 counts a refused connection as a timeout too.
        if isinstance(exc, urllib3.exceptions.TimeoutError) and not isinstance(
            exc, urllib3.exceptions.NewConnectionError
        ):
            return (
                f"lakeFS did not answer {request} within {self.timeout_seconds:g} s{each} "
                "(lakefs.timeout_seconds)"
            )
        return f"cannot reach lakeFS for {request}: {exc}"


class LakeFSVersionStore(VersionStore):
    """The version store on a lakeFS repository.

    Args:
        client: A ready ``lakefs_sdk`` client (see :func:`lakefs_client`).
        repository: The repository's name.
        storage_namespace: Where :meth:`ensure_repository` puts a new repository's data
            (e.g. ``s3://bucket/driftloop``); only needed to create it.

    """

    def __init__(
        self,
        *,
        client: lakefs_sdk.ApiClient,
        repository: str,
        storage_namespace: str | None = None,
    ) -> None:
        self.repository = repository
        self._client = client
        self._storage_namespace = storage_namespace
        self._repositories = lakefs_sdk.RepositoriesApi(client)
        self._branches = lakefs_sdk.BranchesApi(client)
        self._commits = lakefs_sdk.CommitsApi(client)
        self._objects = lakefs_sdk.ObjectsApi(client)
        self._refs = lakefs_sdk.RefsApi(client)

    def ensure_repository(self, default_branch: str = "main") -> None:
        """Create the repository with an initial commit on ``default_branch`` if it is missing.

        Raises:
            RepositoryNotFound: it is missing and no storage namespace was given.
            VersioningError: lakeFS refused to create it.

        """
        try:
            with _translated(f"get repository {self.repository!r}"):
                self._repositories.get_repository(self.repository)
            return
        except RepositoryNotFound:
            if self._storage_namespace is None:
                raise RepositoryNotFound(
                    f"lakeFS repository {self.repository!r} does not exist, and no storage "
                    "namespace is configured to create it"
                ) from None
        with _translated(f"create repository {self.repository!r} at {self._storage_namespace!r}"):
            creation = lakefs_sdk.RepositoryCreation(
                name=self.repository,
                storage_namespace=self._storage_namespace,
                default_branch=default_branch,
            )
            try:
                self._repositories.create_repository(creation)
            except ApiException as exc:
                # Someone else created it between our two calls: the outcome we wanted.
                if exc.status != 409:
                    raise

    def create_branch(self, name: str, source_ref: str, *, exist_ok: bool = False) -> str:
        """Create ``name`` at ``source_ref`` and return its head commit id.

        Raises:
            BranchExists: ``name`` exists and ``exist_ok`` is false.
            RefNotFound: ``source_ref`` does not exist.
            VersioningError: lakeFS rejects the name (branch ids allow no ``/``).

        """
        try:
            with _translated(f"create branch {name!r} from {source_ref!r}", conflict=BranchExists):
                creation = lakefs_sdk.BranchCreation(name=name, source=source_ref)
                return self._branches.create_branch(self.repository, creation)
        except BranchExists:
            if not exist_ok:
                raise
        return self._head(name)

    def delete_branch(self, name: str) -> None:
        """Delete a branch (its commits stay reachable by id).

        Raises:
            RefNotFound: no such branch.
            VersioningError: lakeFS refuses, e.g. for the default branch.

        """
        with _translated(f"delete branch {name!r}"):
            self._branches.delete_branch(self.repository, name)

    def list_branches(self) -> list[str]:
        """List the names of all branches, sorted."""
        with _translated("list branches"):
            refs = _pages(
                lambda after: self._branches.list_branches(
                    self.repository, after=after, amount=_PAGE_SIZE
                )
            )
            return sorted(ref.id for ref in refs)

    def write_object(self, branch: str, path: str, data: bytes) -> ObjectInfo:
        """Stage ``data`` at ``path`` on ``branch`` (uncommitted until :meth:`commit`).

        Raises:
            RefNotFound: no such branch.

        """
        # ObjectsApi.upload_object opens its ``content`` argument as a file path and drops
        # empty content, so the bytes go as a raw application/octet-stream body instead.
        with _translated(f"write {path!r} on branch {branch!r}"):
            stats = self._client.call_api(
                "/repositories/{repository}/branches/{branch}/objects",
                "POST",
                path_params={"repository": self.repository, "branch": branch},
                query_params=[("path", path)],
                header_params={
                    "Accept": "application/json",
                    "Content-Type": "application/octet-stream",
                },
                body=data,
                response_types_map={"201": "ObjectStats"},
                auth_settings=_AUTH_SETTINGS,
                _return_http_data_only=True,
            )
        return _object_info(stats)

    def delete_object(self, branch: str, path: str) -> None:
        """Stage the removal of ``path`` on ``branch``.

        Raises:
            RefNotFound: no such branch.
            ObjectNotFound: nothing at ``path``.

        """
        # lakeFS answers 204 for a missing path, so look before deleting.
        self._stat(branch, path)
        with _translated(f"delete {path!r} on branch {branch!r}"):
            self._objects.delete_object(self.repository, branch, path)

    def read_object(self, ref: str, path: str) -> bytes:
        """Read ``path`` at ``ref`` (a branch reads its uncommitted changes too).

        Raises:
            RefNotFound: no such ref.
            ObjectNotFound: nothing at ``path``.

        """
        try:
            with _translated(f"read {path!r} at {ref!r}", not_found=ObjectNotFound):
                return bytes(self._objects.get_object(self.repository, ref, path))
        except ObjectNotFound:
            self.get_commit(ref)
            raise

    def list_objects(self, ref: str, prefix: str = "") -> list[ObjectInfo]:
        """List the objects under ``prefix`` at ``ref``, sorted by path.

        Raises:
            RefNotFound: no such ref.

        """
        with _translated(f"list objects under {prefix!r} at {ref!r}"):
            stats = _pages(
                lambda after: self._objects.list_objects(
                    self.repository, ref, after=after, amount=_PAGE_SIZE, prefix=prefix or None
                )
            )
            objects = [_object_info(stat) for stat in stats if stat.path_type == "object"]
        return sorted(objects, key=lambda info: info.path)

    def locate_objects(self, ref: str, prefix: str = "") -> ObjectLocations:
        """The objects under ``prefix`` at ``ref``'s commit, as lakeFS's S3 gateway serves them.

        Each URL is ``s3://<repository>/<commit>/<path>``; ``storage_options`` point s3fs at
        the gateway (the lakeFS endpoint, path-style, region ``us-east-1``) with this client's
        access key, and give it the client's deadline and retries.

        Raises:
            RefNotFound: no such ref.

        """
        commit_id = self.resolve(ref)
        objects = [
            ObjectLocation(
                path=info.path,
                url=f"s3://{self.repository}/{commit_id}/{info.path}",
                size_bytes=info.size_bytes,
                checksum=info.checksum,
            )
            for info in self.list_objects(commit_id, prefix)
        ]
        return ObjectLocations(
            commit_id=commit_id, objects=objects, storage_options=self._gateway_options()
        )

    def _gateway_options(self) -> dict[str, Any]:
        """s3fs's arguments for lakeFS's S3 gateway, served at the API's host and port."""
        configuration = self._client.configuration
        timeout = getattr(self._client, "timeout_seconds", _DEFAULTS.timeout_seconds)
        retries = getattr(self._client, "retries", _DEFAULTS.retries)
        return {
            "key": configuration.username,
            "secret": configuration.password,
            "endpoint_url": configuration.host.removesuffix(_API_PATH),
            "client_kwargs": {"region_name": "us-east-1"},
            "config_kwargs": {
                "s3": {"addressing_style": "path"},
                # Newer botocore sends checksums lakeFS's gateway does not take (its docs).
                "request_checksum_calculation": "when_required",
                "response_checksum_validation": "when_required",
                "connect_timeout": timeout,
                "read_timeout": timeout,
                "retries": {"max_attempts": retries + 1, "mode": "standard"},
            },
        }

    def uncommitted(self, branch: str) -> list[Change]:
        """List the uncommitted changes on ``branch``, sorted by path.

        Raises:
            RefNotFound: no such branch.

        """
        with _translated(f"list uncommitted changes on {branch!r}"):
            return _changes(
                _pages(
                    lambda after: self._branches.diff_branch(
                        self.repository, branch, after=after, amount=_PAGE_SIZE
                    )
                )
            )

    def commit(self, branch: str, message: str, metadata: dict[str, str] | None = None) -> Commit:
        """Seal the uncommitted changes on ``branch``.

        Raises:
            RefNotFound: no such branch.
            NothingToCommit: there are no uncommitted changes.
            VersioningError: a metadata value is not a string.

        """
        with _translated(f"commit on branch {branch!r}"):
            creation = lakefs_sdk.CommitCreation(message=message, metadata=metadata or {})
            return _commit(self._commits.commit(self.repository, branch, creation))

    def get_commit(self, ref: str) -> Commit:
        """Return the commit a ref points at.

        Raises:
            RefNotFound: no such ref.

        """
        with _translated(f"get commit {ref!r}"):
            page = self._refs.log_commits(self.repository, ref, amount=1)
        if not page.results:
            raise RefNotFound(f"ref {ref!r} has no commit")
        return _commit(page.results[0])

    def log(self, ref: str, limit: int = 100) -> list[Commit]:
        """Return the commits reachable from ``ref``, newest first.

        Raises:
            RefNotFound: no such ref.

        """
        commits: list[Commit] = []
        with _translated(f"log {ref!r}"):
            pages = _pages(
                lambda after: self._refs.log_commits(
                    self.repository, ref, after=after, amount=min(limit, _PAGE_SIZE)
                )
            )
            for commit in pages:
                if len(commits) == limit:
                    break
                commits.append(_commit(commit))
        return commits

    def diff(self, left_ref: str, right_ref: str, prefix: str = "") -> list[Change]:
        """Return the committed changes that turn ``left_ref`` into ``right_ref``, by path.

        Raises:
            RefNotFound: either ref does not exist.

        """
        # lakeFS defaults to a three-dot diff (from the merge base); the port wants two-dot.
        with _translated(f"diff {left_ref!r}..{right_ref!r}"):
            return _changes(
                _pages(
                    lambda after: self._refs.diff_refs(
                        self.repository,
                        left_ref,
                        right_ref,
                        after=after,
                        amount=_PAGE_SIZE,
                        prefix=prefix or None,
                        type="two_dot",
                    )
                )
            )

    def merge_base(self, left_ref: str, right_ref: str) -> str:
        """Return the best common ancestor of two refs (lakeFS's ``find_merge_base``).

        Raises:
            RefNotFound: either ref does not exist.
            VersioningError: the refs share no history.

        """
        with _translated(f"find the merge base of {left_ref!r} and {right_ref!r}"):
            found = self._refs.find_merge_base(self.repository, left_ref, right_ref)
        return found.base_commit_id

    def merge(
        self,
        source_ref: str,
        destination_branch: str,
        message: str,
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Merge ``source_ref`` into ``destination_branch``; return the resulting head commit id.

        When lakeFS finds nothing to merge, nothing is written and the destination's
        head is returned.

        Raises:
            RefNotFound: no such source ref or destination branch.
            MergeConflict: both sides changed the same paths since their merge base.
            VersioningError: the destination has uncommitted changes, or bad metadata.

        """
        action = f"merge {source_ref!r} into {destination_branch!r}"
        try:
            with _translated(action, conflict=MergeConflict):
                request = lakefs_sdk.Merge(message=message, metadata=metadata or {})
                result = self._refs.merge_into_branch(
                    self.repository, source_ref, destination_branch, request
                )
            return result.reference
        except NothingToCommit:
            return self._head(destination_branch)
        except MergeConflict as conflict:
            with _translated(f"find the merge base of {action}"):
                bases = self._refs.find_merge_base(self.repository, source_ref, destination_branch)
            paths = self._conflicting_paths(
                bases.base_commit_id, bases.destination_commit_id, bases.source_commit_id
            )
            raise MergeConflict(f"{conflict}; paths: {', '.join(paths)}", paths=paths) from conflict

    def revert(self, branch: str, commit_id: str, metadata: dict[str, str] | None = None) -> Commit:
        """Add a commit to ``branch`` that undoes ``commit_id`` (first parent for merges).

        Raises:
            RefNotFound: no such branch or commit.
            NothingToCommit: undoing the commit would not change the branch.
            MergeConflict: later commits changed the same paths.
            VersioningError: the branch has uncommitted changes, or the commit has no parent.

        """
        try:
            with _translated(f"revert {commit_id!r} on {branch!r}", conflict=MergeConflict):
                overrides = lakefs_sdk.CommitOverrides(metadata=metadata) if metadata else None
                request = lakefs_sdk.RevertCreation(
                    ref=commit_id, parent_number=1, commit_overrides=overrides
                )
                self._branches.revert_branch(self.repository, branch, request)
        except MergeConflict as conflict:
            reverted = self.get_commit(commit_id)
            paths = self._conflicting_paths(reverted.id, self._head(branch), reverted.parents[0])
            raise MergeConflict(f"{conflict}; paths: {', '.join(paths)}", paths=paths) from conflict
        return self.get_commit(branch)

    def _head(self, branch: str) -> str:
        with _translated(f"get branch {branch!r}"):
            return self._branches.get_branch(self.repository, branch).commit_id

    def _stat(self, ref: str, path: str) -> lakefs_sdk.ObjectStats:
        try:
            with _translated(f"stat {path!r} at {ref!r}", not_found=ObjectNotFound):
                return self._objects.stat_object(self.repository, ref, path)
        except ObjectNotFound:
            self.get_commit(ref)
            raise

    def _conflicting_paths(self, base: str, ours: str, theirs: str) -> list[str]:
        """Name the paths both sides changed differently (lakeFS's 409 does not list them)."""
        mine = {change.path: change.type for change in self.diff(base, ours)}
        their = {change.path: change.type for change in self.diff(base, theirs)}
        conflicts = []
        for path in sorted(mine.keys() & their.keys()):
            kinds = {mine[path], their[path]}
            if kinds == {"removed"}:
                continue
            if (
                "removed" in kinds
                or self._stat(ours, path).checksum != self._stat(theirs, path).checksum
            ):
                conflicts.append(path)
        return conflicts


@contextmanager
def _translated(
    action: str,
    *,
    not_found: type[VersioningError] = RefNotFound,
    conflict: type[VersioningError] = VersioningError,
) -> Iterator[None]:
    """Turn what ``lakefs_sdk`` raises into driftloop's exceptions, naming the action.

    Args:
        action: What was being done, for the message.
        not_found: The exception for a 404 that is not about the repository.
        conflict: The exception for a 409.

    """
    try:
        yield
    except ApiException as exc:
        message = _server_message(exc)
        error: type[VersioningError] = VersioningError
        if exc.status == 404:
            error = RepositoryNotFound if "repository not found" in message.lower() else not_found
        elif exc.status == 409:
            error = conflict
        elif exc.status == 400 and "no changes" in message.lower():
            error = NothingToCommit
        raise error(f"{action}: lakeFS answered {exc.status} {exc.reason}: {message}") from exc
    except (OpenApiException, SdkValidationError) as exc:
        # The generated models validate arguments (e.g. metadata values must be strings).
        raise VersioningError(f"{action}: invalid request: {exc}") from exc
    except _NoAnswer as exc:
        raise VersioningError(f"{action}: {exc}") from exc
    except urllib3.exceptions.HTTPError as exc:
        raise VersioningError(f"{action}: cannot reach lakeFS: {exc}") from exc


def _server_message(exc: ApiException) -> str:
    """Read lakeFS's ``{"message": ...}`` error body, falling back to the raw text or reason."""
    body = exc.body.decode(errors="replace") if isinstance(exc.body, bytes) else exc.body or ""
    try:
        payload = json.loads(body)
    except ValueError:
        return body.strip() or str(exc.reason)
    # A merge conflict answers with a MergeResult body, which has no message.
    if isinstance(payload, dict) and "message" in payload:
        return str(payload["message"])
    return str(exc.reason)


def _pages(fetch: Callable[[str | None], Any]) -> Iterator[Any]:
    """Yield every result of a paginated lakeFS listing."""
    after = None
    while True:
        page = fetch(after)
        yield from page.results
        if not page.pagination.has_more:
            return
        after = page.pagination.next_offset


def _commit(commit: lakefs_sdk.Commit) -> Commit:
    return Commit(
        id=commit.id,
        message=commit.message,
        metadata=commit.metadata or {},
        parents=commit.parents,
        created_at=datetime.fromtimestamp(commit.creation_date, UTC),
    )


def _object_info(stats: lakefs_sdk.ObjectStats) -> ObjectInfo:
    return ObjectInfo(path=stats.path, size_bytes=stats.size_bytes or 0, checksum=stats.checksum)


def _changes(diffs: Iterator[lakefs_sdk.Diff]) -> list[Change]:
    changes = [
        Change(path=diff.path, type=diff.type)
        for diff in diffs
        if diff.path_type == "object" and diff.type in _CHANGE_TYPES
    ]
    return sorted(changes, key=lambda change: change.path)
