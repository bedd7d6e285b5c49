"""Package a registered model version as a Bento: BentoML's model store filled from our store.

The artifact is read from the versioned store at its commit and checked against the
recorded checksum before anything is written. The BentoML model holds ``model.ubj``, the
feature schema, the dataset spec, the dataset's expectation suite (``suite.json``: the
service warns about values beyond its learned ranges) and the lineage summary; the Bento
is built offline from ``bento/bentofile.yaml`` (pinned requirements, no package locking),
and keeps its generated Dockerfile for a machine with a container daemon. Tags derive from
the version and the checksum, so packaging the same version again returns the existing
Bento. The Bento's archive then goes beside the model on the store's models branch, so a
Bento built on one worker is there for every machine (``bentoml import`` it, then
``bentoml containerize``).

BentoML is imported inside functions only, with ``BENTOML_HOME`` set first.
"""

from __future__ import annotations

import json
import os
import posixpath
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bento.environment import bentoml_env, bentoml_home
from driftloop.exceptions import ServingError
from driftloop.serving.handle import lineage_summary
from driftloop.spec import load_spec
from driftloop.training.artifacts import check_schema_compatible, load_model, read_model_artifact
from driftloop.versioning.transact import transact

if TYPE_CHECKING:
    from driftloop.config import Settings
    from driftloop.registry import ModelVersion
    from driftloop.versioning.base import VersionStore

BENTOFILE = Path("bento") / "bentofile.yaml"
MODEL_FILE = "model.ubj"
SCHEMA_FILE = "feature_schema.json"
SPEC_FILE = "spec.yaml"
SUITE_FILE = "suite.json"
LINEAGE_FILE = "lineage.json"
BUILD_TIMEOUT_SECONDS = 600


def model_tag(version: ModelVersion) -> str:
    """BentoML model tag of a version: ``<model>:v<version>-<first 12 of sha256>``."""
    return f"{version.model}:{_tag_version(version)}"


def bento_tag(version: ModelVersion) -> str:
    """Bento tag of a version: ``driftloop-<model>:v<version>-<first 12 of sha256>``."""
    return f"driftloop-{version.model}:{_tag_version(version)}"


