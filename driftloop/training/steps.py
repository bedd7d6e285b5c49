"""The steps of ``driftloop_train``: train on a pinned commit, register, decide, promote.

Each function is one Airflow task's work, keyed by the run (``run_key``) so that a retried
task neither writes a second artifact commit, nor a second version, nor a second alias move.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel

from driftloop.config import Settings
from driftloop.config.promotion import CHAMPION, PromotionMode, PromotionPolicy
from driftloop.data.published import read_published
from driftloop.exceptions import (
    DataSourceError,
    TrainingError,
    UnpublishedData,
    VersionNotFound,
)
from driftloop.lineage import code_version
from driftloop.promotion import Decision, decide
from driftloop.registry import ModelVersion, Registry, VersionLineage
from driftloop.spec import DatasetSpec
from driftloop.training import (
    Metrics,
    TrainingParams,
    check_schema_compatible,
    evaluate,
    holdout_rows,
    load_model,
    save_artifacts,
    train_model,
    write_plots,
)
from driftloop.training.artifacts import read_model_artifact
from driftloop.training.features import split_assignment
from driftloop.versioning.base import VersionStore
from driftloop.versioning.transact import transact


class Candidate(BaseModel):
    """A trained model and its evidence, written to the store, not yet registered."""

    run_key: str
    data_ref: str
    data_commit: str
    unpublished_data: bool = False
    rows: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    champion_version: int | None
    champion_metrics: dict[str, Any] | None
    artifact_uri: str
    artifact_commit: str
    artifact_sha256: str
    files: list[str]
    reference_profile_uri: str


def read_dataset(store: VersionStore, spec: DatasetSpec, commit_id: str) -> pd.DataFrame:
    """Every published batch of ``spec``'s dataset at one commit, in path order.

    Raises:
        TrainingError: the commit holds no data for the dataset.
    """
    try:
        return read_published(store, spec, commit_id)
    except DataSourceError as exc:
        raise TrainingError(str(exc)) from exc


def run_folder(spec: DatasetSpec, run_key: str) -> str:
    """Where a run's artifacts live in the models branch."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", run_key).strip("_")
    return f"models/{spec.name}/{slug}"


def check_data_published(
    store: VersionStore,
    settings: Settings,
    *,
    data_ref: str,
    data_commit: str,
    allow_unpublished: bool,
) -> bool:
    """Whether ``data_commit`` is published: the main branch's head or one of its ancestors.

    A commit off main (a quarantined or unmerged ingest branch) is refused unless
    ``allow_unpublished`` is set.

    Raises:
        UnpublishedData: the commit is not on main and ``allow_unpublished`` is false.
        RefNotFound: no such commit.
    """
    main = settings.main_branch
    if store.is_ancestor(data_commit, main):
        return True
    if allow_unpublished:
        return False
    raise UnpublishedData(
        f"data ref {data_ref!r} (commit {data_commit}) is not on {main!r}: training takes "
        f"only published data, {main!r}'s head or one of its ancestors, so a quarantined or "
        "unmerged batch is never trained on by accident; publish it first, or set "
        "allow_unpublished_data to train on it anyway (the version is then recorded as "
        "trained on unpublished data and never promoted automatically)"
    )


