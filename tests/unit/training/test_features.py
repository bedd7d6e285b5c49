"""Feature encoding shared by training and serving, and the deterministic split."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import xgboost

from driftloop.exceptions import SchemaMismatch, TrainingError
from driftloop.spec import DatasetSpec
from driftloop.training.features import encode_records, labels, model_frame, split_assignment

REGIONS = ["north", "south", "east", "west"]
EMPLOYMENT = ["salaried", "self", "unemployed"]


def make_spec(*, id_column: str | None = "loan_id") -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
            "name": "loans",
            "source": {"kind": "file", "path": "loans.csv"},
            "target": "default",
            "target_values": ["no", "yes"],
            "positive_label": "yes",
            "id_column": id_column,
            "features": [
                {"name": "income", "kind": "numeric", "dtype": "float64"},
                {"name": "age", "kind": "numeric", "dtype": "int64"},
                {"name": "debt_ratio", "kind": "numeric", "dtype": "float64"},
                {"name": "region", "kind": "categorical", "dtype": "string", "categories": REGIONS},
                {
                    "name": "employment",
                    "kind": "categorical",
                    "dtype": "string",
                    "categories": EMPLOYMENT,
                },
            ],
        }
    )


def make_frame(rows: int = 3000, *, seed: int = 7, learnable: bool = True) -> pd.DataFrame:
    """Loans whose default depends on debt ratio, income and region (unless not learnable)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "loan_id": np.arange(rows) + 10_000,
            "income": rng.lognormal(10, 0.5, rows).round(2),
            "age": rng.integers(18, 80, rows),
            "debt_ratio": rng.uniform(0, 1, rows),
            "region": rng.choice(REGIONS, rows),
            "employment": rng.choice(EMPLOYMENT, rows, p=[0.6, 0.3, 0.1]),
        }
    )
    frame.loc[rng.random(rows) < 0.05, "income"] = np.nan
    if learnable:
        logit = (
            4 * (frame["debt_ratio"] - 0.5)
            - 0.8 * np.log(frame["income"].fillna(22_000) / 22_000)
            + 1.2 * (frame["region"] == "east")
            + 0.8 * (frame["employment"] == "unemployed")
            - 0.5
        )
        positive = rng.random(rows) < 1 / (1 + np.exp(-logit))
    else:
        positive = rng.random(rows) < 0.3
    frame["default"] = np.where(positive, "yes", "no")
    return frame


def test_model_frame_orders_and_types_features_by_the_spec() -> None:
    spec = make_spec()
    frame = make_frame(50)
    shuffled = frame[list(reversed(frame.columns))]

    features = model_frame(shuffled, spec)

    assert list(features.columns) == spec.feature_names
    assert features["age"].dtype == np.float64
    assert list(features["region"].cat.categories) == REGIONS
    assert list(features["employment"].cat.categories) == EMPLOYMENT


def test_unknown_categories_and_nulls_become_missing_and_codes_follow_the_spec() -> None:
    spec = make_spec()
    frame = make_frame(4)
    frame["region"] = ["west", "atlantis", None, "north"]

    codes = model_frame(frame, spec)["region"].cat.codes.tolist()

    assert codes == [3, -1, -1, 0]


def test_categorical_values_are_compared_as_text_whatever_their_type() -> None:
    spec = DatasetSpec.model_validate(
        {
            "name": "codes",
            "source": {"kind": "file", "path": "x.csv"},
            "target": "flag",
            "target_values": ["False", "True"],
            "positive_label": "True",
            "features": [
                {"name": "grade", "kind": "categorical", "dtype": "int64", "categories": ["1", "2"]}
            ],
        }
    )
    as_int = pd.DataFrame({"grade": [1, 2], "flag": [True, False]})
    # A null in a CSV column turns its integers into floats: the codes must not change.
    as_float = pd.DataFrame({"grade": [1.0, 2.0, np.nan], "flag": [True, False, True]})

    assert model_frame(as_int, spec)["grade"].cat.codes.tolist() == [0, 1]
    assert model_frame(as_float, spec)["grade"].cat.codes.tolist() == [0, 1, -1]
    assert labels(as_int, spec).tolist() == [1, 0]
    np.testing.assert_array_equal(
        encode_records([{"grade": 2}, {"grade": 1.0}, {"grade": "2"}], spec)[:, 0], [1, 0, 1]
    )


def test_a_numeric_column_that_is_not_numeric_is_named() -> None:
    frame = make_frame(5)
    frame["age"] = ["31", "40", "old", "22", None]

    with pytest.raises(SchemaMismatch, match="'age'"):
        model_frame(frame, make_spec())


def test_missing_feature_columns_are_named() -> None:
    frame = make_frame(5).drop(columns=["region", "age"])

    with pytest.raises(SchemaMismatch, match=r"\['age', 'region'\]"):
        model_frame(frame, make_spec())


def test_labels_are_one_for_the_positive_label() -> None:
    frame = pd.DataFrame({"default": ["yes", "no", "no", "yes"]})

    assert labels(frame, make_spec()).tolist() == [1, 0, 0, 1]


