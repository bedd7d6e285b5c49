"""Training, evaluation, plots and model artifacts on real XGBoost."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from driftloop.exceptions import ArtifactCorrupt, SchemaMismatch, TrainingError
from driftloop.registry import VersionLineage
from driftloop.spec import DatasetSpec
from driftloop.training import (
    Metrics,
    TrainedModel,
    TrainingParams,
    check_schema_compatible,
    evaluate,
    feature_schema,
    holdout_rows,
    load_model,
    save_artifacts,
    train_model,
    write_plots,
)
from driftloop.training.artifacts import read_model_artifact
from driftloop.training.features import labels, model_frame, split_assignment
from driftloop.versioning.local import LocalVersionStore
from tests.unit.training.test_features import make_frame, make_spec

PARAMS = TrainingParams(num_boost_round=150, early_stopping_rounds=15)


@pytest.fixture(scope="module")
def spec() -> DatasetSpec:
    return make_spec()


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame(4000)


@pytest.fixture(scope="module")
def trained(frame: pd.DataFrame, spec: DatasetSpec) -> TrainedModel:
    return train_model(frame, spec, PARAMS)


@pytest.fixture(scope="module")
def holdout_metrics(trained: TrainedModel, frame: pd.DataFrame, spec: DatasetSpec) -> Metrics:
    return evaluate(trained.booster, holdout_rows(frame, spec), spec, threshold=0.5)


def test_training_records_what_it_used(trained: TrainedModel, frame: pd.DataFrame, spec) -> None:
    split = split_assignment(frame, spec)
    y = labels(frame, spec)[split == "train"]

    assert trained.split_sizes == {
        name: int((split == name).sum()) for name in ("train", "valid", "holdout")
    }
    assert trained.params.scale_pos_weight == 1.0
    balanced = train_model(frame, spec, PARAMS.model_copy(update={"scale_pos_weight": None}))
    assert balanced.params.scale_pos_weight == pytest.approx((y == 0).sum() / (y == 1).sum())
    # The saved model stops at the best round, so serving needs no iteration range.
    assert 0 < trained.best_iteration < PARAMS.num_boost_round
    assert trained.booster.num_boosted_rounds() == trained.best_iteration + 1
    record = trained.record()
    assert record["params"]["nthread"] == 2 and record["best_iteration"] == trained.best_iteration
    json.dumps(record)


def test_metrics_are_good_on_a_learnable_problem(
    holdout_metrics: Metrics, trained: TrainedModel
) -> None:
    assert holdout_metrics.rows == trained.split_sizes["holdout"]
    assert holdout_metrics.roc_auc > 0.7
    assert holdout_metrics.pr_auc > 0.5
    assert 0 < holdout_metrics.log_loss < 0.69
    assert 0 <= holdout_metrics.ece < 0.2
    assert 0 < holdout_metrics.brier < 0.25
    assert 0 < holdout_metrics.positive_rate < 1
    assert 0.5 < holdout_metrics.accuracy <= 1


def test_metrics_are_chance_level_on_random_labels(spec: DatasetSpec) -> None:
    frame = make_frame(4000, seed=11, learnable=False)

    model = train_model(frame, spec, PARAMS)
    metrics = evaluate(model.booster, holdout_rows(frame, spec), spec, threshold=0.5)

    assert metrics.roc_auc == pytest.approx(0.5, abs=0.07)


def test_training_twice_gives_a_byte_identical_model(
    trained: TrainedModel, frame: pd.DataFrame, spec: DatasetSpec, tmp_path: Path
) -> None:
    again = train_model(frame.copy(), spec, PARAMS)

    first = save_artifacts(trained, spec, tmp_path / "first")
    second = save_artifacts(again, spec, tmp_path / "second")

    assert first.model.read_bytes() == second.model.read_bytes()
    assert first.model_sha256 == second.model_sha256
    assert first.model_sha256 == hashlib.sha256(first.model.read_bytes()).hexdigest()
    assert first.feature_schema.read_bytes() == second.feature_schema.read_bytes()


def test_the_model_does_not_depend_on_the_thread_count(
    trained: TrainedModel, frame: pd.DataFrame, spec: DatasetSpec
) -> None:
    # Dask workers train with their own thread count (driftloop.training.distributed).
    for nthread in (1, 3):
        other = train_model(frame, spec, PARAMS.model_copy(update={"nthread": nthread}))
        assert other.booster.save_raw("ubj") == trained.booster.save_raw("ubj")


def test_training_in_chunks_gives_the_model_of_one_matrix_of_all_rows(
    trained: TrainedModel, frame: pd.DataFrame, spec: DatasetSpec
) -> None:
    import xgboost

    split = split_assignment(frame, spec)
    features, y = model_frame(frame, spec), labels(frame, spec)
    train, valid = split == "train", split == "valid"
    whole = xgboost.train(
        PARAMS.booster_params(),
        xgboost.DMatrix(features[train], y[train], enable_categorical=True, nthread=2),
        num_boost_round=PARAMS.num_boost_round,
        evals=[(xgboost.DMatrix(features[valid], y[valid], enable_categorical=True), "valid")],
        callbacks=[xgboost.callback.EarlyStopping(rounds=15, save_best=True)],
        verbose_eval=False,
    )

    chunked = train_model(frame, spec, PARAMS, chunk_rows=333)

    assert chunked.booster.save_raw("ubj") == whole.save_raw("ubj")
    assert trained.booster.save_raw("ubj") == whole.save_raw("ubj")


def test_the_recorded_params_reproduce_the_model(
    trained: TrainedModel, frame: pd.DataFrame, spec: DatasetSpec
) -> None:
    recorded = json.loads(json.dumps(trained.record()))

    again = train_model(frame, spec, TrainingParams(**recorded["params"]))

    assert again.booster.save_raw("ubj") == trained.booster.save_raw("ubj")


def test_artifacts_load_back_and_predict_the_same(
    trained: TrainedModel, frame: pd.DataFrame, spec: DatasetSpec, tmp_path: Path
) -> None:
    files = save_artifacts(trained, spec, tmp_path)

    booster = load_model(files.model.read_bytes(), expected_sha256=files.model_sha256)

    rows = holdout_rows(frame, spec)
    assert evaluate(booster, rows, spec, threshold=0.5) == evaluate(
        trained.booster, rows, spec, threshold=0.5
    )
    assert json.loads(files.feature_schema.read_text()) == feature_schema(spec)
    assert files.model.name == "model.ubj" and files.model.read_bytes()[:1] == b"{"


def test_a_corrupted_artifact_is_caught_by_its_checksum(
    trained: TrainedModel, spec: DatasetSpec, tmp_path: Path
) -> None:
    files = save_artifacts(trained, spec, tmp_path)
    data = bytearray(files.model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    actual = hashlib.sha256(bytes(data)).hexdigest()

    with pytest.raises(ArtifactCorrupt) as caught:
        load_model(bytes(data), expected_sha256=files.model_sha256)

    assert files.model_sha256 in str(caught.value) and actual in str(caught.value)


def test_bytes_that_are_not_a_model_are_refused() -> None:
    garbage = b"not a model at all"

    with pytest.raises(ArtifactCorrupt, match="do not load"):
        load_model(garbage, expected_sha256=hashlib.sha256(garbage).hexdigest())


def _stored_lineage(uri: str, commit: str, sha256: str) -> VersionLineage:
    return VersionLineage(
        data_commit="data",
        data_ref="main",
        validation={},
        params={},
        metrics={},
        code_version="test",
        artifact_uri=uri,
        artifact_commit=commit,
        artifact_sha256=sha256,
        feature_schema={},
    )


def test_the_artifact_is_read_at_its_commit_and_a_tampered_one_is_refused(
    trained: TrainedModel, spec: DatasetSpec, tmp_path: Path
) -> None:
    files = save_artifacts(trained, spec, tmp_path / "out")
    good = files.model.read_bytes()
    store = LocalVersionStore(root=tmp_path / "store", repository="artifacts")
    store.ensure_repository()
    uri = "models/m/run/model.ubj"
    store.write_object("main", uri, good)
    stored = store.commit("main", "artifacts").id
    tampered = bytearray(good)
    tampered[len(tampered) // 2] ^= 0xFF
    store.write_object("main", uri, bytes(tampered))
    overwritten = store.commit("main", "tampered").id

    # The branch moved on to other bytes; the recorded commit still holds the model.
    assert read_model_artifact(store, _stored_lineage(uri, stored, files.model_sha256)) == good
    with pytest.raises(ArtifactCorrupt, match="checksum mismatch") as caught:
        read_model_artifact(store, _stored_lineage(uri, overwritten, files.model_sha256))
    message = str(caught.value)
    actual = hashlib.sha256(bytes(tampered)).hexdigest()
    assert uri in message and overwritten in message
    assert files.model_sha256 in message and actual in message


def test_plots_are_written(trained: TrainedModel, frame: pd.DataFrame, spec, tmp_path) -> None:
    paths = write_plots(trained.booster, holdout_rows(frame, spec), spec, tmp_path / "plots")

    assert set(paths) == {"roc_curve", "feature_importance"}
    for path in paths.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missing_target_column_is_named_with_the_columns(spec: DatasetSpec) -> None:
    frame = make_frame(300).drop(columns=["default"])

    with pytest.raises(TrainingError, match=r"target column 'default' is missing; columns are \["):
        train_model(frame, spec, PARAMS)


def test_too_few_rows_says_how_many(spec: DatasetSpec) -> None:
    with pytest.raises(TrainingError, match=r"only 150 rows .* min_rows=200"):
        train_model(make_frame(150), spec, PARAMS)


def test_a_single_class_is_named(spec: DatasetSpec) -> None:
    frame = make_frame(300).assign(default="no")

    with pytest.raises(TrainingError, match="single class: all 300 rows of 'default' are 'no'"):
        train_model(frame, spec, PARAMS)


def test_missing_feature_columns_are_named(spec: DatasetSpec) -> None:
    frame = make_frame(300).drop(columns=["employment", "income"])

    with pytest.raises(SchemaMismatch, match=r"\['income', 'employment'\] are missing"):
        train_model(frame, spec, PARAMS)
    assert issubclass(SchemaMismatch, TrainingError)


def test_evaluating_on_a_single_class_is_refused(trained: TrainedModel, spec) -> None:
    rows = make_frame(50).assign(default="yes")

    with pytest.raises(TrainingError, match="both classes are needed"):
        evaluate(trained.booster, rows, spec, threshold=0.5)


def test_a_model_trained_on_other_features_is_a_schema_mismatch(
    trained: TrainedModel, frame: pd.DataFrame
) -> None:
    with pytest.raises(SchemaMismatch, match="does not take the features"):
        evaluate(trained.booster, frame, _spec_with(age=None), threshold=0.5)


def _spec_with(**changes: object) -> DatasetSpec:
    data = make_spec().model_dump(mode="json")
    features = {f["name"]: f for f in data["features"]}
    for name, change in changes.items():
        if change is None:
            del features[name]
        else:
            features[name] = {"name": name, **features.get(name, {}), **change}
    data["features"] = list(features.values())
    return DatasetSpec.model_validate(data)


def test_a_compatible_spec_passes() -> None:
    check_schema_compatible(make_spec(), json.loads(json.dumps(feature_schema(make_spec()))))


def test_schema_changes_are_listed() -> None:
    champion = feature_schema(make_spec())
    changed = _spec_with(
        age=None,
        tenure={"kind": "numeric", "dtype": "float64"},
        debt_ratio={"kind": "categorical", "dtype": "string", "categories": ["low", "high"]},
        region={"categories": ["north", "south", "east", "west", "central"]},
    )

    with pytest.raises(SchemaMismatch) as caught:
        check_schema_compatible(changed, champion)

    message = str(caught.value)
    assert "added features ['tenure']" in message
    assert "removed features ['age']" in message
    assert "'debt_ratio' retyped from numeric/float64 to categorical/string" in message
    assert "'region' categories changed: added ['central'], removed []" in message


def test_reordered_categories_and_a_new_positive_label_are_mismatches() -> None:
    champion = feature_schema(make_spec())
    reordered = _spec_with(region={"categories": ["west", "east", "south", "north"]})
    relabelled = make_spec().model_copy(update={"positive_label": "no"})

    with pytest.raises(SchemaMismatch, match="'region' categories reordered"):
        check_schema_compatible(reordered, champion)
    with pytest.raises(SchemaMismatch, match="target changed"):
        check_schema_compatible(relabelled, champion)
    with pytest.raises(SchemaMismatch, match="unreadable"):
        check_schema_compatible(make_spec(), {"features": []})