def train_candidate(
    store: VersionStore,
    registry: Registry,
    spec: DatasetSpec,
    *,
    settings: Settings,
    data_ref: str,
    data_commit: str,
    run_key: str,
    params: TrainingParams,
    allow_unpublished_data: bool = False,
) -> Candidate:
    """Train on ``data_commit``, score challenger and champion on the same holdout, store artifacts.

    ``data_commit`` must be on the main branch unless ``allow_unpublished_data`` is set
    (see :func:`check_data_published`).

    Raises:
        UnpublishedData: ``data_commit`` is not on main and no override was given.
        TrainingError: too few rows, a single class, a missing target column.
        SchemaMismatch: the spec no longer fits the champion's feature schema.
        ArtifactCorrupt: the champion's model file fails its checksum.
    """
    published = check_data_published(
        store,
        settings,
        data_ref=data_ref,
        data_commit=data_commit,
        allow_unpublished=allow_unpublished_data,
    )
    frame = read_dataset(store, spec, data_commit)
    champion = _champion(registry, spec.name)
    if champion is not None:
        check_schema_compatible(spec, champion.lineage.feature_schema)
    split = split_assignment(frame, spec)
    trained = train_model(frame, spec, params, split=split)
    holdout = holdout_rows(frame, spec, split=split)
    del split
    metrics = evaluate(trained.booster, holdout, spec, threshold=params.threshold)
    champion_metrics = None
    if champion is not None:
        booster = load_champion_model(store, champion)
        champion_metrics = evaluate(booster, holdout, spec, threshold=params.threshold)

    from driftloop.monitoring.steps import reference_profile_for_training

    reference = reference_profile_for_training(store, spec, frame, settings=settings)
    folder = run_folder(spec, run_key)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        files = save_artifacts(trained, spec, out)
        write_plots(trained.booster, holdout, spec, out)
        record = trained.record() | {"metrics": metrics.model_dump(), "rows": len(frame)}
        (out / "training.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        names = sorted(p.name for p in out.iterdir())
        artifact_commit = _commit_files(
            store, settings, folder, out, names, run_key=run_key, data_commit=data_commit
        )
    return Candidate(
        run_key=run_key,
        data_ref=data_ref,
        data_commit=data_commit,
        unpublished_data=not published,
        rows=len(frame),
        params=record["params"],
        metrics=metrics.model_dump(),
        champion_version=champion.version if champion else None,
        champion_metrics=champion_metrics.model_dump() if champion_metrics else None,
        artifact_uri=f"{folder}/{files.model.name}",
        artifact_commit=artifact_commit,
        artifact_sha256=files.model_sha256,
        files=[f"{folder}/{name}" for name in names],
        reference_profile_uri=reference,
    )


def register_candidate(
    registry: Registry,
    store: VersionStore,
    spec: DatasetSpec,
    candidate: Candidate,
    *,
    settings: Settings,
    created_by: str,
) -> ModelVersion:
    """Register the candidate with its lineage and reference profile (idempotent by ``run_key``)."""
    from driftloop.training import feature_schema

    lineage = VersionLineage(
        data_commit=candidate.data_commit,
        data_ref=candidate.data_ref,
        unpublished_data=candidate.unpublished_data,
        validation=validation_summary(store, spec.name, candidate.data_commit),
        params=candidate.params,
        metrics=candidate.metrics,
        holdout_metrics_champion=candidate.champion_metrics,
        code_version=code_version(settings.project_dir),
        artifact_uri=candidate.artifact_uri,
        artifact_commit=candidate.artifact_commit,
        artifact_sha256=candidate.artifact_sha256,
        feature_schema=feature_schema(spec),
        tags={"champion_at_training": str(candidate.champion_version or "")},
    )
    version = registry.register_version(
        spec.name, run_key=candidate.run_key, lineage=lineage, created_by=created_by
    )
    if version.reference_profile_uri is None:
        # The drift monitor scores new data against this profile of the training data.
        version = registry.set_reference_profile(
            spec.name, version.version, candidate.reference_profile_uri
        )
    return version


def decide_promotion(
    registry: Registry,
    version: ModelVersion,
    candidate: Candidate,
    *,
    policy: PromotionPolicy,
    mode: PromotionMode,
    actor: str,
) -> Decision:
    """Apply the policy (and the run's promotion mode); record the decision either way.

    A version trained on unpublished data (see :func:`check_data_published`) is never
    promoted in ``auto`` mode; with ``require_approval`` the approver sees why it is special,
    and a person may always promote it by hand.
    """
    champion = Metrics(**candidate.champion_metrics) if candidate.champion_metrics else None
    decision = decide(Metrics(**candidate.metrics), champion, policy)
    lineage = version.lineage
    unpublished = (
        f"trained on unpublished data (ref {lineage.data_ref!r}, commit {lineage.data_commit}, "
        "not on the main branch)"
    )
    if decision.promote and mode == "never":
        decision = _withheld(decision, "promotion mode is 'never'")
    elif decision.promote and lineage.unpublished_data and mode == "auto":
        decision = _withheld(
            decision, f"{unpublished}: never promoted automatically, promote it by hand if you must"
        )
    elif decision.promote and lineage.unpublished_data:
        decision = decision.model_copy(update={"reason": f"{unpublished}; {decision.reason}"})
    evidence = decision.evidence | {
        "mode": mode,
        "champion_version": candidate.champion_version,
        "unpublished_data": lineage.unpublished_data,
    }
    registry.record_decision(
        version.model,
        version.version,
        promoted=decision.promote,
        reason=decision.reason,
        evidence=evidence,
        actor=actor,
        run_key=candidate.run_key,
    )
    return Decision(promote=decision.promote, reason=decision.reason, evidence=evidence)


def _withheld(decision: Decision, why: str) -> Decision:
    """``decision`` turned into a non-promotion, saying why and what the policy would do."""
    return Decision(
        promote=False,
        reason=f"{why}; the policy would promote: {decision.reason}",
        evidence=decision.evidence,
    )


def promote_version(
    registry: Registry,
    version: ModelVersion,
    *,
    reason: str,
    evidence: dict[str, Any],
    actor: str,
    run_key: str,
    compared_with: int | None,
) -> int | None:
    """Move ``champion`` to ``version`` in one audited transaction; return the previous one.

    The move happens only while ``champion`` is still ``compared_with``, the version the
    candidate was compared with: a challenger never replaces a champion it was not judged
    against (an approval can wait for days while someone promotes or rolls back).

    Raises:
        AliasMoved: ``champion`` moved since the comparison.
    """
    move = registry.move_alias(
        version.model,
        CHAMPION,
        version.version,
        actor=actor,
        reason=reason,
        evidence=evidence,
        run_key=run_key,
        expected=compared_with,
    )
    return move.from_version


def load_champion_model(store: VersionStore, version: ModelVersion):
    """The XGBoost booster of a registered version, checked against its recorded checksum.

    Raises:
        ArtifactCorrupt: the bytes in the store do not match the recorded checksum.
    """
    data = read_model_artifact(store, version.lineage)
    return load_model(data, expected_sha256=version.lineage.artifact_sha256)


def validation_summary(store: VersionStore, dataset: str, data_commit: str) -> dict[str, Any]:
    """The validation statistics of every batch of ``dataset`` published up to ``data_commit``."""
    from driftloop.data.published import names_batch_of

    batches = {}
    for commit in store.log(data_commit, limit=10_000):
        meta = commit.metadata
        if "validation" in meta and "batch" in meta and names_batch_of(meta, dataset):
            batches.setdefault(meta["batch"], json.loads(meta["validation"]))
    return {"data_commit": data_commit, "batches": dict(sorted(batches.items()))}


def _champion(registry: Registry, model: str) -> ModelVersion | None:
    try:
        return registry.get_alias(model, CHAMPION)
    except VersionNotFound:
        return None


def _commit_files(
    store: VersionStore,
    settings: Settings,
    folder: str,
    local: Path,
    names: list[str],
    *,
    run_key: str,
    data_commit: str,
) -> str:
    store.ensure_repository(settings.main_branch)
    with transact(
        store,
        settings.models_branch,
        source_ref=settings.main_branch,
        message=f"Model artifacts of {run_key}",
        metadata={"airflow_run_id": run_key, "data_commit": data_commit},
    ) as tx:
        for name in names:
            tx.write_if_changed(f"{folder}/{name}", (local / name).read_bytes())
    return tx.commit_id


class Reproduction(BaseModel):
    """The outcome of retraining a version from its recorded lineage."""

    model: str
    version: int
    identical: bool
    recorded_sha256: str
    reproduced_sha256: str


def reproduce_version(
    store: VersionStore, registry: Registry, spec: DatasetSpec, model: str, version: int
) -> Reproduction:
    """Retrain ``version`` from its data commit and parameters; compare the model bytes.

    Raises:
        VersionNotFound: no such version.
        SchemaMismatch: the current spec no longer fits the version's feature schema.
    """
    recorded = registry.get_version(model, version)
    check_schema_compatible(spec, recorded.lineage.feature_schema)
    frame = read_dataset(store, spec, recorded.lineage.data_commit)
    trained = train_model(frame, spec, TrainingParams(**recorded.lineage.params))
    with tempfile.TemporaryDirectory() as tmp:
        files = save_artifacts(trained, spec, Path(tmp))
    return Reproduction(
        model=model,
        version=version,
        identical=files.model_sha256 == recorded.lineage.artifact_sha256,
        recorded_sha256=recorded.lineage.artifact_sha256,
        reproduced_sha256=files.model_sha256,
    )
