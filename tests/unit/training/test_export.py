"""Exporting a registered version as an MLflow model that scores like the service."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost
import yaml
from pydantic import TypeAdapter

from driftloop.config import Settings
from driftloop.data.synthetic import GeneratorConfig, generate_batch
from driftloop.exceptions import ConfigError
from driftloop.launcher.cli import main
from driftloop.registry import ModelVersion, Registry
from driftloop.serving.contract import request_model
from driftloop.serving.handle import open_champion
from driftloop.serving.scoring import predict
from driftloop.spec import DatasetSpec, load_spec
from driftloop.training.export import LOADER_MODULE, MlflowExport, export_mlflow
from driftloop.training.features import encode_records
from driftloop.versioning.factory import open_store
from tests.support.serving import START, make_settings, train_version


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, repo_dir: Path) -> Settings:
    """A home with version 1 of the repo's dataset registered (and champion)."""
    settings = make_settings(tmp_path_factory.mktemp("export") / "home", repo_dir)
    train_version(settings, day=0)
    return settings


@pytest.fixture(scope="module")
def spec(project: Settings) -> DatasetSpec:
    return load_spec(project.dataset_spec_path)


@pytest.fixture(scope="module")
def version(project: Settings, spec: DatasetSpec) -> ModelVersion:
    registry = Registry(url=project.registry_database_url)
    try:
        return registry.get_version(spec.name, 1)
    finally:
        registry.close()


@pytest.fixture(scope="module")
def exported(
    project: Settings,
    spec: DatasetSpec,
    version: ModelVersion,
    tmp_path_factory: pytest.TempPathFactory,
) -> MlflowExport:
    out = tmp_path_factory.mktemp("mlflow") / "credit_risk-v1"
    return export_mlflow(open_store(project), version, spec, out)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Whole rows as a user has them: an unknown category, nulls, extra columns, any order."""
    frame = generate_batch(
        GeneratorConfig(seed=21, rows_per_batch=300, new_categories={"purpose": ["crypto"]}),
        start=START,
        end=START + timedelta(days=1),
    )
    frame.loc[frame.index[::17], "region"] = None
    assert frame["income"].isna().any() and (frame["purpose"] == "crypto").any()
    return frame[list(reversed(frame.columns))]


def _rows(frame: pd.DataFrame) -> list[dict]:
    """The frame's rows as request records, nulls as ``None``."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _served(project: Settings, spec: DatasetSpec, frame: pd.DataFrame) -> np.ndarray:
    """What the service answers for the rows: its request model, encoding and handle."""
    records = TypeAdapter(list[request_model(spec)]).validate_python(_rows(frame))
    response = predict(open_champion(project, spec).load(1), records)
    return np.array([p.probability for p in response.predictions])


def test_the_pyfunc_model_scores_raw_rows_exactly_like_the_service(
    exported: MlflowExport, project: Settings, spec: DatasetSpec, frame: pd.DataFrame
) -> None:
    import mlflow.pyfunc

    model = mlflow.pyfunc.load_model(str(exported.path))
    scores = model.predict(frame)

    assert isinstance(scores, pd.Series) and scores.name == "probability"
    assert scores.dtype == np.float32 and list(scores.index) == list(frame.index)
    # Exact: the same float32 encoding and the same inplace_predict call as the service.
    np.testing.assert_array_equal(scores.to_numpy(np.float64), _served(project, spec, frame))


