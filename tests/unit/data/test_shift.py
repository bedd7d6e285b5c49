"""The shifted copy of a batch: changed data that the learned contract publishes with warnings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop.data.conform import conform_frame
from driftloop.data.shift import shifted
from driftloop.spec import DatasetSpec, SourceSpec
from driftloop.spec.learn import infer_spec
from driftloop.validation.runner import validate_frame
from driftloop.validation.suites import build_suite, write_suite

SHIFTED_NUMBERS = ("age", "income", "balance")


def table(rows: int, seed: int) -> pd.DataFrame:
    """A table of every feature shape: integers, floats with nulls, signs, a flag, categories."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.5, rows).round(2)
    income[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "customer": np.arange(seed * 10_000, seed * 10_000 + rows),
            "age": rng.integers(18, 80, rows),
            "income": income,
            "balance": rng.normal(0, 500, rows).round(2),
            "has_card": rng.integers(0, 2, rows),
            "plan": rng.choice(["basic", "plus", "pro"], rows, p=[0.6, 0.3, 0.1]),
            "churned": rng.choice(["no", "yes"], rows, p=[0.8, 0.2]),
        }
    )


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return table(1500, seed=1)


@pytest.fixture(scope="module")
def spec(reference: pd.DataFrame) -> DatasetSpec:
    return infer_spec(
        reference,
        name="customers",
        source=SourceSpec(kind="file", path="customers.csv"),
        target="churned",
        id_column="customer",
    )


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    return table(1200, seed=2)


@pytest.fixture(scope="module")
def moved(batch: pd.DataFrame, reference: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    return shifted(batch, reference, spec)


def test_the_contract_publishes_it_with_range_warnings(
    moved: pd.DataFrame, reference: pd.DataFrame, spec: DatasetSpec, tmp_path: Path
) -> None:
    suite_path = tmp_path / "customers.json"
    write_suite(build_suite(reference, spec), suite_path)

    report = validate_frame(
        conform_frame(moved, spec),
        spec=spec,
        suite_path=suite_path,
        reports_dir=tmp_path / "reports",
        run_name="shifted",
        batch_label="shifted",
    )

    assert report.success, report.describe("shifted")
    ranged = {w.column for w in report.warnings if w.rule == "range"}
    assert ranged == set(SHIFTED_NUMBERS), report.describe("shifted")
    assert {w.rule for w in report.warnings} == {"range"}, report.describe("shifted")


def test_numbers_move_up_by_a_step_and_a_few_far_beyond_the_range(
    moved: pd.DataFrame, batch: pd.DataFrame, reference: pd.DataFrame
) -> None:
    for column in SHIFTED_NUMBERS:
        known = reference[column].dropna()
        width = float(known.max() - known.min())
        delta = (moved[column] - batch[column]).dropna()
        step = float(delta.min())
        far = delta[delta > step + width]
        # a standard deviation, at most an eighth of the range; the largest 3% two widths on
        assert 0 < step <= max(1.0, min(float(known.std()), width / 8)) + 1e-9, column
        assert len(far) == round(0.03 * batch[column].notna().sum()), column
        biggest = batch[column].loc[far.index].min()
        assert (batch[column].drop(far.index).dropna() <= biggest).all(), column
        assert moved[column].loc[far.index].min() > known.max() + 0.25 * width, column


def test_integers_move_by_whole_numbers_and_keep_their_type(
    moved: pd.DataFrame, batch: pd.DataFrame
) -> None:
    delta = moved["age"] - batch["age"]
    assert moved["age"].dtype == batch["age"].dtype == np.int64
    assert delta.min() >= 1 and (delta % 1 == 0).all()


def test_nulls_sign_flags_columns_and_types_stay(
    moved: pd.DataFrame, batch: pd.DataFrame, reference: pd.DataFrame
) -> None:
    assert list(moved.columns) == list(batch.columns)
    assert (moved.dtypes == batch.dtypes).all()
    assert (moved.isna() == batch.isna()).all().all()
    assert (moved["income"].dropna() >= 0).all()
    for column in ("customer", "has_card", "churned"):
        pd.testing.assert_series_equal(moved[column], batch[column])
    assert set(moved["plan"]) <= set(reference["plan"])


def test_half_of_the_most_frequent_category_goes_to_the_second(
    moved: pd.DataFrame, batch: pd.DataFrame
) -> None:
    before, after = batch["plan"].value_counts(), moved["plan"].value_counts()
    given = before["basic"] // 2
    assert after["basic"] == before["basic"] - given
    assert after["plus"] == before["plus"] + given
    assert after["pro"] == before["pro"]


def test_the_batch_itself_is_left_alone_and_the_seed_picks_the_rows(
    batch: pd.DataFrame, reference: pd.DataFrame, spec: DatasetSpec
) -> None:
    original = batch.copy()
    first = shifted(batch, reference, spec, seed=1)

    pd.testing.assert_frame_equal(batch, original)
    pd.testing.assert_frame_equal(first, shifted(batch, reference, spec, seed=1))
    assert not first["plan"].equals(shifted(batch, reference, spec, seed=2)["plan"])


def test_at_least_one_value_goes_beyond_the_range(
    batch: pd.DataFrame, reference: pd.DataFrame, spec: DatasetSpec
) -> None:
    few = batch.head(10)
    moved = shifted(few, reference, spec, share=0.0)
    width = float(reference["age"].max() - reference["age"].min())
    assert (moved["age"] > reference["age"].max() + 0.25 * width).sum() == 1