def build_bento(settings: Settings, version: ModelVersion, store: VersionStore) -> str:
    """Fill BentoML's model store with ``version`` and build its Bento; return the Bento tag.

    Idempotent: an existing model of the same tag (and checksum) is reused, and an existing
    Bento of the same tag is returned without building. The project's suite goes in the
    model as it is now; without one, the Bento serves without range or sign warnings.

    Raises:
        ArtifactCorrupt: the stored model fails its recorded checksum or does not load.
        SchemaMismatch: the project's dataset spec no longer fits the version.
        ServingError: BentoML's home is already another one in this process, a model of
            the same tag holds other bytes, or ``bentoml build`` fails (its output included)
            or times out.
        VersioningError: the artifact cannot be read from the store.
    """
    bentoml = _bentoml(settings)
    spec_path = settings.dataset_spec_path
    check_schema_compatible(load_spec(spec_path), version.lineage.feature_schema)
    data = read_model_artifact(store, version.lineage)
    # The checksum is verified; loading proves the bytes are a model before BentoML stores them.
    load_model(data, expected_sha256=version.lineage.artifact_sha256)
    suite_path = settings.suite_path
    suite_text = suite_path.read_text(encoding="utf-8") if suite_path.exists() else None
    _ensure_model(bentoml, version, data, spec_path.read_text(encoding="utf-8"), suite_text)

    tag = bento_tag(version)
    try:
        return str(bentoml.bentos.get(tag).tag)
    except bentoml.exceptions.NotFound:
        pass
    name, _, bento_version = tag.partition(":")
    command = [
        sys.executable,
        "-m",
        "bentoml",
        "build",
        "--bentofile",
        str(BENTOFILE),
        "--name",
        name,
        "--version",
        bento_version,
        "--label",
        f"model_version={version.version}",
        "--arg",
        f"model_tag={model_tag(version)}",
        "--output",
        "tag",
        ".",
    ]
    # The build imports bento.service, which reads the settings and the build arguments at
    # import time: a fresh process sees this version's, even where the service was imported.
    try:
        result = subprocess.run(
            command,
            cwd=settings.project_dir,
            env=bentoml_env(settings),
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServingError(f"bentoml build for {tag} took over {exc.timeout} s") from exc
    if result.returncode != 0:
        raise ServingError(
            f"bentoml build for {tag} failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return tag


def package_version(
    settings: Settings, version: ModelVersion, store: VersionStore
) -> tuple[str, str]:
    """Build ``version``'s Bento and commit its archive to the store; return (tag, path).

    Raises:
        ArtifactCorrupt, SchemaMismatch, ServingError, VersioningError: as
            :func:`build_bento` and :func:`publish_bento` raise them.
    """
    tag = build_bento(settings, version, store)
    return tag, publish_bento(settings, version, store, tag)


def publish_bento(settings: Settings, version: ModelVersion, store: VersionStore, tag: str) -> str:
    """Commit the Bento's archive beside the model on the models branch; return its path.

    Once per version: an archive already committed there is kept, so a retried task commits
    nothing new (archives are not byte-for-byte stable between exports).

    Raises:
        ServingError: BentoML's home is already another one in this process, or the Bento
            is not in it.
        VersioningError: the store failed.
    """
    path = f"{posixpath.dirname(version.lineage.artifact_uri)}/{tag.replace(':', '-')}.bento"
    branch = settings.models_branch
    if store.list_objects(store.resolve(branch), path):
        return path
    bentoml = _bentoml(settings)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            archive = bentoml.bentos.export_bento(tag, str(Path(tmp) / "bento.bento"))
        except bentoml.exceptions.NotFound as exc:
            raise ServingError(f"Bento {tag} is not in {bentoml_home(settings)}") from exc
        with transact(
            store,
            branch,
            source_ref=settings.main_branch,
            message=f"Bento {tag}",
            metadata={"bento": tag, "version": str(version.version)},
        ) as tx:
            tx.write(path, Path(archive).read_bytes())
    return path


def _tag_version(version: ModelVersion) -> str:
    return f"v{version.version}-{version.lineage.artifact_sha256[:12]}"


def _bentoml(settings: Settings) -> Any:
    """Import BentoML with its home at ``bentoml_home(settings)``.

    Raises:
        ServingError: this process already uses another BentoML home.
    """
    home = str(bentoml_home(settings))
    # BentoML reads its home once, when first used: a process that imported it under
    # another home would put this version's model and Bento there.
    if "bentoml" in sys.modules and os.environ.get("BENTOML_HOME") != home:
        raise ServingError(
            f"BentoML already uses home {os.environ.get('BENTOML_HOME')} in this process, "
            f"not {home}: package from a fresh process"
        )
    os.environ["BENTOML_HOME"] = home
    import bentoml

    return bentoml


def _ensure_model(
    bentoml: Any, version: ModelVersion, data: bytes, spec_text: str, suite_text: str | None
) -> None:
    tag = model_tag(version)
    try:
        existing = bentoml.models.get(tag)
    except bentoml.exceptions.NotFound:
        existing = None
    if existing is not None:
        if existing.info.metadata.get("artifact_sha256") != version.lineage.artifact_sha256:
            raise ServingError(f"BentoML model {tag} exists with other bytes; delete it first")
        return
    summary = lineage_summary(version)
    labels = {"model": version.model, "version": str(version.version), "project": "driftloop"}
    metadata = {
        "artifact_sha256": version.lineage.artifact_sha256,
        "data_commit": version.lineage.data_commit,
        "artifact_commit": version.lineage.artifact_commit,
        "code_version": version.lineage.code_version,
    }
    with bentoml.models.create(tag, labels=labels, metadata=metadata) as model:
        folder = Path(model.path)
        (folder / MODEL_FILE).write_bytes(data)
        schema = json.dumps(version.lineage.feature_schema, indent=2, sort_keys=True) + "\n"
        (folder / SCHEMA_FILE).write_text(schema, encoding="utf-8")
        (folder / SPEC_FILE).write_text(spec_text, encoding="utf-8")
        if suite_text is not None:
            (folder / SUITE_FILE).write_text(suite_text, encoding="utf-8")
        lineage = json.dumps(summary, indent=2, sort_keys=True) + "\n"
        (folder / LINEAGE_FILE).write_text(lineage, encoding="utf-8")
