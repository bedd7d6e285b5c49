"""A version's lineage records the validation of its own dataset's batches only."""

from __future__ import annotations

from pathlib import Path

from driftloop.config import Settings
from driftloop.training.steps import validation_summary
from driftloop.versioning.factory import open_store


def test_the_summary_leaves_out_another_datasets_batch_of_the_same_key(tmp_path: Path) -> None:
    store = open_store(Settings(home=tmp_path / "home"))
    store.ensure_repository("main")
    for dataset, percent in (("alpha", "100.0"), ("beta", "50.0")):
        branch = f"ingest-{dataset}-2026-01-01T0000Z"
        store.create_branch(branch, "main")
        store.write_object(branch, f"data/{dataset}/2026-01-01T0000Z.parquet", b"rows")
        store.commit(branch, "stage", {"dataset": dataset, "batch": "2026-01-01T0000Z"})
        metadata = {
            "dataset": dataset,
            "batch": "2026-01-01T0000Z",
            "validation": f'{{"success_percent": {percent}}}',
        }
        store.merge(branch, "main", "publish", metadata)

    summary = validation_summary(store, "alpha", store.resolve("main"))

    assert summary["batches"] == {"2026-01-01T0000Z": {"success_percent": 100.0}}
