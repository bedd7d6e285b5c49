"""Run a DAG for the CLI and tell the user what came of it, read back from the store."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

from driftloop.config import Settings
from driftloop.exceptions import (
    DataSourceError,
    DriftloopError,
    ObjectNotFound,
    RefNotFound,
    RepositoryNotFound,
)
from driftloop.launcher.airflow import ensure_airflow_db, run_dag_once


def land_file(settings: Settings, dataset: str, path: Path) -> Path:
    """The file as the ingest DAG may read it, copied into the landing zone if need be.

    A worker reads a file named in a run's conf only in the landing zone and the ingest roots
    (whoever triggers a run names it); ``driftloop ingest`` acts for its user, who may read
    the file, so it lands it there as a source system would: a file already inside is used
    as it is, any other is copied to ``<landing>/<dataset>/<content hash>/<name>`` (the same
    file lands once; two files of one name never meet).

    Raises:
        DataSourceError: ``path`` is not a readable file.
    """
    from driftloop.data.roots import is_inside

    resolved = path.resolve()
    if not resolved.is_file():
        raise DataSourceError(f"{path} does not exist or is not a file")
    if is_inside(resolved, settings.ingest_root_dirs):
        return resolved
    try:
        with resolved.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()[:12]
        landed = settings.landing_dir / dataset / digest / resolved.name
        if not landed.is_file():
            landed.parent.mkdir(parents=True, exist_ok=True)
            partial = landed.with_name(f".{landed.name}.{os.getpid()}.partial")
            shutil.copyfile(resolved, partial)
            os.replace(partial, landed)
    except OSError as exc:
        raise DataSourceError(f"cannot land {path} in {settings.landing_dir}: {exc}") from exc
    return landed


def ingest_file(settings: Settings, path: Path) -> int:
    """Ingest one file through ``driftloop_ingest``; print the published commit or the reasons.

    The file is handed to the DAG through the landing zone (:func:`land_file`). Returns the
    process exit code: 0 when published, 1 otherwise.
    """
    from driftloop.data.published import names_batch_of
    from driftloop.ingest.batch import data_path, file_batch_key, ingest_branch
    from driftloop.ingest.quarantine import read_quarantine_note
    from driftloop.spec import load_spec
    from driftloop.versioning.factory import open_store

    spec = load_spec(settings.dataset_spec_path)
    try:
        landed = land_file(settings, spec.name, path)
        key = file_batch_key(str(landed), spec)
    except DriftloopError as exc:
        print(f"not ingested: {exc}", file=sys.stderr)
        return 1
    if landed != path.resolve():
        print(f"landed {path} as {landed}")
    ensure_airflow_db(settings)
    outcome = run_dag_once(settings, "driftloop_ingest", conf={"path": str(landed)})
    store = open_store(settings)
    if outcome.succeeded:
        head = next(
            (
                c
                for c in store.log(settings.main_branch)
                if c.metadata.get("batch") == key and names_batch_of(c.metadata, spec.name)
            ),
            None,
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
        note = read_quarantine_note(store, spec.name, key)
    except (ObjectNotFound, RefNotFound, RepositoryNotFound):
        print(f"ingest failed; Airflow said:\n{outcome.output[-3000:]}", file=sys.stderr)
        return 1
    print(
        f"quarantined on branch {ingest_branch(spec.name, key)}\n{note['message']}",
        file=sys.stderr,
    )
    if note.get("docs_path"):
        print(f"Data Docs: {note['docs_path']}", file=sys.stderr)
    return 1
