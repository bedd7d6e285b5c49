from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.metrics import roc_auc_score
from xgboost import XGBClassifier

from driftloop.data.sources import FileSource, Interval, read_file, to_parquet_bytes
from driftloop.data.synthetic import (
    CATEGORICAL_FEATURES,
    COLUMNS,
    NULLABLE_FEATURES,
    NUMERIC_FEATURES,
    CorruptionConfig,
    GeneratorConfig,
    credit_risk_spec,
    generate_batch,
    generate_batches,
)
from driftloop.spec import SourceSpec

JAN1 = datetime(2026, 1, 1, tzinfo=UTC)
JAN2 = datetime(2026, 1, 2, tzinfo=UTC)


def _batch(rows: int = 20_000, **options: object) -> pd.DataFrame:
    config = GeneratorConfig.model_validate({"seed": 7, "rows_per_batch": rows, **options})
    return generate_batch(config, start=JAN1, end=JAN2)


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return _batch()


def test_same_seed_and_window_give_identical_batches(clean: pd.DataFrame) -> None:
    again = _batch()
    other_seed = generate_batch(
        GeneratorConfig(seed=8, rows_per_batch=20_000), start=JAN1, end=JAN2
    )

    pd.testing.assert_frame_equal(clean, again)
    assert to_parquet_bytes(clean) == to_parquet_bytes(again)
    assert not clean["income"].equals(other_seed["income"])


def test_columns_dtypes_and_event_times(clean: pd.DataFrame) -> None:
    assert list(clean.columns) == COLUMNS
    for name, dtype in NUMERIC_FEATURES.items():
        assert clean[name].dtype == dtype, name
    assert str(clean["applied_at"].dtype) == "datetime64[ns, UTC]"
    assert clean["applied_at"].is_monotonic_increasing
    assert clean["applied_at"].min() >= JAN1 and clean["applied_at"].max() < JAN2
    assert clean["applied_at"].dt.hour.nunique() == 24


def test_ids_are_unique_within_and_across_batches(clean: pd.DataFrame) -> None:
    next_day = generate_batch(
        GeneratorConfig(seed=7, rows_per_batch=20_000), start=JAN2, end=JAN2 + timedelta(days=1)
    )

    assert clean["application_id"].is_unique
    assert not set(clean["application_id"]) & set(next_day["application_id"])


def test_values_are_plausible(clean: pd.DataFrame) -> None:
    assert clean["age"].between(21, 80).all()
    assert clean["loan_term_months"].isin([12, 24, 36, 48, 60]).all()
    assert clean["utilization"].dropna().between(0, 1).all()
    assert (clean.select_dtypes("number").min() >= 0).all()
    for name, categories in CATEGORICAL_FEATURES.items():
        assert set(clean[name]) == set(categories), name
    # Correlations a credit analyst would expect.
    assert clean["income"].corr(clean["loan_amount"]) > 0.2
    assert clean["num_delinquencies"].corr(clean["interest_rate"]) > 0.2
    assert clean["age"].corr(clean["credit_history_years"]) > 0.5


def test_missing_values_only_in_nullable_features(clean: pd.DataFrame) -> None:
    missing = clean.isna().mean()

    assert set(missing[missing > 0].index) == NULLABLE_FEATURES
    assert missing.max() < 0.1


def test_positive_rate_is_about_one_in_eight(clean: pd.DataFrame) -> None:
    assert set(clean["default"]) == {"yes", "no"}
    assert 0.10 <= (clean["default"] == "yes").mean() <= 0.15


def test_target_is_learnable_but_noisy() -> None:
    frame = _batch(rows=20_000)
    features = frame[list(NUMERIC_FEATURES) + list(CATEGORICAL_FEATURES)].copy()
    for name in CATEGORICAL_FEATURES:
        features[name] = features[name].astype("category")
    labels = (frame["default"] == "yes").to_numpy()
    train = np.arange(len(frame)) % 4 != 0

    model = XGBClassifier(
        n_estimators=200, max_depth=4, learning_rate=0.05, enable_categorical=True, n_jobs=1
    )
    model.fit(features[train], labels[train])
    auc = roc_auc_score(labels[~train], model.predict_proba(features[~train])[:, 1])

    assert 0.7 < auc < 0.9


@pytest.mark.parametrize(("feature", "k"), [("income", 1.0), ("age", -0.5), ("utilization", 2.0)])
def test_shift_moves_the_mean_by_k_standard_deviations(
    clean: pd.DataFrame, feature: str, k: float
) -> None:
    shifted = _batch(shift={feature: k})

    moved = (shifted[feature].mean() - clean[feature].mean()) / clean[feature].std()

    assert moved == pytest.approx(k, abs=0.05)
    assert shifted[feature].dtype == clean[feature].dtype
    assert shifted["region"].equals(clean["region"])


