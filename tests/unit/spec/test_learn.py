from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from driftloop.data.conform import conform_frame
from driftloop.exceptions import SpecError
from driftloop.spec import SourceSpec
from driftloop.spec.labels import as_labels
from driftloop.spec.learn import infer_spec

SOURCE = SourceSpec(kind="file", path="data/applications.csv")


def real_world_frame(rows: int = 120) -> pd.DataFrame:
    """A loan-applications table as a CSV reader hands it over: gaps, codes, text labels."""
    rng = np.random.default_rng(7)
    age = rng.integers(18, 80, rows).astype(float)
    age[[3, 40]] = np.nan
    income = rng.normal(52_000, 15_000, rows).round(2)
    income[[5, 6, 70]] = np.nan
    owns_car = rng.choice(["Y", "N"], rows).astype(object)
    owns_car[[8, 9]] = None
    return pd.DataFrame(
        {
            "application_id": np.arange(5000, 5000 + rows),
            "applied_at": pd.date_range("2024-03-01", periods=rows, freq="37min")
            .strftime("%Y-%m-%dT%H:%M:%S")
            .tolist(),
            "age": age,
            "income": income,
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "education_level": rng.integers(1, 5, rows),
            "num_children": rng.integers(0, 6, rows),
            "has_phone": rng.random(rows) < 0.7,
            "owns_car": owns_car,
            "default": rng.choice(["yes", "no"], rows, p=[0.25, 0.75]),
        }
    )


def infer(df: pd.DataFrame, **kwargs):
    kwargs.setdefault("target", "default")
    return infer_spec(df, name="loans", source=SOURCE, **kwargs)


def test_real_world_table_gives_a_sensible_spec():
    spec = infer(real_world_frame(), id_column="application_id", event_time_column="applied_at")

    assert spec.target_values == ["no", "yes"]
    assert spec.positive_label == "yes"
    assert spec.columns == [
        "application_id",
        "applied_at",
        "age",
        "income",
        "region",
        "education_level",
        "num_children",
        "has_phone",
        "owns_car",
        "default",
    ]
    shape = {f.name: (f.kind, f.dtype, f.nullable, f.categories) for f in spec.features}
    assert shape == {
        "age": ("numeric", "float64", True, None),
        "income": ("numeric", "float64", True, None),
        "region": ("categorical", "string", False, ["east", "north", "south", "west"]),
        "education_level": ("categorical", "string", False, ["1", "2", "3", "4"]),
        "num_children": ("numeric", "int64", False, None),
        "has_phone": ("numeric", "bool", False, None),
        "owns_car": ("categorical", "string", True, ["N", "Y"]),
    }


def test_inference_ignores_row_order():
    df = real_world_frame()
    shuffled = df.sample(frac=1, random_state=3)

    assert infer(shuffled, id_column="application_id", event_time_column="applied_at") == infer(
        df, id_column="application_id", event_time_column="applied_at"
    )


def test_missing_target_is_named_with_the_available_columns():
    df = real_world_frame().drop(columns=["applied_at"])

    with pytest.raises(SpecError, match="'defaulted' is not in the sample") as err:
        infer(df, target="defaulted")
    assert "'income'" in str(err.value)
    assert "'default'" in str(err.value)


@pytest.mark.parametrize(
    ("labels", "found"),
    [(["yes"] * 10, "1 distinct value(s) ('yes')"), (["a", "b", "c"] * 4, "3 distinct value(s)")],
)
def test_target_must_have_two_labels(labels, found):
    df = pd.DataFrame({"x": range(len(labels)), "default": labels})

    with pytest.raises(SpecError, match="binary classifier") as err:
        infer(df)
    assert found in str(err.value)


def test_target_with_missing_labels_is_rejected():
    df = pd.DataFrame({"x": range(4), "default": ["yes", None, "no", "no"]})

    with pytest.raises(SpecError, match="missing in 1 of 4 rows"):
        infer(df)


@pytest.mark.parametrize(
    ("labels", "positive"),
    [
        (["Y", "N", "N", "N"], "Y"),
        (["good", "good", "bad", "good"], "bad"),
        ([0, 1, 0, 0], "1"),
        ([0.0, 1.0, 1.0, 0.0], "1"),
        ([True, False, False, False], "True"),
        (["no", "no", "churned", "no"], "churned"),
        # Nothing reads as positive or negative: the minority class.
        (["approved", "rejected", "approved", "approved"], "rejected"),
        ([1, 2, 1, 1], "2"),
        # A tie goes to the last label in sorted order.
        (["cat", "dog", "dog", "cat"], "dog"),
    ],
)
def test_positive_label(labels, positive):
    spec = infer(pd.DataFrame({"x": range(len(labels)), "default": labels}))

    assert spec.positive_label == positive
    assert spec.target_values == sorted({positive, *spec.target_values})


