"""A stand-in lakeFS server for tests: the REST API driftloop uses, over real HTTP.

It answers, under ``/api/v1`` on 127.0.0.1, the lakeFS endpoints that
:class:`~driftloop.versioning.lakefs.LakeFSVersionStore` calls (plus ``/healthcheck``
and ``/config/storage``), and on the same port, as lakeFS does, object reads through its S3
gateway (:mod:`tests.support.s3_gateway`: what Dask workers read a data commit with), so the
real ``lakefs_sdk`` client, and s3fs, are exercised over the wire:
basic auth against one access key (401 otherwise), lakeFS's status codes, error bodies
``{"message": ...}`` and response bodies built from ``lakefs_sdk.models``. Each repository
is a :class:`~driftloop.versioning.local.LocalVersionStore` under the data folder, so the
semantics match the ``local`` backend. Options it does not implement answer 501.

Run it on its own with ``python -m tests.support.lakefs_standin --port 8000 --data DIR``;
it prints one JSON line with ``endpoint``, ``access_key_id`` and ``secret_access_key``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hmac
import json
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qs, unquote, urlsplit

import lakefs_sdk
from pydantic.v1 import ValidationError as SdkValidationError

from driftloop.exceptions import (
    BranchExists,
    MergeConflict,
    NothingToCommit,
    ObjectNotFound,
    RefNotFound,
    RepositoryNotFound,
    VersioningError,
)
from driftloop.versioning.base import Change, Commit, ObjectInfo
from driftloop.versioning.local import REPOSITORY_NAME, LocalVersionStore
from tests.support.s3_gateway import S3Gateway, is_s3_request

API_PREFIX = "/api/v1"
_MAX_AMOUNT = 1000
_DEFAULT_AMOUNT = 100
_COMMITTER = "standin"
_SIDECAR = "lakefs-repository.json"


class _HTTPError(Exception):
    """An answer other than success, with lakeFS's status code and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class _Request:
    method: str
    segments: tuple[str, ...]
    query: dict[str, str]
    headers: Message
    body: bytes

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise _HTTPError(400, f"invalid JSON body: {exc}") from exc

    def param(self, name: str) -> str:
        if name not in self.query:
            raise _HTTPError(400, f"required query parameter {name!r} is missing")
        return self.query[name]

    def flag(self, name: str) -> bool:
        # lakefs_sdk sends booleans as "True"/"False", lakectl as "true"/"false".
        return self.query.get(name, "").lower() == "true"


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"


def _json(status: int, payload: object) -> _Reply:
    return _Reply(status, json.dumps(payload).encode())


def _error(status: int, message: str) -> _Reply:
    return _json(status, lakefs_sdk.Error(message=message).to_dict())


def _unsupported(option: str) -> NoReturn:
    raise _HTTPError(501, f"{option} is not supported by the lakeFS stand-in")


def _reject_options(model: Any, *options: str) -> None:
    for option in options:
        if getattr(model, option):
            _unsupported(option)


