"""The part of lakeFS's S3 gateway the stand-in serves: reading objects, signed with SigV4.

lakeFS serves its S3 gateway on the API's port: a request signed ``AWS4-HMAC-SHA256`` is an
S3 request, path-style ``/<repository>/<ref>/<path>`` (the bucket is the repository, the key
starts with a branch or commit). The stand-in answers ``GET`` (whole objects and single byte
ranges, 206), ``HEAD`` and ``ListObjectsV2`` (``GET /<repository>?list-type=2``: what s3fs
asks when a key is not an object), checks the signature against its one access key as S3
does (``InvalidAccessKeyId``, ``SignatureDoesNotMatch``), and answers other S3 calls 501
``NotImplemented``. Errors are S3's XML bodies.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from email.message import Message
from email.utils import formatdate
from urllib.parse import parse_qsl, quote, unquote
from xml.sax.saxutils import escape

from driftloop.exceptions import ObjectNotFound, RefNotFound, RepositoryNotFound, VersioningError
from driftloop.versioning.base import ObjectInfo
from driftloop.versioning.local import LocalVersionStore

SIGV4 = "AWS4-HMAC-SHA256"
_AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<scope>[^,]+), *"
    r"SignedHeaders=(?P<headers>[^,]+), *Signature=(?P<signature>[0-9a-f]{64})"
)
_RANGE = re.compile(r"bytes=(?P<start>\d*)-(?P<end>\d*)")


class S3Error(Exception):
    """An S3 error answer: status, S3's code and a message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def is_s3_request(headers: Message) -> bool:
    """Whether a request is for the gateway: signed with SigV4, as lakeFS tells them apart."""
    return headers.get("Authorization", "").startswith(SIGV4)