def test_high_cardinality_text_is_rejected_with_advice():
    df = real_world_frame()
    df["customer_name"] = [f"customer {i}" for i in range(len(df))]

    with pytest.raises(SpecError, match="'customer_name' has 120 distinct text values") as err:
        infer(df, event_time_column="applied_at")
    assert "exclude it" in str(err.value)

    spec = infer(df, event_time_column="applied_at", exclude=["customer_name", "application_id"])
    assert "customer_name" not in spec.columns
    forced = infer(df, event_time_column="applied_at", categorical=["customer_name"])
    assert len(forced.feature("customer_name").categories) == 120


def test_mostly_numeric_text_names_the_junk():
    incomes = [str(1000 + i) for i in range(30)]
    incomes[4] = "?"
    df = pd.DataFrame({"income": incomes, "default": ["yes", "no"] * 15})

    with pytest.raises(SpecError, match=r"'income' is text but 97% .* e\.g\. \['\?'\]"):
        infer(df)


def test_dates_are_only_allowed_as_the_event_time():
    df = real_world_frame()
    df["closed_on"] = pd.Timestamp("2024-06-01", tz="UTC")

    with pytest.raises(SpecError, match="'applied_at' holds dates or times"):
        infer(df.drop(columns=["closed_on"]))
    with pytest.raises(SpecError, match=r"'closed_on' holds dates or times.*event_time_column"):
        infer(df, event_time_column="applied_at")
    spec = infer(df, event_time_column="closed_on", exclude=["applied_at"])
    assert spec.event_time_column == "closed_on"
    with pytest.raises(SpecError, match="event time column 'age' does not hold dates"):
        infer(df, event_time_column="age", exclude=["applied_at", "closed_on"])


@pytest.mark.parametrize(
    ("column", "values", "kind"),
    [
        ("num_children", [0, 1, 2, 3] * 5, "numeric"),
        ("customer_segment", [1, 2, 3, 3] * 5, "categorical"),
        ("riskGrade", [1.0, 2.0, np.nan, 3.0] * 5, "categorical"),
        ("region_code", list(range(20)), "categorical"),
        ("region_code", list(range(21)), "numeric"),
        ("product_type", [0.5, 1.5, 2.5, 0.5] * 5, "numeric"),
    ],
)
def test_integer_codes_need_a_code_name_and_few_values(column, values, kind):
    df = pd.DataFrame(
        {column: values, "default": ["yes", "no"] * (len(values) // 2) + ["no"] * (len(values) % 2)}
    )

    assert infer(df).feature(column).kind == kind


def test_numbers_in_an_object_column_are_numeric():
    df = pd.DataFrame(
        {"score": [1, 2.5, None, 4], "default": ["yes", "no", "no", "yes"]}, dtype=object
    )

    feature = infer(df).feature("score")

    assert (feature.kind, feature.dtype, feature.nullable) == ("numeric", "float64", True)


def test_id_column_must_be_unique():
    df = real_world_frame()
    df.loc[7, "application_id"] = df.loc[2, "application_id"]

    with pytest.raises(SpecError, match="id column 'application_id' is not unique"):
        infer(df, id_column="application_id", event_time_column="applied_at")


def test_unknown_excluded_column_is_named():
    with pytest.raises(SpecError, match="'agee' is not in the sample"):
        infer(real_world_frame(), event_time_column="applied_at", exclude=["agee"])


def test_labels_and_conform_frame_match_the_inferred_categories():
    df = real_world_frame()
    spec = infer(df, id_column="application_id", event_time_column="applied_at")
    df["education_level"] = df["education_level"].astype(float)
    df.loc[0, "education_level"] = np.nan

    conformed = conform_frame(df, spec)

    codes = conformed["education_level"]
    assert codes.dtype == "string"
    assert pd.isna(codes[0])
    assert set(codes.dropna()) <= set(spec.feature("education_level").categories)
    assert conformed["age"].equals(df["age"])
    labels = as_labels(pd.Series([True, 2.0, 2.5, "x", None])).tolist()
    assert labels[:4] == ["True", "2", "2.5", "x"]
    assert pd.isna(labels[4])
