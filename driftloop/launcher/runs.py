"""Run a DAG for the CLI and tell the user what came of it, read back from the store."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from driftloop.config import Settings
from driftloop.exceptions import DriftloopError, ObjectNotFound, RefNotFound, RepositoryNotFound
from driftloop.launcher.airflow import ensure_airflow_db, run_dag_once


def ingest_file(settings: Settings, path: Path) -> int:
    """Ingest one file through ``driftloop_ingest``; print the published commit or the reasons.

    Returns the process exit code: 0 when published, 1 otherwise.
    """
    from driftloop.ingest.batch import data_path, file_batch_key, ingest_branch
    from driftloop.ingest.quarantine import read_quarantine_note
    from driftloop.spec import load_spec
    from driftloop.versioning.factory import open_store

    spec = load_spec(settings.dataset_spec_path)
    ensure_airflow_db(settings)
    outcome = run_dag_once(settings, "driftloop_ingest", conf={"path": str(path.resolve())})
    try:
        key = file_batch_key(str(path), spec)
    except DriftloopError as exc:
        print(f"not ingested: {exc}", file=sys.stderr)
        return 1
    store = open_store(settings)
    if outcome.succeeded:
        head = next(
            (c for c in store.log(settings.main_branch) if c.metadata.get("batch") == key), None
        )
        commit = head.id if head else store.resolve(settings.main_branch)
        print(f"published {data_path(spec, key)} to {settings.main_branch}@{commit}")
        warnings = json.loads(head.metadata.get("validation_warnings") or "[]") if head else []
        if warnings:
            print(
                f"with {len(warnings)} validation warnings (changed data: published, and "
                "counted as drift evidence):"
            )
            for warning in warnings:
                print(f"  - {warning['expectation']}: {warning['message']}")
        return 0
    try:
        note = read_quarantine_note(store, key)
    except (ObjectNotFound, RefNotFound, RepositoryNotFound):
        print(f"ingest failed; Airflow said:\n{outcome.output[-3000:]}", file=sys.stderr)
        return 1
    print(f"quarantined on branch {ingest_branch(key)}\n{note['message']}", file=sys.stderr)
    if note.get("docs_path"):
        print(f"Data Docs: {note['docs_path']}", file=sys.stderr)
    return 1
