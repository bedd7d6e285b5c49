"""The batches of a dataset: published on the main branch, or quarantined on their own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from driftloop.data.published import names_batch_of
from driftloop.exceptions import ObjectNotFound, RefNotFound, RepositoryNotFound
from driftloop.ingest.batch import ingest_prefix
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


def published_batches(
    store: VersionStore, main: str, dataset: str, *, limit: int = 500
) -> list[BatchRow]:
    """The batches of ``dataset`` merged into ``main``, newest first, with their warnings."""
    try:
        log = store.log(main, limit=limit)
    except (RepositoryNotFound, RefNotFound):
        return []  # nothing ingested yet
    rows = []
    for commit in log:
        meta = commit.metadata
        if "batch" not in meta or "validation" not in meta or not names_batch_of(meta, dataset):
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


def quarantined_batches(store: VersionStore, dataset: str) -> list[BatchRow]:
    """The batches of ``dataset`` kept off ``main`` by a failed validation, each on its branch.

    A branch of another dataset whose name starts the same (``a-b`` for ``a``) holds no note
    of this dataset, so it is passed over.
    """
    try:
        branches = store.list_branches()
    except RepositoryNotFound:
        return []  # nothing ingested yet
    rows = []
    prefix = ingest_prefix(dataset)
    for branch in branches:
        if not branch.startswith(prefix):
            continue
        key = branch.removeprefix(prefix)
        try:
            note = read_quarantine_note(store, dataset, key)
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