class _LakeFSApi:
    """The endpoints, routed by method and path segments (``*`` matches one segment)."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        # One request at a time keeps read-then-write handlers (merge, revert) atomic.
        self._lock = threading.Lock()
        self._routes: list[tuple[str, tuple[str, ...], Callable[..., _Reply]]] = [
            ("GET", ("config", "storage"), self._storage_config),
            ("POST", ("repositories",), self._create_repository),
            ("GET", ("repositories", "*"), self._get_repository),
            ("GET", ("repositories", "*", "branches"), self._list_branches),
            ("POST", ("repositories", "*", "branches"), self._create_branch),
            ("GET", ("repositories", "*", "branches", "*"), self._get_branch),
            ("DELETE", ("repositories", "*", "branches", "*"), self._delete_branch),
            ("GET", ("repositories", "*", "branches", "*", "diff"), self._diff_branch),
            ("POST", ("repositories", "*", "branches", "*", "commits"), self._commit),
            ("POST", ("repositories", "*", "branches", "*", "revert"), self._revert),
            ("POST", ("repositories", "*", "branches", "*", "objects"), self._upload_object),
            ("DELETE", ("repositories", "*", "branches", "*", "objects"), self._delete_object),
            ("GET", ("repositories", "*", "commits", "*"), self._get_commit),
            ("GET", ("repositories", "*", "refs", "*", "commits"), self._log_commits),
            ("GET", ("repositories", "*", "refs", "*", "diff", "*"), self._diff_refs),
            ("GET", ("repositories", "*", "refs", "*", "merge", "*"), self._find_merge_base),
            ("POST", ("repositories", "*", "refs", "*", "merge", "*"), self._merge),
            ("GET", ("repositories", "*", "refs", "*", "objects"), self._get_object),
            ("HEAD", ("repositories", "*", "refs", "*", "objects"), self._get_object),
            ("GET", ("repositories", "*", "refs", "*", "objects", "stat"), self._stat_object),
            ("GET", ("repositories", "*", "refs", "*", "objects", "ls"), self._list_objects),
        ]

    def handle(self, request: _Request) -> _Reply:
        for method, pattern, handler in self._routes:
            if method == request.method and _matches(pattern, request.segments):
                args = [s for p, s in zip(pattern, request.segments, strict=True) if p == "*"]
                with self._lock:
                    return self._answer(handler, request, args)
        return _error(404, f"no such endpoint: {request.method} /{'/'.join(request.segments)}")

    def _answer(self, handler: Callable[..., _Reply], request: _Request, args: list[str]) -> _Reply:
        """Call a handler, mapping driftloop's exceptions to lakeFS's answers."""
        try:
            return handler(request, *args)
        except _HTTPError as exc:
            return _error(exc.status, exc.message)
        except RepositoryNotFound:
            return _error(404, "repository not found")
        except (RefNotFound, ObjectNotFound) as exc:
            return _error(404, f"not found: {exc}")
        except BranchExists:
            return _error(409, "branch already exists: not unique")
        except MergeConflict:
            return _error(409, "conflict found")
        except NothingToCommit:
            return _error(400, "no changes")
        except VersioningError as exc:
            return _error(400, str(exc))
        except SdkValidationError as exc:
            return _error(400, f"validation error: {exc}")

    def _repository(self, name: str) -> tuple[LocalVersionStore, lakefs_sdk.Repository]:
        if not REPOSITORY_NAME.fullmatch(name):
            raise _HTTPError(400, f"repository id: invalid value: {name!r}")
        sidecar = self._data_dir / name / _SIDECAR
        if not sidecar.is_file():
            raise RepositoryNotFound(name)
        info = lakefs_sdk.Repository.from_dict(json.loads(sidecar.read_text()))
        return LocalVersionStore(root=self._data_dir, repository=name), info

    def open_store(self, name: str) -> LocalVersionStore:
        """The repository of that name, for the S3 gateway.

        Raises:
            RepositoryNotFound: no such repository (or an invalid name).
        """
        try:
            return self._repository(name)[0]
        except _HTTPError as exc:
            raise RepositoryNotFound(exc.message) from exc

    def _storage_config(self, request: _Request) -> _Reply:
        config = lakefs_sdk.StorageConfig(
            blockstore_type="local",
            blockstore_namespace_example="local://example-bucket/",
            blockstore_namespace_ValidityRegex="^local://",
            pre_sign_support=False,
            pre_sign_support_ui=False,
            import_support=False,
            import_validity_regex="^local://",
        )
        return _json(200, config.to_dict())

    def _create_repository(self, request: _Request) -> _Reply:
        if request.flag("bare"):
            _unsupported("bare")
        creation = lakefs_sdk.RepositoryCreation.from_dict(request.json())
        _reject_options(creation, "read_only", "sample_data", "storage_id")
        sidecar = self._data_dir / creation.name / _SIDECAR
        if sidecar.exists():
            raise _HTTPError(409, "not unique")
        info = lakefs_sdk.Repository(
            id=creation.name,
            creation_date=int(time.time()),
            default_branch=creation.default_branch or "main",
            storage_namespace=creation.storage_namespace,
            read_only=False,
        )
        store = LocalVersionStore(root=self._data_dir, repository=creation.name)
        store.ensure_repository(info.default_branch)
        sidecar.write_text(json.dumps(info.to_dict()))
        return _json(201, info.to_dict())

    def _get_repository(self, request: _Request, repository: str) -> _Reply:
        return _json(200, self._repository(repository)[1].to_dict())

    def _list_branches(self, request: _Request, repository: str) -> _Reply:
        store, _ = self._repository(repository)
        prefix = request.query.get("prefix", "")
        refs = [
            lakefs_sdk.Ref(id=name, commit_id=store.resolve(name))
            for name in store.list_branches()
            if name.startswith(prefix)
        ]
        return _page(lakefs_sdk.RefList, refs, lambda ref: ref.id, request)

    def _create_branch(self, request: _Request, repository: str) -> _Reply:
        store, _ = self._repository(repository)
        creation = lakefs_sdk.BranchCreation.from_dict(request.json())
        _reject_options(creation, "force", "hidden")
        # lakeFS writes the new branch's commit id as a bare text body.
        commit_id = store.create_branch(creation.name, creation.source)
        return _Reply(201, commit_id.encode(), "text/plain; charset=utf-8")

    def _get_branch(self, request: _Request, repository: str, branch: str) -> _Reply:
        store, _ = self._repository(repository)
        if not store.branch_exists(branch):
            raise RefNotFound(f"branch {branch!r}")
        return _json(200, lakefs_sdk.Ref(id=branch, commit_id=store.resolve(branch)).to_dict())

    def _delete_branch(self, request: _Request, repository: str, branch: str) -> _Reply:
        store, info = self._repository(repository)
        if branch == info.default_branch:
            raise _HTTPError(403, "cannot delete repository default branch")
        store.delete_branch(branch)
        return _Reply(204)

    def _diff_branch(self, request: _Request, repository: str, branch: str) -> _Reply:
        store, _ = self._repository(repository)
        if request.query.get("delimiter"):
            _unsupported("delimiter")
        prefix = request.query.get("prefix", "")
        changes = [change for change in store.uncommitted(branch) if change.path.startswith(prefix)]
        return _page(lakefs_sdk.DiffList, _diffs(changes), lambda diff: diff.path, request)

    def _commit(self, request: _Request, repository: str, branch: str) -> _Reply:
        store, _ = self._repository(repository)
        if "source_metarange" in request.query:
            _unsupported("source_metarange")
        creation = lakefs_sdk.CommitCreation.from_dict(request.json())
        _reject_options(creation, "allow_empty", "force", "var_date")
        commit = store.commit(branch, creation.message, creation.metadata)
        return _json(201, _commit_model(commit).to_dict())

    def _revert(self, request: _Request, repository: str, branch: str) -> _Reply:
        store, _ = self._repository(repository)
        creation = lakefs_sdk.RevertCreation.from_dict(request.json())
        _reject_options(creation, "force", "allow_empty")
        parents = store.get_commit(creation.ref).parents
        if len(parents) > 1 and creation.parent_number <= 0:
            raise _HTTPError(409, "must specify 1-based parent number for reverting merge commit")
        if creation.parent_number > len(parents):
            raise _HTTPError(400, f"parent {creation.parent_number}: parent is out of range")
        if creation.parent_number > 1:
            _unsupported("parent_number above 1")
        overrides = creation.commit_overrides
        if overrides is not None and overrides.message:
            _unsupported("commit_overrides.message")
        store.revert(branch, creation.ref, overrides.metadata if overrides else None)
        return _Reply(204)

    def _upload_object(self, request: _Request, repository: str, branch: str) -> _Reply:
        store, info = self._repository(repository)
        for header in ("If-None-Match", "If-Match"):
            if header in request.headers:
                _unsupported(header)
        if request.query.get("storageClass") or request.flag("force"):
            _unsupported("storageClass and force")
        written = store.write_object(branch, request.param("path"), _upload_content(request))
        return _json(201, _object_stats(written, info).to_dict())

    def _delete_object(self, request: _Request, repository: str, branch: str) -> _Reply:
        store, _ = self._repository(repository)
        # lakeFS deletes idempotently: a missing path is not an error.
        with contextlib.suppress(ObjectNotFound):
            store.delete_object(branch, request.param("path"))
        return _Reply(204)

    def _get_commit(self, request: _Request, repository: str, commit_id: str) -> _Reply:
        store, _ = self._repository(repository)
        return _json(200, _commit_model(store.get_commit(commit_id)).to_dict())

    def _log_commits(self, request: _Request, repository: str, ref: str) -> _Reply:
        store, _ = self._repository(repository)
        for option in ("objects", "prefixes", "since", "stop_at"):
            if option in request.query:
                _unsupported(option)
        if request.flag("first_parent"):
            _unsupported("first_parent")
        commits = [_commit_model(commit) for commit in store.log(ref, limit=sys.maxsize)]
        return _page(
            lakefs_sdk.CommitList, commits, lambda commit: commit.id, request, sorted_keys=False
        )

    def _diff_refs(self, request: _Request, repository: str, left: str, right: str) -> _Reply:
        store, _ = self._repository(repository)
        if request.query.get("delimiter"):
            _unsupported("delimiter")
        kind = request.query.get("type", "three_dot")
        if kind not in ("two_dot", "three_dot"):
            raise _HTTPError(400, f"invalid diff type {kind!r}")
        # Three-dot (lakeFS's default) shows what right changed since the merge base.
        base = store.merge_base(left, right) if kind == "three_dot" else left
        changes = store.diff(base, right, request.query.get("prefix", ""))
        return _page(lakefs_sdk.DiffList, _diffs(changes), lambda diff: diff.path, request)

    def _find_merge_base(
        self, request: _Request, repository: str, source: str, destination: str
    ) -> _Reply:
        store, _ = self._repository(repository)
        result = lakefs_sdk.FindMergeBaseResult(
            source_commit_id=store.resolve(source),
            destination_commit_id=store.resolve(destination),
            base_commit_id=store.merge_base(source, destination),
        )
        return _json(200, result.to_dict())

    def _merge(self, request: _Request, repository: str, source: str, destination: str) -> _Reply:
        store, _ = self._repository(repository)
        merge = lakefs_sdk.Merge.from_dict(request.json())
        _reject_options(merge, "strategy", "force", "allow_empty", "squash_merge")
        head = store.resolve(destination)
        message = merge.message or f"Merge '{source}' into '{destination}'"
        try:
            reference = store.merge(source, destination, message, merge.metadata)
        except MergeConflict:
            # lakeFS answers a merge conflict with a MergeResult body, not an Error.
            return _json(409, lakefs_sdk.MergeResult(reference="").to_dict())
        if reference == head:
            raise NothingToCommit(destination)
        return _json(200, lakefs_sdk.MergeResult(reference=reference).to_dict())

    def _get_object(self, request: _Request, repository: str, ref: str) -> _Reply:
        store, _ = self._repository(repository)
        if request.flag("presign") or "Range" in request.headers:
            _unsupported("presign and Range")
        data = store.read_object(ref, request.param("path"))
        return _Reply(200, data, "application/octet-stream")

    def _stat_object(self, request: _Request, repository: str, ref: str) -> _Reply:
        store, info = self._repository(repository)
        if request.flag("presign"):
            _unsupported("presign")
        path = request.param("path")
        found = [obj for obj in store.list_objects(ref, prefix=path) if obj.path == path]
        if not found:
            raise ObjectNotFound(path)
        return _json(200, _object_stats(found[0], info).to_dict())

    def _list_objects(self, request: _Request, repository: str, ref: str) -> _Reply:
        store, info = self._repository(repository)
        if request.query.get("delimiter") or request.flag("presign"):
            _unsupported("delimiter and presign")
        objects = store.list_objects(ref, request.query.get("prefix", ""))
        stats = [_object_stats(obj, info) for obj in objects]
        return _page(lakefs_sdk.ObjectStatsList, stats, lambda stat: stat.path, request)


def _matches(pattern: tuple[str, ...], segments: tuple[str, ...]) -> bool:
    return len(pattern) == len(segments) and all(
        p in ("*", s) for p, s in zip(pattern, segments, strict=True)
    )


def _page(
    list_model: Any,
    items: list[Any],
    key: Callable[[Any], str],
    request: _Request,
    *,
    sorted_keys: bool = True,
) -> _Reply:
    """Answer one page of a listing, continuing ``after`` a key as lakeFS does."""
    after = request.query.get("after", "")
    if after and sorted_keys:
        items = [item for item in items if key(item) > after]
    elif after:
        keys = [key(item) for item in items]
        items = items[keys.index(after) + 1 :] if after in keys else []
    try:
        amount = int(request.query.get("amount", _DEFAULT_AMOUNT))
    except ValueError as exc:
        raise _HTTPError(400, f"invalid amount: {exc}") from exc
    amount = amount if 0 < amount <= _MAX_AMOUNT else _MAX_AMOUNT
    page, has_more = items[:amount], len(items) > amount
    pagination = lakefs_sdk.Pagination(
        has_more=has_more,
        next_offset=key(page[-1]) if has_more else "",
        results=len(page),
        max_per_page=_MAX_AMOUNT,
    )
    return _json(200, list_model(pagination=pagination, results=page).to_dict())


def _upload_content(request: _Request) -> bytes:
    """The uploaded bytes: a raw body, or the ``content`` part of a multipart form."""
    content_type = request.headers.get("Content-Type", "")
    if not content_type.startswith("multipart/form-data"):
        return request.body
    form = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
    )
    for part in form.iter_parts():
        if part.get_param("name", header="content-disposition") == "content":
            return part.get_payload(decode=True)
    raise _HTTPError(400, "multipart upload without a 'content' part")


def _commit_model(commit: Commit) -> lakefs_sdk.Commit:
    return lakefs_sdk.Commit(
        id=commit.id,
        parents=commit.parents,
        committer=_COMMITTER,
        message=commit.message,
        creation_date=int(commit.created_at.timestamp()),
        meta_range_id="",
        metadata=commit.metadata,
    )


def _diffs(changes: list[Change]) -> list[lakefs_sdk.Diff]:
    return [lakefs_sdk.Diff(type=c.type, path=c.path, path_type="object") for c in changes]


def _object_stats(obj: ObjectInfo, info: lakefs_sdk.Repository) -> lakefs_sdk.ObjectStats:
    return lakefs_sdk.ObjectStats(
        path=obj.path,
        path_type="object",
        physical_address=f"{info.storage_namespace.rstrip('/')}/data/{obj.checksum}",
        checksum=obj.checksum,
        size_bytes=obj.size_bytes,
        mtime=int(time.time()),
        content_type="application/octet-stream",
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, each keep-alive request
    # would stall ~40 ms on the client's delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read failures from the client side."""

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        if url.path == f"{API_PREFIX}/healthcheck":
            self._send(method, _Reply(204))
            return
        if not url.path.startswith(f"{API_PREFIX}/") and is_s3_request(self.headers):
            status, headers, data = self.server.gateway.handle(
                method, url.path, url.query, self.headers
            )
            self._send(method, _Reply(status, data, headers["Content-Type"]), headers)
            return
        if not url.path.startswith(f"{API_PREFIX}/"):
            self._send(method, _error(404, f"not a lakeFS API path: {url.path}"))
            return
        if not self.server.authorized(self.headers.get("Authorization")):
            self._send(method, _error(401, "error authenticating request"))
            return
        request = _Request(
            method=method,
            # Split before unquoting: the SDK escapes "/" inside a ref as %2F.
            segments=tuple(unquote(s) for s in url.path[len(API_PREFIX) + 1 :].split("/")),
            query={k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()},
            headers=self.headers,
            body=body,
        )
        try:
            reply = self.server.api.handle(request)
        except Exception as exc:
            # A server answers 500 and keeps serving; the client sees what broke.
            reply = _error(500, f"stand-in failure: {exc!r}")
        self._send(method, reply)

    def _send(self, method: str, reply: _Reply, headers: dict[str, str] | None = None) -> None:
        self.send_response(reply.status)
        if reply.status != 204:
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
        for name, value in (headers or {}).items():
            if name != "Content-Type":
                self.send_header(name, value)
        self.end_headers()
        if method != "HEAD" and reply.status != 204:
            self.wfile.write(reply.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, api: _LakeFSApi, access_key_id: str, secret: str) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.api = api
        self.gateway = S3Gateway(
            api.open_store, access_key_id=access_key_id, secret_access_key=secret
        )
        token = base64.b64encode(f"{access_key_id}:{secret}".encode()).decode()
        self._expected = f"Basic {token}".encode()

    def authorized(self, header: str | None) -> bool:
        return header is not None and hmac.compare_digest(header.encode(), self._expected)


