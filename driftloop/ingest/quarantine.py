"""A rejected batch stays on its branch with the reasons committed next to it.

The note, GX's result and its Data Docs page are committed on ``ingest-<dataset>-<batch>``
under ``quarantine/<dataset>/``, so they outlive the worker that validated the batch and
anyone can read them from the store.
"""

from __future__ import annotations

import json
from pathlib import Path

from driftloop.exceptions import ObjectNotFound
from driftloop.ingest.batch import StagedBatch, ingest_branch, quarantine_object
from driftloop.validation.report import ValidationReport
from driftloop.versioning.base import VersionStore
from driftloop.versioning.transact import transact


def quarantine_batch(store: VersionStore, batch: StagedBatch, report: ValidationReport) -> None:
    """Commit the reasons, GX's result and its Data Docs page on the batch's branch.

    The result and the page are copied into the store, so they outlive the worker that
    validated the batch; ``result_path`` and ``docs_path`` name that worker's copies.
    """
    note = {
        "dataset": batch.dataset,
        "batch": batch.key,
        "source": batch.source,
        "staged_commit": batch.commit_id,
        "message": report.describe(batch.source),
        "statistics": report.statistics,
        "failures": [failure.model_dump(mode="json") for failure in report.failures],
        "result_path": str(report.result_path),
        "docs_path": str(report.docs_path),
        "result_object": quarantine_object(batch.dataset, batch.key, ".gx.json"),
        "docs_object": quarantine_object(batch.dataset, batch.key, ".html"),
    }
    body = json.dumps(note, indent=2, sort_keys=True, default=str).encode()
    if _same_verdict(store, batch, json.loads(body)):
        return
    copies = (
        (note["result_path"], note["result_object"]),
        (note["docs_path"], note["docs_object"]),
    )
    with transact(
        store,
        batch.branch,
        source_ref=batch.commit_id,
        message=f"Quarantine batch {batch.key} of {batch.dataset}",
        metadata={"quarantined": "true"},
    ) as tx:
        for local, stored in copies:
            if local and Path(local).is_file():
                tx.write(stored, Path(local).read_bytes())
        tx.write(quarantine_object(batch.dataset, batch.key), body)


def _same_verdict(store: VersionStore, batch: StagedBatch, note: dict[str, object]) -> bool:
    """Whether the branch already records this verdict (paths and commit ids change per run)."""
    try:
        previous = json.loads(
            store.read_object(batch.branch, quarantine_object(batch.dataset, batch.key))
        )
    except ObjectNotFound:
        return False
    return all(
        previous.get(k) == note[k] for k in ("dataset", "batch", "source", "statistics", "failures")
    )


def read_quarantine_note(store: VersionStore, dataset: str, key: str) -> dict[str, object]:
    """The reasons batch ``key`` of ``dataset`` was quarantined, read from its branch.

    Raises:
        RefNotFound: the batch has no branch.
        ObjectNotFound: the batch was not quarantined.
    """
    return json.loads(
        store.read_object(ingest_branch(dataset, key), quarantine_object(dataset, key))
    )
