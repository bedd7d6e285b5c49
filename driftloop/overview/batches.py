"""The batches of a dataset: published on the main branch, or quarantined on their own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftloop.exceptions import ObjectNotFound, RefNotFound, RepositoryNotFound
from driftloop.ingest.batch import INGEST_PREFIX
from driftloop.ingest.quarantine import read_quarantine_note

if TYPE_CHECKING:
    from driftloop.versioning.base import VersionStore


@dataclass(frozen=True)
class BatchRow:
    """One batch: where it stands, its rows, and the reasons or warnings it carries."""

    key: str
    state: str
    commit_id: str
    rows: int | None
    source: str
    at: str
    failures: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    docs: str | None = None


def published_batches(store: VersionStore, main: str, *, limit: int = 500) -> list[BatchRow]:
    """The batches merged into ``main``, newest first, with their validation warnings."""
    try:
        log = store.log(main, limit=limit)
    except (RepositoryNotFound, RefNotFound):
        return []  # nothing ingested yet
    rows = []
    for commit in log:
        meta = commit.metadata
        if "batch" not in meta or "validation" not in meta:
            continue
        rows.append(
            BatchRow(
                key=meta["batch"],
                state="published",
                commit_id=commit.id,
                rows=int(meta["rows"]) if meta.get("rows", "").isdigit() else None,
                source=meta.get("source", ""),
                at=commit.created_at.isoformat(timespec="seconds"),
                warnings=json.loads(meta.get("validation_warnings") or "[]"),
            )
        )
    return rows


def quarantined_batches(store: VersionStore) -> list[BatchRow]:
    """The batches kept off ``main`` by a failed validation, each on its branch."""
    try:
        branches = store.list_branches()
    except RepositoryNotFound:
        return []  # nothing ingested yet
    rows = []
    for branch in branches:
        if not branch.startswith(INGEST_PREFIX):
            continue
        key = branch.removeprefix(INGEST_PREFIX)
        try:
            note = read_quarantine_note(store, key)
        except ObjectNotFound:
            continue  # staged, not judged yet
        head = store.get_commit(branch)
        rows.append(
            BatchRow(
                key=key,
                state="quarantined",
                commit_id=head.id,
                rows=None,
                source=str(note.get("source", "")),
                at=head.created_at.isoformat(timespec="seconds"),
                failures=list(note.get("failures", [])),  # type: ignore[call-overload]
                docs=str(note["docs_object"]) if note.get("docs_object") else None,
            )
        )
    return sorted(rows, key=lambda row: row.at, reverse=True)