def test_unknown_and_missing_labels_are_refused_by_name() -> None:
    with pytest.raises(TrainingError, match=r"\['YES', 'maybe'\]"):
        labels(pd.DataFrame({"default": ["yes", "maybe", "YES"]}), make_spec())
    with pytest.raises(TrainingError, match="1 rows have no label"):
        labels(pd.DataFrame({"default": ["yes", None]}), make_spec())


def _booster(frame: pd.DataFrame, spec: DatasetSpec) -> xgboost.Booster:
    train = xgboost.DMatrix(model_frame(frame, spec), labels(frame, spec), enable_categorical=True)
    params = {"objective": "binary:logistic", "max_depth": 4, "nthread": 1, "max_cat_to_onehot": 1}
    return xgboost.train(params, train, num_boost_round=30)


def test_encode_records_predicts_exactly_like_model_frame() -> None:
    spec = make_spec()
    frame = make_frame(2000)
    booster = _booster(frame, spec)
    rows = frame.head(200).copy()
    rows.loc[rows.index[0], "income"] = None
    rows.loc[rows.index[1], "region"] = "atlantis"
    rows.loc[rows.index[2], "employment"] = None
    records = rows[spec.feature_names].astype(object).where(rows.notna(), None).to_dict("records")
    assert records[0]["income"] is None and records[1]["region"] == "atlantis"

    expected = booster.inplace_predict(model_frame(rows, spec))
    from_records = booster.inplace_predict(encode_records(records, spec))
    reloaded = xgboost.Booster(model_file=bytearray(booster.save_raw("ubj")))

    np.testing.assert_array_equal(from_records, expected)
    np.testing.assert_array_equal(reloaded.inplace_predict(encode_records(records, spec)), expected)
    # The unknown category is scored as missing, not as some known category.
    as_missing = encode_records([{**records[1], "region": None}], spec)
    np.testing.assert_array_equal(booster.inplace_predict(as_missing), expected[1:2])


def test_encode_records_names_what_is_wrong() -> None:
    spec = make_spec()
    record = make_frame(1)[spec.feature_names].to_dict("records")[0]

    with pytest.raises(SchemaMismatch, match=r"lacks features \['age'\]"):
        encode_records([{k: v for k, v in record.items() if k != "age"}], spec)
    with pytest.raises(SchemaMismatch, match="'income' got 'lots'"):
        encode_records([{**record, "income": "lots"}], spec)


def test_split_is_deterministic_with_the_requested_fractions() -> None:
    spec = make_spec()
    frame = make_frame(20_000)

    first = split_assignment(frame, spec)

    np.testing.assert_array_equal(first, split_assignment(frame, spec))
    shares = pd.Series(first).value_counts(normalize=True)
    assert shares["holdout"] == pytest.approx(0.2, abs=0.02)
    assert shares["valid"] == pytest.approx(0.1, abs=0.02)
    assert shares["train"] == pytest.approx(0.7, abs=0.02)


def test_rows_keep_their_split_when_rows_are_added_and_reordered() -> None:
    spec = make_spec()
    old = make_frame(3000)
    new = pd.concat([old, make_frame(1000, seed=8).assign(loan_id=lambda f: f.loan_id + 5000)])
    new = new.sample(frac=1.0, random_state=3)

    before = pd.Series(split_assignment(old, spec), index=old["loan_id"])
    after = pd.Series(split_assignment(new, spec), index=new["loan_id"])

    pd.testing.assert_series_equal(after.loc[before.index], before)


def test_rows_without_an_id_split_by_content_stably() -> None:
    spec = make_spec(id_column=None)
    frame = make_frame(3000).drop(columns=["loan_id"])
    reordered = frame.iloc[::-1]
    # Same values, read back with a float age column (as after a null in a CSV).
    retyped = frame.astype({"age": "float64"})

    split = split_assignment(frame, spec)

    np.testing.assert_array_equal(split_assignment(reordered, spec), split[::-1])
    np.testing.assert_array_equal(split_assignment(retyped, spec), split)
    assert set(split) == {"train", "valid", "holdout"}
    changed = frame.assign(debt_ratio=frame["debt_ratio"] + 0.5)
    assert (split_assignment(changed, spec) != split).mean() > 0.2


_SPLIT_SCRIPT = """
import pandas as pd
from driftloop.training.features import split_assignment
from driftloop.spec import DatasetSpec

spec = DatasetSpec.model_validate({spec})
frame = pd.DataFrame({{"loan_id": range(300), "income": [i / 7 for i in range(300)],
                      "age": 30, "debt_ratio": 0.5, "region": "east", "employment": None,
                      "default": "no"}})
for data in (frame, frame.drop(columns=["loan_id"])):
    spec.id_column = "loan_id" if "loan_id" in data else None
    print("".join(s[0] for s in split_assignment(data, spec)))
"""


def test_split_is_the_same_in_another_process() -> None:
    # Python's hash() of a str changes with PYTHONHASHSEED; the split must not.
    script = _SPLIT_SCRIPT.format(spec=make_spec().model_dump(mode="json"))
    here = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    there = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    ).stdout

    assert there == here
    assert set(here.split()[0]) == set(here.split()[1]) == {"t", "v", "h"}


def test_split_fractions_are_checked() -> None:
    with pytest.raises(ValueError, match="leave rows to train on"):
        split_assignment(make_frame(10), make_spec(), holdout_fraction=0.6, validation_fraction=0.4)