class LakeFSStandIn:
    """A lakeFS stand-in on 127.0.0.1, served from a background thread.

    Args:
        data_dir: Where repositories are kept (survives restarts).
        port: The port to listen on; 0 picks a free one.
        access_key_id: The one accepted access key id (random if not given).
        secret_access_key: Its secret (random if not given).

    """

    def __init__(
        self,
        *,
        data_dir: Path,
        port: int = 0,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.access_key_id = access_key_id or "AKIA" + secrets.token_hex(8).upper()
        self.secret_access_key = secret_access_key or secrets.token_urlsafe(30)
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        """Return the server's base URL (``lakefs_client`` appends ``/api/v1``)."""
        if self._server is None:
            raise RuntimeError("the lakeFS stand-in is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> LakeFSStandIn:
        """Start serving; return ``self``."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        api = _LakeFSApi(self.data_dir)
        self._server = _Server(self._port, api, self.access_key_id, self.secret_access_key)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="lakefs-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> LakeFSStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _interrupt(signum: int, frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGINT or SIGTERM, after printing the endpoint and keys as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free)")
    parser.add_argument("--data", type=Path, required=True, help="folder for repositories")
    parser.add_argument("--access-key-id", help="accepted access key id (default: random)")
    parser.add_argument("--secret-access-key", help="its secret (default: random)")
    args = parser.parse_args(argv)
    standin = LakeFSStandIn(
        data_dir=args.data,
        port=args.port,
        access_key_id=args.access_key_id,
        secret_access_key=args.secret_access_key,
    )
    with standin:
        credentials = {
            "endpoint": standin.endpoint,
            "access_key_id": standin.access_key_id,
            "secret_access_key": standin.secret_access_key,
        }
        print(json.dumps(credentials), flush=True)
        signal.signal(signal.SIGTERM, _interrupt)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