def test_shift_of_a_risk_factor_moves_the_default_rate(clean: pd.DataFrame) -> None:
    riskier = _batch(shift={"debt_to_income": 1.0})

    assert (riskier["default"] == "yes").mean() > (clean["default"] == "yes").mean() + 0.03


def test_new_categories_appear(clean: pd.DataFrame) -> None:
    drifted = _batch(new_categories={"purpose": ["crypto", "wedding"]}, new_category_fraction=0.2)

    share = drifted["purpose"].value_counts(normalize=True)

    assert share["crypto"] + share["wedding"] == pytest.approx(0.2, abs=0.02)
    assert share["crypto"] == pytest.approx(0.1, abs=0.02)
    assert drifted["region"].equals(clean["region"])


def test_label_shift_changes_the_positive_rate(clean: pd.DataFrame) -> None:
    base = (clean["default"] == "yes").mean()

    assert (_batch(label_shift=1.0)["default"] == "yes").mean() > 1.5 * base
    assert (_batch(label_shift=-1.0)["default"] == "yes").mean() < 0.7 * base


def test_corruption_nulls_out_of_range_and_schema(clean: pd.DataFrame) -> None:
    corrupt = _batch(
        corruption={
            "fraction": 0.02,
            "null_fraction": {"months_employed": 0.05, "purpose": 0.01},
            "out_of_range": {"loan_amount": -1000.0, "age": 150},
            "drop_column": "region",
            "extra_column": "legacy_score",
        }
    )

    assert corrupt["months_employed"].isna().sum() == 1_000
    assert corrupt["purpose"].isna().sum() == 200
    assert (corrupt["loan_amount"] == -1000).sum() == 400
    assert (corrupt["age"] == 150).sum() == 400 and corrupt["age"].dtype == "int64"
    assert "region" not in corrupt.columns
    assert corrupt["legacy_score"].dtype == "float64"
    changed = {"months_employed", "purpose", "loan_amount", "age", "region"}
    untouched = [c for c in COLUMNS if c not in changed]
    pd.testing.assert_frame_equal(corrupt[untouched], clean[untouched])


def test_corruption_wrong_type_and_duplicate_ids(tmp_path: Path, clean: pd.DataFrame) -> None:
    config = GeneratorConfig(
        seed=7,
        rows_per_batch=20_000,
        corruption=CorruptionConfig(fraction=0.01, wrong_type=["income"], duplicate_ids=0.005),
    )
    corrupt = generate_batch(config, start=JAN1, end=JAN2)
    [path] = generate_batches(config, start=JAN1.date(), days=1, out_dir=tmp_path)

    for frame in (corrupt, read_file(path)):
        assert frame["income"].dtype == object
        as_numbers = pd.to_numeric(frame["income"], errors="coerce")
        assert (as_numbers.isna() & frame["income"].notna()).sum() == 200
        assert as_numbers.notna().sum() == clean["income"].notna().sum() - 200
        assert frame["application_id"].duplicated().sum() == 100


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"shift": {"salary": 1.0}}, "unknown columns ['salary']"),
        ({"shift": {"region": 1.0}}, "unknown columns ['region']"),
        ({"new_categories": {"region": ["north"]}}, "does not have yet"),
        ({"corruption": {"wrong_type": ["purpose"]}}, "unknown columns ['purpose']"),
        ({"corruption": {"out_of_range": {"region": -1}}}, "unknown columns ['region']"),
        ({"corruption": {"null_fraction": {"age": 1.5}}}, "between 0 and 1"),
        ({"corruption": {"extra_column": "age"}}, "'age' is already a column"),
    ],
)
def test_config_rejects_mistakes(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        GeneratorConfig.model_validate(options)


def test_window_must_be_aware() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        generate_batch(GeneratorConfig(), start=datetime(2026, 1, 1), end=JAN2)


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_generate_batches_writes_one_readable_file_per_day(
    tmp_path: Path, file_format: str
) -> None:
    config = GeneratorConfig(seed=3, rows_per_batch=500)

    paths = generate_batches(
        config, start=date(2026, 1, 1), days=3, out_dir=tmp_path / "landing", format=file_format
    )
    day2 = FileSource(tmp_path / "landing" / f"*.{file_format}", event_time_column="applied_at")

    assert [p.name for p in paths] == [
        f"applications_2026-01-0{d}.{file_format}" for d in (1, 2, 3)
    ]
    pd.testing.assert_frame_equal(
        day2.read(Interval(JAN2, JAN2 + timedelta(days=1))),
        generate_batch(config, start=JAN2, end=JAN2 + timedelta(days=1)),
    )


def test_spec_describes_the_generated_data(clean: pd.DataFrame) -> None:
    spec = credit_risk_spec(SourceSpec(kind="file", path="landing/*.csv"))

    assert spec.columns == COLUMNS
    for feature in spec.features:
        assert feature.nullable == bool(clean[feature.name].isna().any()), feature.name
        if feature.categories:
            assert set(clean[feature.name]) <= set(feature.categories)
