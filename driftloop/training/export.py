"""Exporting a registered version as an MLflow model (``driftloop models export --format mlflow``).

MLflow is an optional extra (``pip install 'driftloop[mlflow]'``) imported only here, when
exporting. The model directory holds:

* the **xgboost flavour**: the version's own UBJ model file, read from the store at its
  artifact commit and checked against the registry's SHA-256 (it is written back byte for
  byte, so the file in the directory has the recorded checksum); ``mlflow.xgboost.load_model``
  returns the booster;
* the **python_function flavour**, whose ``predict`` takes a plain pandas DataFrame of raw
  feature values (numbers, and text for categories) and returns the probability of the
  positive label, the number the service returns, to the bit;
* a **signature** built from the dataset spec (a column per feature, in model order) with the
  output ``probability``; ``requirements.txt`` pins MLflow, XGBoost, pandas and NumPy to the
  versions installed; and driftloop's **lineage** of the version (model, version, data and
  artifact commits, checksum, code version, params, metrics, feature schema) as the
  ``driftloop`` entry of the model's ``metadata``.

Why the pyfunc flavour is not MLflow's own for XGBoost: that one predicts with
``Booster.predict(xgboost.DMatrix(frame))``, and a ``DMatrix`` built without
``enable_categorical`` refuses text columns and pandas categoricals alike, so it cannot score
a frame with a categorical feature at all. Saving an sklearn ``XGBClassifier`` instead does
not help: it refuses text columns the same way, and its pyfunc ``predict`` returns class
labels, not probabilities. A signature cannot help either: MLflow's column types have no
categorical type. So ``mlflow.xgboost.save_model`` writes both flavours, and the pyfunc
flavour's loader module is then pointed at :mod:`driftloop.training.mlflow_pyfunc`, shipped in
the directory's ``code/``: it encodes categories by their index in the recorded categories
(unknown ones and nulls as missing) and predicts with ``inplace_predict`` on float32, as the
service does. No pickle: loading the model runs only that shipped source file.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from driftloop.exceptions import ConfigError
from driftloop.spec import DatasetSpec
from driftloop.training import mlflow_pyfunc
from driftloop.training.artifacts import check_schema_compatible, load_model, read_model_artifact

if TYPE_CHECKING:
    from driftloop.registry import ModelVersion
    from driftloop.spec import Feature
    from driftloop.versioning.base import VersionStore

MLFLOW_EXTRA = "pip install 'driftloop[mlflow]'"
#: The pyfunc flavour's loader module, as shipped in the model directory's ``code/``.
LOADER_MODULE = "driftloop_mlflow_pyfunc"
#: Packages the exported model needs, pinned to the installed versions. MLflow is pinned as
#: the distribution installed (``mlflow`` itself depends on ``mlflow-skinny``).
MLFLOW_DISTRIBUTIONS = ("mlflow-skinny", "mlflow")
REQUIRED_DISTRIBUTIONS = ("xgboost", "pandas", "numpy")


@dataclass(frozen=True)
class MlflowExport:
    """What :func:`export_mlflow` wrote.

    Attributes:
        path: The MLflow model directory (absolute).
        requirements: The pinned pip requirements written to ``requirements.txt``.
        metadata: driftloop's lineage, as written under ``metadata.driftloop`` in ``MLmodel``.
    """

    path: Path
    requirements: list[str]
    metadata: dict[str, Any]


def export_mlflow(
    store: VersionStore, version: ModelVersion, spec: DatasetSpec, out_dir: Path
) -> MlflowExport:
    """Write ``version`` as an MLflow model directory at ``out_dir``.

    The directory is built beside ``out_dir`` and renamed into place, so a failed export
    leaves nothing behind.

    Args:
        store: The versioned store holding the version's artifacts.
        version: The registered version.
        spec: The dataset spec; it must fit the version's recorded feature schema, and the
            signature's input columns are its features.
        out_dir: Where to write; it must not exist or be an empty directory.

    Raises:
        ConfigError: MLflow is not installed (the message says how to install the extra),
            or ``out_dir`` is a file or a non-empty directory (it is named).
        SchemaMismatch: ``spec`` does not fit the version's feature schema.
        ArtifactCorrupt: the stored model fails its recorded checksum or does not load.
        VersioningError: the artifact cannot be read from the store.
    """
    mlflow = _import_mlflow()
    out_dir = out_dir.absolute()
    _check_writable(out_dir)
    lineage = version.lineage
    check_schema_compatible(spec, lineage.feature_schema)
    model_bytes = read_model_artifact(store, lineage)
    booster = load_model(model_bytes, expected_sha256=lineage.artifact_sha256)
    metadata = _lineage_metadata(version)
    requirements = _pinned_requirements(mlflow.__version__)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{out_dir.name}-", dir=out_dir.parent) as scratch:
        loader = Path(scratch) / f"{LOADER_MODULE}.py"
        shutil.copyfile(mlflow_pyfunc.__file__, loader)
        staged = Path(scratch) / "model"
        mlflow.xgboost.save_model(
            booster,
            str(staged),
            signature=_signature(spec),
            pip_requirements=requirements,
            metadata={mlflow_pyfunc.METADATA_KEY: metadata},
            code_paths=[str(loader)],
            model_format="ubj",
        )
        # XGBoost writes a loaded model back byte for byte; the registry's own bytes make sure
        # of it, so the loader can check the file against the recorded checksum.
        (staged / "model.ubj").write_bytes(model_bytes)
        _use_loader_module(staged)
        if out_dir.is_dir():
            out_dir.rmdir()
        staged.rename(out_dir)
    return MlflowExport(path=out_dir, requirements=requirements, metadata=metadata)


def _import_mlflow() -> ModuleType:
    """MLflow (its telemetry is off: ``driftloop._TELEMETRY_OFF``), or the extra to install.

    Raises:
        ConfigError: MLflow is not installed.
    """
    try:
        import mlflow
        import mlflow.xgboost
    except ImportError as exc:
        raise ConfigError(
            f"exporting to MLflow needs the optional extra 'mlflow': {MLFLOW_EXTRA} ({exc})"
        ) from exc
    return mlflow


def _check_writable(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"refusing to overwrite {out_dir}: it is a file, not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise ConfigError(
            f"refusing to overwrite {out_dir}: the directory is not empty "
            "(choose a new directory or empty it)"
        )


def _signature(spec: DatasetSpec) -> Any:
    """Inputs: a column per feature of ``spec``, in model order; output: the probability."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, DataType, Schema

    return ModelSignature(
        inputs=Schema([ColSpec(_column_type(f), f.name) for f in spec.features]),
        outputs=Schema([ColSpec(DataType.float, mlflow_pyfunc.OUTPUT)]),
    )


