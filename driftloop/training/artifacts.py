"""Model artifacts: XGBoost's own UBJ model file, the feature schema, and their checks.

Models are stored only in XGBoost's format, never pickled: loading one runs no code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from driftloop.exceptions import ArtifactCorrupt, SchemaMismatch
from driftloop.spec import DatasetSpec

if TYPE_CHECKING:
    import xgboost

    from driftloop.registry import VersionLineage
    from driftloop.training.model import TrainedModel
    from driftloop.versioning.base import VersionStore

MODEL_FILE = "model.ubj"
SCHEMA_FILE = "feature_schema.json"
SCHEMA_VERSION = 1


class ArtifactFiles(BaseModel):
    """What ``save_artifacts`` wrote."""

    model_config = ConfigDict(frozen=True)

    model: Path
    feature_schema: Path
    model_sha256: str


def feature_schema(spec: DatasetSpec) -> dict[str, Any]:
    """Return the part of ``spec`` a model depends on: features in order, target, labels."""
    return {
        "schema_version": SCHEMA_VERSION,
        "dataset": spec.name,
        "features": [
            {
                "name": feature.name,
                "kind": feature.kind,
                "dtype": feature.dtype,
                "categories": feature.categories,
            }
            for feature in spec.features
        ],
        "target": spec.target,
        "target_values": spec.target_values,
        "positive_label": spec.positive_label,
    }


def save_artifacts(model: TrainedModel, spec: DatasetSpec, out_dir: Path) -> ArtifactFiles:
    """Write ``model.ubj`` and ``feature_schema.json`` into ``out_dir``.

    Both files are byte-for-byte reproducible: the same model and spec give the same bytes.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    model_path = out_dir / MODEL_FILE
    model.booster.save_model(model_path)
    schema_path = out_dir / SCHEMA_FILE
    schema_text = json.dumps(feature_schema(spec), indent=2, sort_keys=True) + "\n"
    schema_path.write_text(schema_text, encoding="utf-8")
    return ArtifactFiles(
        model=model_path,
        feature_schema=schema_path,
        model_sha256=hashlib.sha256(model_path.read_bytes()).hexdigest(),
    )


def load_model(model_bytes: bytes, *, expected_sha256: str) -> xgboost.Booster:
    """Load a booster from UBJ bytes after checking their SHA-256.

    Raises:
        ArtifactCorrupt: the checksum differs (both are named) or XGBoost cannot read
            the bytes.
    """
    import xgboost

    actual = _verified_sha256(model_bytes, expected_sha256, what="model")
    booster = xgboost.Booster()
    try:
        booster.load_model(bytearray(model_bytes))
    except xgboost.core.XGBoostError as exc:
        raise ArtifactCorrupt(f"model bytes (sha256 {actual}) do not load: {exc}") from exc
    return booster


def read_model_artifact(store: VersionStore, lineage: VersionLineage) -> bytes:
    """Read a version's model file from the store at its artifact commit, checksum verified.

    Reads ``lineage.artifact_uri`` at ``lineage.artifact_commit`` (never a branch, which may
    have moved on) and checks the bytes against ``lineage.artifact_sha256``.

    Raises:
        ArtifactCorrupt: the bytes' SHA-256 differs; the path, the commit and both checksums
            are named.
        RefNotFound: the artifact commit is not in the store.
        ObjectNotFound: nothing is at the artifact's path in that commit.
        VersioningError: the store failed.
    """
    data = store.read_object(lineage.artifact_commit, lineage.artifact_uri)
    _verified_sha256(
        data,
        lineage.artifact_sha256,
        what=f"model {lineage.artifact_uri} at commit {lineage.artifact_commit}",
    )
    return data


def _verified_sha256(data: bytes, expected: str, *, what: str) -> str:
    """The SHA-256 of ``data`` once it equals ``expected``.

    Raises:
        ArtifactCorrupt: it differs; ``what`` and both checksums are named.
    """
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise ArtifactCorrupt(
            f"{what} checksum mismatch: expected sha256 {expected}, got {actual} "
            f"({len(data)} bytes)"
        )
    return actual


def check_schema_compatible(spec: DatasetSpec, champion_schema: dict[str, Any]) -> None:
    """Check that data prepared with ``spec`` means the same to the champion's model.

    Raises:
        SchemaMismatch: listing added, removed, retyped and reordered features, changed
            category lists, and a changed target or positive label.
    """
    problems = _schema_differences(feature_schema(spec), champion_schema)
    if problems:
        raise SchemaMismatch(
            f"dataset spec {spec.name!r} does not fit the champion's feature schema: "
            + "; ".join(problems)
        )


def _schema_differences(current: dict[str, Any], champion: dict[str, Any]) -> list[str]:
    try:
        old = {feature["name"]: feature for feature in champion["features"]}
        old_order = [feature["name"] for feature in champion["features"]]
        old_target = _target_of(champion)
    except (KeyError, TypeError) as exc:
        return [f"the champion's schema is unreadable (missing {exc})"]
    new = {feature["name"]: feature for feature in current["features"]}
    new_order = [feature["name"] for feature in current["features"]]

    problems = []
    new_target = _target_of(current)
    if new_target != old_target:
        problems.append(f"target changed from {old_target} to {new_target}")
    added = [name for name in new_order if name not in old]
    removed = [name for name in old_order if name not in new]
    if added:
        problems.append(f"added features {added}")
    if removed:
        problems.append(f"removed features {removed}")
    common = [name for name in new_order if name in old]
    if common != [name for name in old_order if name in new]:
        problems.append(f"feature order changed: {old_order} -> {new_order}")
    for name in common:
        was, now = old[name], new[name]
        if (was.get("kind"), was.get("dtype")) != (now["kind"], now["dtype"]):
            problems.append(
                f"feature {name!r} retyped from {was.get('kind')}/{was.get('dtype')} "
                f"to {now['kind']}/{now['dtype']}"
            )
            continue
        problems.extend(_category_differences(name, was.get("categories"), now["categories"]))
    return problems


def _target_of(schema: dict[str, Any]) -> str:
    values = sorted(schema["target_values"])
    return f"{schema['target']!r} (labels {values}, positive {schema['positive_label']!r})"


def _category_differences(name: str, was: list[str] | None, now: list[str] | None) -> list[str]:
    was, now = was or [], now or []
    if was == now:
        return []
    added = [c for c in now if c not in was]
    removed = [c for c in was if c not in now]
    if added or removed:
        return [f"feature {name!r} categories changed: added {added}, removed {removed}"]
    # Same set, new order: the codes the serving path sends would mean other categories.
    return [f"feature {name!r} categories reordered: {was} -> {now}"]
