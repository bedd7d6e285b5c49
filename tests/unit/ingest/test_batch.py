"""Batch names: each dataset's own branches, notes and publish commits."""

from __future__ import annotations

from driftloop.data.published import names_batch_of
from driftloop.ingest.batch import ingest_branch, quarantine_object


def test_a_batch_is_named_with_its_dataset() -> None:
    assert ingest_branch("credit_risk", "2026-01-01T0000Z") == "ingest-credit_risk-2026-01-01T0000Z"
    assert (
        quarantine_object("alpha", "file-0123456789ab") == "quarantine/alpha/file-0123456789ab.json"
    )
    assert quarantine_object("alpha", "k", ".html") == "quarantine/alpha/k.html"


def test_publish_commits_are_told_apart_by_dataset_or_by_path() -> None:
    assert names_batch_of({"dataset": "alpha", "batch": "k"}, "alpha")
    assert not names_batch_of({"dataset": "alpha-b", "batch": "k"}, "alpha")
    # publish commits made before batches recorded their dataset
    assert names_batch_of({"batch": "k", "path": "data/alpha/k.parquet"}, "alpha")
    assert not names_batch_of({"batch": "k", "path": "data/alpha-b/k.parquet"}, "alpha")
    assert not names_batch_of({"batch": "k"}, "alpha")