def _column_type(feature: Feature) -> str:
    """The MLflow type of a feature's column in data shaped like the published Parquet.

    Categories are text; an integer feature with nulls arrives as floats (MLflow's advice
    for integer columns with missing values).
    """
    if feature.kind == "categorical":
        return "string"
    if feature.dtype == "bool":
        return "boolean"
    if feature.dtype == "int64" and not feature.nullable:
        return "long"
    return "double"


def _lineage_metadata(version: ModelVersion) -> dict[str, Any]:
    lineage = version.lineage
    return {
        "model": version.model,
        "version": version.version,
        "run_key": version.run_key,
        "created_at": version.created_at.isoformat(),
        "data_ref": lineage.data_ref,
        "data_commit": lineage.data_commit,
        "code_version": lineage.code_version,
        "artifact_uri": lineage.artifact_uri,
        "artifact_commit": lineage.artifact_commit,
        "artifact_sha256": lineage.artifact_sha256,
        "params": lineage.params,
        "metrics": lineage.metrics,
        "feature_schema": lineage.feature_schema,
    }


def _pinned_requirements(mlflow_version: str) -> list[str]:
    """``name==version`` of MLflow's installed distribution, XGBoost, pandas and NumPy."""
    mlflow = next(
        (f"{name}=={v}" for name in MLFLOW_DISTRIBUTIONS if (v := _installed_version(name))),
        f"mlflow=={mlflow_version}",
    )
    return [
        mlflow,
        *(f"{name}=={importlib.metadata.version(name)}" for name in REQUIRED_DISTRIBUTIONS),
    ]


def _installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _use_loader_module(model_dir: Path) -> None:
    """Point the pyfunc flavour of the model in ``model_dir`` at the shipped loader module."""
    from mlflow.models import Model

    model = Model.load(str(model_dir))
    model.flavors["python_function"]["loader_module"] = LOADER_MODULE
    model.save(str(model_dir / "MLmodel"))