class S3Gateway:
    """Reads objects of the stand-in's repositories for S3 clients (boto, s3fs).

    Args:
        open_repository: the repository of a name (raises ``RepositoryNotFound``).
        access_key_id: the one accepted access key id.
        secret_access_key: its secret, which signs every request.
    """

    def __init__(
        self,
        open_repository: Callable[[str], LocalVersionStore],
        *,
        access_key_id: str,
        secret_access_key: str,
    ) -> None:
        self._open = open_repository
        self._key = access_key_id
        self._secret = secret_access_key

    def handle(
        self, method: str, raw_path: str, raw_query: str, headers: Message
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: status, headers and body (the body of a HEAD is not sent)."""
        try:
            self._authenticate(method, raw_path, raw_query, headers)
            parts = unquote(raw_path).lstrip("/").split("/", 2)
            query = dict(parse_qsl(raw_query, keep_blank_values=True))
            if method == "GET" and len(parts) == 1 and query.get("list-type") == "2":
                return self._list(parts[0], query)
            return self._object(method, raw_path, raw_query, headers)
        except Exception as exc:  # a server answers 500 and keeps serving
            return self._error(raw_path, exc if isinstance(exc, S3Error) else _internal(exc))

    def _error(self, raw_path: str, exc: S3Error) -> tuple[int, dict[str, str], bytes]:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
            f"<Code>{exc.code}</Code><Message>{escape(exc.message)}</Message>"
            f"<Resource>{escape(unquote(raw_path))}</Resource></Error>"
        ).encode()
        return exc.status, {"Content-Type": "application/xml"}, body

    def _object(
        self, method: str, raw_path: str, raw_query: str, headers: Message
    ) -> tuple[int, dict[str, str], bytes]:
        parts = unquote(raw_path).lstrip("/").split("/", 2)
        if method not in ("GET", "HEAD") or raw_query or len(parts) < 3 or not parts[2]:
            raise S3Error(501, "NotImplemented", "the stand-in reads single objects only")
        repository, ref, path = parts
        try:
            store = self._open(repository)
            data = store.read_object(ref, path)
            created = store.get_commit(ref).created_at
        except RepositoryNotFound as exc:
            raise S3Error(404, "NoSuchBucket", f"repository {repository!r} not found") from exc
        except (RefNotFound, ObjectNotFound) as exc:
            raise S3Error(404, "NoSuchKey", str(exc)) from exc
        except VersioningError as exc:
            raise S3Error(500, "InternalError", str(exc)) from exc
        answer = {
            "Content-Type": "application/octet-stream",
            "ETag": f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"',
            "Last-Modified": formatdate(created.timestamp(), usegmt=True),
            "Accept-Ranges": "bytes",
        }
        wanted = headers.get("Range")
        if wanted is None:
            return 200, answer, data
        start, end = _byte_range(wanted, len(data))
        answer["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        return 206, answer, data[start : end + 1]

    def _list(self, repository: str, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """``ListObjectsV2``: keys are ``<ref>/<path>``, so the prefix starts with a ref."""
        prefix, delimiter = query.get("prefix", ""), query.get("delimiter", "")
        after = query.get("continuation-token") or query.get("start-after", "")
        max_keys = int(query.get("max-keys", "1000"))
        ref, _, inner = prefix.partition("/")
        try:
            store = self._open(repository)
            objects = store.list_objects(ref, inner) if ref else []
        except RepositoryNotFound as exc:
            raise S3Error(404, "NoSuchBucket", f"repository {repository!r} not found") from exc
        except RefNotFound:
            objects = []
        keys: dict[str, ObjectInfo | None] = {}
        for obj in objects:
            key = f"{ref}/{obj.path}"
            folder = key.find(delimiter, len(prefix)) if delimiter else -1
            if folder >= 0:
                keys.setdefault(key[: folder + len(delimiter)], None)
            else:
                keys[key] = obj
        listed = [key for key in sorted(keys) if key > after][:max_keys]
        truncated = len([key for key in keys if key > after]) > len(listed)
        contents = "".join(
            f"<Contents><Key>{escape(key)}</Key><Size>{obj.size_bytes}</Size>"
            f'<ETag>"{obj.checksum}"</ETag><StorageClass>STANDARD</StorageClass></Contents>'
            for key in listed
            if (obj := keys[key]) is not None
        )
        folders = "".join(
            f"<CommonPrefixes><Prefix>{escape(key)}</Prefix></CommonPrefixes>"
            for key in listed
            if keys[key] is None
        )
        following = (
            f"<NextContinuationToken>{escape(listed[-1])}</NextContinuationToken>"
            if truncated
            else ""
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{escape(repository)}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<KeyCount>{len(listed)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>"
            f"<IsTruncated>{str(truncated).lower()}</IsTruncated>"
            f"{following}{contents}{folders}</ListBucketResult>"
        ).encode()
        return 200, {"Content-Type": "application/xml"}, body

    def _authenticate(self, method: str, raw_path: str, raw_query: str, headers: Message) -> None:
        """Check a SigV4 ``Authorization`` header as S3 does."""
        match = _AUTHORIZATION.fullmatch(headers.get("Authorization", "").strip())
        if match is None:
            raise S3Error(400, "AuthorizationHeaderMalformed", "malformed Authorization header")
        if not hmac.compare_digest(match["key"], self._key):
            raise S3Error(403, "InvalidAccessKeyId", "the access key id does not exist")
        date, region, service, _ = match["scope"].split("/")
        signed = match["headers"].split(";")
        canonical = "\n".join(
            [
                method,
                raw_path,
                _canonical_query(raw_query),
                *(f"{name}:{' '.join((headers.get(name) or '').split())}" for name in signed),
                "",
                match["headers"],
                headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ]
        )
        to_sign = "\n".join(
            [
                SIGV4,
                headers.get("x-amz-date", ""),
                match["scope"],
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        key = f"AWS4{self._secret}".encode()
        for part in (date, region, service, "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, match["signature"]):
            raise S3Error(403, "SignatureDoesNotMatch", "the request signature does not match")


def _internal(exc: Exception) -> S3Error:
    return S3Error(500, "InternalError", f"stand-in failure: {exc!r}")


def _canonical_query(raw_query: str) -> str:
    pairs = sorted(parse_qsl(raw_query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)


def _byte_range(header: str, size: int) -> tuple[int, int]:
    """The first and last byte of a single ``bytes=`` range, as S3 reads it."""
    match = _RANGE.fullmatch(header.strip())
    if match is None or not (match["start"] or match["end"]):
        raise S3Error(400, "InvalidArgument", f"unsupported Range {header!r}")
    if not match["start"]:
        start, end = max(size - int(match["end"]), 0), size - 1
    else:
        start = int(match["start"])
        end = min(int(match["end"]), size - 1) if match["end"] else size - 1
    if start >= size or start > end:
        raise S3Error(416, "InvalidRange", "the requested range is not satisfiable")
    return start, end