def test_the_model_loads_and_scores_where_driftloop_is_not_installed(
    exported: MlflowExport,
    project: Settings,
    spec: DatasetSpec,
    frame: pd.DataFrame,
    tmp_path: Path,
) -> None:
    frame.to_parquet(tmp_path / "rows.parquet")
    code = (
        "import sys\n"
        "sys.modules['driftloop'] = None  # importing driftloop would fail\n"
        "import mlflow.pyfunc, numpy, pandas\n"
        f"model = mlflow.pyfunc.load_model({str(exported.path)!r})\n"
        "scores = model.predict(pandas.read_parquet('rows.parquet'))\n"
        "numpy.save('scores.npy', scores.to_numpy())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr[-3000:]
    scores = np.load(tmp_path / "scores.npy")
    np.testing.assert_array_equal(scores.astype(np.float64), _served(project, spec, frame))


def test_the_xgboost_flavour_is_the_registry_model(
    exported: MlflowExport, version: ModelVersion, spec: DatasetSpec, frame: pd.DataFrame
) -> None:
    import mlflow.pyfunc
    import mlflow.xgboost

    booster = mlflow.xgboost.load_model(str(exported.path))

    assert isinstance(booster, xgboost.Booster)
    model_file = (exported.path / "model.ubj").read_bytes()
    assert hashlib.sha256(model_file).hexdigest() == version.lineage.artifact_sha256
    expected = booster.inplace_predict(encode_records(_rows(frame), spec))
    pyfunc = mlflow.pyfunc.load_model(str(exported.path))
    np.testing.assert_array_equal(pyfunc.predict(frame).to_numpy(), expected)


def test_a_tampered_model_file_is_refused_on_load(exported: MlflowExport, tmp_path: Path) -> None:
    import mlflow.pyfunc

    copy = shutil.copytree(exported.path, tmp_path / "copy")
    data = bytearray((copy / "model.ubj").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "model.ubj").write_bytes(bytes(data))

    with pytest.raises(ValueError, match="checksum mismatch"):
        mlflow.pyfunc.load_model(str(copy))


def test_mlmodel_has_both_flavours_the_spec_signature_and_the_lineage(
    exported: MlflowExport, version: ModelVersion, spec: DatasetSpec
) -> None:
    from mlflow.models import Model

    mlmodel = yaml.safe_load((exported.path / "MLmodel").read_text())
    model = Model.load(str(exported.path))

    assert mlmodel["flavors"]["xgboost"]["model_format"] == "ubj"
    assert mlmodel["flavors"]["xgboost"]["model_class"] == "xgboost.core.Booster"
    assert mlmodel["flavors"]["python_function"]["loader_module"] == LOADER_MODULE
    assert (exported.path / "code" / f"{LOADER_MODULE}.py").is_file()
    inputs = model.signature.inputs
    assert inputs.input_names() == spec.feature_names
    types = dict(zip(inputs.input_names(), (t.name for t in inputs.input_types()), strict=True))
    assert types["age"] == "long" and types["income"] == "double"
    assert types["region"] == "string"
    assert model.signature.outputs.input_names() == ["probability"]
    lineage = model.metadata["driftloop"]
    assert lineage["model"] == spec.name and lineage["version"] == 1
    assert lineage["data_commit"] == version.lineage.data_commit
    assert lineage["artifact_sha256"] == version.lineage.artifact_sha256
    assert lineage["feature_schema"] == version.lineage.feature_schema


def test_requirements_are_pinned_to_the_installed_versions(exported: MlflowExport) -> None:
    lines = (exported.path / "requirements.txt").read_text().split()

    assert lines == exported.requirements
    pins = dict(line.split("==") for line in lines)
    assert len(pins) == len(lines) == 4
    assert pins["xgboost"] == xgboost.__version__ and pins["pandas"] == pd.__version__
    assert pins["numpy"] == np.__version__
    assert {"mlflow", "mlflow-skinny"} & set(pins)


def test_a_non_empty_directory_or_a_file_is_not_overwritten(
    project: Settings, spec: DatasetSpec, version: ModelVersion, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")

    for out, reason in ((taken, "not empty"), (a_file, "is a file")):
        with pytest.raises(ConfigError, match=reason) as caught:
            export_mlflow(open_store(project), version, spec, out)
        assert str(out) in str(caught.value)
    assert (taken / "notes.txt").read_text() == "mine" and a_file.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "taken"]


def test_an_empty_directory_is_filled_and_nothing_is_left_beside_it(
    project: Settings, spec: DatasetSpec, version: ModelVersion, tmp_path: Path
) -> None:
    out = tmp_path / "empty"
    out.mkdir()

    export_mlflow(open_store(project), version, spec, out)

    assert (out / "MLmodel").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]


def test_without_the_extra_the_error_says_what_to_install(
    project: Settings,
    spec: DatasetSpec,
    version: ModelVersion,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mlflow", None)

    with pytest.raises(ConfigError, match=r"pip install 'driftloop\[mlflow\]'"):
        export_mlflow(open_store(project), version, spec, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_cli_exports_says_how_to_load_and_refuses_to_overwrite(
    project: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DRIFTLOOP_HOME", str(project.home_dir))
    out = tmp_path / "exported"
    command = ["models", "export", "1", "--format", "mlflow", str(out)]

    assert main(command) == 0
    printed = capsys.readouterr().out
    assert f"to {out}" in printed and "mlflow.pyfunc.load_model" in printed
    assert (out / "MLmodel").is_file()

    assert main(command) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: refusing to overwrite") and str(out) in error
    assert main(["models", "export", "7", "--format", "mlflow", str(tmp_path / "v7")]) == 1
    assert "error:" in capsys.readouterr().err and not (tmp_path / "v7").exists()
    with pytest.raises(SystemExit) as usage:
        main(["models", "export", "1", "--format", "onnx", str(tmp_path / "onnx")])
    assert usage.value.code == 2
