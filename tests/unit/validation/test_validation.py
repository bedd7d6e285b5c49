"""Real GX runs on small frames; one suite and one reports folder are shared by the module."""

from __future__ import annotations

import gc
import json
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop.data.conform import conform_frame
from driftloop.exceptions import ConfigError
from driftloop.spec import DatasetSpec, SourceSpec
from driftloop.spec.learn import infer_spec
from driftloop.validation.report import ValidationReport
from driftloop.validation.runner import validate_frame
from driftloop.validation.suites import (
    build_suite,
    critical_null_share,
    load_suite,
    warning_null_share,
    write_suite,
)


def sample_frame(rows: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(11)
    income = rng.uniform(20_000, 90_000, rows).round(2)
    income[[4, 9]] = np.nan
    return pd.DataFrame(
        {
            "customer_id": np.arange(100, 100 + rows),
            "applied_at": pd.date_range("2024-01-01", periods=rows, freq="h", tz="UTC"),
            "age": rng.integers(21, 70, rows),
            "income": income,
            "region": rng.choice(["north", "south", "east"], rows),
            "segment": rng.integers(1, 4, rows),
            "has_phone": rng.random(rows) < 0.5,
            "default": rng.choice(["yes", "no"], rows),
        }
    )


def sample_spec(sample: pd.DataFrame) -> DatasetSpec:
    """The spec learned from :func:`sample_frame`."""
    return infer_spec(
        sample,
        name="credit",
        source=SourceSpec(kind="file", path="landing/*.csv"),
        target="default",
        id_column="customer_id",
        event_time_column="applied_at",
    )


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return sample_frame()


@pytest.fixture(scope="module")
def spec(sample: pd.DataFrame) -> DatasetSpec:
    return sample_spec(sample)


@pytest.fixture(scope="module")
def suite_path(sample, spec, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("expectations") / "credit.json"
    write_suite(build_suite(sample, spec), path)
    return path


@pytest.fixture(scope="module")
def reports_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def good(sample, spec) -> pd.DataFrame:
    return conform_frame(sample, spec)


@pytest.fixture(scope="module")
def validate(spec, suite_path, reports_dir):
    def run(df: pd.DataFrame, run_name: str, **kwargs) -> ValidationReport:
        kwargs.setdefault("suite_path", suite_path)
        return validate_frame(
            df,
            spec=spec,
            reports_dir=reports_dir,
            run_name=run_name,
            batch_label=f"ingest-{run_name}/batch.parquet",
            **kwargs,
        )

    return run


def expectation(suite: dict, kind: str, column: str | None = None) -> dict:
    """The one expectation of ``kind`` on ``column`` (for ranges: the learned, soft one)."""
    (found,) = [
        e["kwargs"]
        for e in suite["expectations"]
        if e["type"] == kind
        and e["kwargs"].get("column") == column
        and (kind != "expect_column_values_to_be_between" or "max_value" in e["kwargs"])
    ]
    return found


def test_suite_covers_columns_types_ranges_sets_and_ids(sample, spec):
    suite = build_suite(sample, spec)

    assert suite["name"] == "credit"
    meta = suite["meta"]["driftloop"]
    assert (meta["dataset"], meta["generated_from_rows"]) == ("credit", 60)
    assert "severity" in meta["tiers"]
    assert expectation(suite, "expect_table_columns_to_match_set")["column_set"] == spec.columns
    assert expectation(suite, "expect_table_row_count_to_be_between")["min_value"] == 1
    low, high = sample["income"].min(), sample["income"].max()
    income = expectation(suite, "expect_column_values_to_be_between", "income")
    assert income["min_value"] <= low - 0.25 * (high - low) < low
    assert high < high + 0.25 * (high - low) <= income["max_value"]
    assert income["mostly"] == 0.99
    # Ages 21..69 widened by 25% would dip below 21 but never below 0, and never-negative
    # columns get a strict sign check besides.
    age = expectation(suite, "expect_column_values_to_be_between", "age")
    assert 0 <= age["min_value"] < 21
    signs = [
        e["kwargs"]
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_between"
        and e["kwargs"]["column"] == "age"
        and "max_value" not in e["kwargs"]
    ]
    assert signs == [{"column": "age", "min_value": 0}] or signs[0]["min_value"] == 0
    assert expectation(suite, "expect_column_values_to_be_in_set", "segment")["value_set"] == [
        "1",
        "2",
        "3",
    ]
    assert expectation(suite, "expect_column_values_to_be_in_set", "default")["value_set"] == [
        "no",
        "yes",
    ]
    expectation(suite, "expect_column_values_to_be_unique", "customer_id")
    expectation(suite, "expect_column_values_to_not_be_null", "default")


def tiers(suite, column):
    """(type, severity, rule, mostly) of each expectation on ``column``."""
    return [
        (e["type"], e["severity"], e["meta"]["driftloop"]["rule"], e["kwargs"].get("mostly"))
        for e in suite["expectations"]
        if e["kwargs"].get("column") == column
    ]


def test_broken_data_is_critical_and_changed_data_a_warning(sample, spec):
    suite = build_suite(sample, spec)

    assert all(e["severity"] in {"critical", "warning"} for e in suite["expectations"])
    table = [e for e in suite["expectations"] if "column" not in e["kwargs"]]
    assert {e["severity"] for e in table} == {"critical"}
    assert tiers(suite, "customer_id") == [
        ("expect_column_values_to_be_in_type_list", "critical", "type", None),
        ("expect_column_values_to_not_be_null", "critical", "id", None),
        ("expect_column_values_to_be_unique", "critical", "id", None),
    ]
    assert {s for _, s, _, _ in tiers(suite, "default")} == {"critical"}
    # region had no nulls in the sample: 1% more is a warning, 10% more is broken
    assert tiers(suite, "region") == [
        ("expect_column_values_to_be_in_type_list", "critical", "type", None),
        ("expect_column_values_to_not_be_null", "warning", "nulls", 0.99),
        ("expect_column_values_to_not_be_null", "critical", "nulls", 0.9),
        ("expect_column_values_to_be_in_set", "warning", "categories", None),
    ]
    age = tiers(suite, "age")
    assert ("expect_column_values_to_be_between", "critical", "sign", None) in age
    assert ("expect_column_values_to_be_between", "warning", "range", 0.99) in age
    learned = float(sample["income"].isna().mean())
    assert learned > 0
    income_nulls = [m for kind, _, rule, m in tiers(suite, "income") if rule == "nulls"]
    assert income_nulls == [
        round(1 - warning_null_share(learned), 4),
        round(1 - critical_null_share(learned), 4),
    ]


def test_null_share_limits_grow_with_the_learned_share():
    assert (warning_null_share(0.0), critical_null_share(0.0)) == (0.01, 0.1)
    assert (warning_null_share(0.1), critical_null_share(0.1)) == (0.2, 0.5)
    assert critical_null_share(0.5) == 0.99  # an all-null column is always broken
    assert warning_null_share(0.9) <= critical_null_share(0.9) < 1


def test_suite_file_is_byte_identical_for_the_same_data(sample, spec, tmp_path):
    write_suite(build_suite(sample, spec), tmp_path / "first.json")
    write_suite(build_suite(sample.sample(frac=1, random_state=1), spec), tmp_path / "second.json")

    first = (tmp_path / "first.json").read_bytes()
    assert first == (tmp_path / "second.json").read_bytes()
    assert first.endswith(b"}\n")
    assert b'"id": null' in first
    assert load_suite(tmp_path / "first.json") == json.loads(first)


def test_good_batch_passes_and_keeps_its_result_and_data_docs(good, validate, reports_dir):
    report = validate(good, "good")

    assert report.success, report.failures
    assert report.rows == 60
    assert report.statistics["unsuccessful_expectations"] == 0
    assert report.result_path == reports_dir / "validations" / "good.json"
    assert json.loads(report.result_path.read_text())["success"] is True
    assert report.docs_path.suffix == ".html"
    assert reports_dir / "gx" in report.docs_path.parents
    assert "ingest-good/batch.parquet" in report.docs_path.read_text()
    assert report.describe("ingest-good/batch.parquet").startswith(
        "batch ingest-good/batch.parquet passed"
    )


def test_validation_lets_the_batch_go(good, validate):
    batch = good.copy()
    alive = weakref.ref(batch)

    assert validate(batch, "released").success
    del batch
    gc.collect()

    assert alive() is None, "GX still holds the validated frame"


@pytest.fixture(scope="module")
def defects(good, validate) -> ValidationReport:
    """One batch with one defect per row, each caught by a different expectation."""
    bad = good.copy()
    bad["income"] = bad["income"].astype(object)
    bad.loc[1, "income"] = "abc"
    bad.loc[2, "region"] = None
    bad.loc[3, "age"] = 999
    bad.loc[4, "segment"] = "9"
    bad.loc[5, "customer_id"] = bad.loc[0, "customer_id"]
    bad.loc[6, "default"] = "maybe"
    return validate(bad, "defects")


@pytest.mark.parametrize(
    ("kind", "column", "words"),
    [
        (
            "expect_column_values_to_be_in_type_list",
            "income",
            ["column 'income' has type object, expected numbers", "1 value", "'abc'"],
        ),
        (
            "expect_column_values_to_be_between",
            "income",
            ["column 'income' has the wrong type, so its values were not checked"],
        ),
        (
            "expect_column_values_to_not_be_null",
            "region",
            ["column 'region' has 1 null value", "more than the 1.0% allowed", "rows 2"],
        ),
        ("expect_column_values_to_be_between", "age", ["column 'age': 1 value outside", "999"]),
        (
            "expect_column_values_to_be_in_set",
            "segment",
            ["column 'segment': 1 value not in ['1', '2', '3']", "'9'"],
        ),
        ("expect_column_values_to_be_unique", "customer_id", ["column 'customer_id'", "100"]),
        (
            "expect_column_values_to_be_in_set",
            "default",
            ["target 'default': 1 value not in ['no', 'yes']", "'maybe'"],
        ),
    ],
)
def test_each_defect_is_reported_with_column_and_value(defects, kind, column, words):
    failures = [
        f
        for f in defects.failures + defects.warnings
        if f.expectation == kind and f.column == column
    ]

    assert failures
    for failure in failures:
        for word in words:
            assert word in failure.message


def test_defects_are_the_only_failures_each_in_its_tier(defects):
    assert not defects.success
    # income's sign check and its learned range both refuse the text value: 8 in all
    assert defects.statistics["unsuccessful_expectations"] == 8
    critical = {(f.expectation, f.column) for f in defects.failures}
    assert critical == {
        ("expect_column_values_to_be_in_type_list", "income"),
        ("expect_column_values_to_be_between", "income"),
        ("expect_column_values_to_be_unique", "customer_id"),
        ("expect_column_values_to_be_in_set", "default"),
    }
    assert {(f.rule, f.column) for f in defects.warnings} == {
        ("range", "income"),
        ("nulls", "region"),
        ("range", "age"),
        ("categories", "segment"),
    }
    assert {f.severity for f in defects.warnings} == {"warning"}
    by_column = {(f.expectation, f.column): f for f in defects.failures + defects.warnings}
    assert by_column["expect_column_values_to_be_in_set", "default"].examples == ["maybe"]
    assert by_column["expect_column_values_to_be_between", "age"].examples == [999]
    assert by_column["expect_column_values_to_be_in_type_list", "income"].observed == "object"


def test_renamed_column_is_reported_as_missing_and_unexpected(good, validate):
    report = validate(good.rename(columns={"age": "agee"}), "renamed")

    columns, *per_column = report.failures
    assert columns.message == "missing columns: ['age']; unexpected columns: ['agee']"
    assert columns.observed == {"missing": ["age"], "unexpected": ["agee"]}
    assert {f.column for f in per_column} == {"age"}
    assert all("column 'age' is missing from the batch" in f.message for f in per_column)


def test_extra_column_alone_fails(good, validate):
    report = validate(good.assign(comment="n/a"), "extra")

    assert [f.message for f in report.failures] == ["unexpected columns: ['comment']"]


def test_empty_batch_fails_on_row_count(good, validate):
    report = validate(good.iloc[0:0], "empty")

    assert [f.message for f in report.failures] == ["batch has 0 rows, expected at least 1"]
    assert report.failures[0].observed == 0
    assert report.docs_path.exists()


def test_unconformed_codes_fail_as_the_wrong_type(sample, validate):
    report = validate(sample, "raw-codes")

    messages = [f.message for f in report.failures]
    assert "column 'segment' has type int64, expected text" in messages
    assert "target 'default'" not in " ".join(messages)


def test_a_failed_report_names_source_expectations_columns_and_values(defects):
    text = defects.describe("lakefs://driftloop/ingest-7/batch.parquet")

    assert text.startswith(
        "batch lakefs://driftloop/ingest-7/batch.parquet failed validation: 4 critical of"
    )
    for word in ["expect_column_values_to_be_in_set", "'segment'", "'9'", "'maybe'", "999"]:
        assert word in text
    assert "and 4 validation warnings:" in text
    assert defects.statistics["unsuccessful_expectations"] == 8
    assert len(defects.failures) == 4
    assert defects.failures[0].column == "customer_id"
    assert str(defects.docs_path) in text
    assert str(defects.result_path) in text


def test_revalidating_a_run_replaces_its_result_and_page(good, defects, validate, reports_dir):
    bad_page = defects.docs_path

    again = validate(good, "defects")

    assert again.success
    assert not bad_page.exists()
    assert json.loads(again.result_path.read_text())["success"] is True
    gx_root = reports_dir / "gx" / "uncommitted"
    assert len(list((gx_root / "validations").rglob("defects/*/*.json"))) == 1
    assert [p.name for p in (gx_root / "data_docs").rglob("defects/*")] == [
        again.docs_path.parent.name
    ]
    index = (gx_root / "data_docs" / "local_site" / "index.html").read_text()
    assert index.count("validations/credit/defects/") == 1


def test_a_rule_moves_between_tiers_by_editing_its_severity(sample, spec, good, validate, tmp_path):
    unseen = good.assign(segment="9")
    published = validate(unseen, "edited")
    assert published.success
    assert [(w.rule, w.column) for w in published.warnings] == [("categories", "segment")]
    assert "with 1 validation warnings" in published.describe("b.csv")

    suite = build_suite(sample, spec)
    for e in suite["expectations"]:
        if (
            e["kwargs"].get("column") == "segment"
            and e["meta"]["driftloop"]["rule"] == "categories"
        ):
            e["severity"] = "critical"
    write_suite(suite, tmp_path / "credit.json")
    quarantined = validate(unseen, "edited", suite_path=tmp_path / "credit.json")
    assert not quarantined.success
    assert [(f.rule, f.column) for f in quarantined.failures] == [("categories", "segment")]

    suite["expectations"][0]["severity"] = "loud"
    write_suite(suite, tmp_path / "credit.json")
    with pytest.raises(ConfigError, match="severity 'loud' is not one of critical, warning"):
        validate(unseen, "edited", suite_path=tmp_path / "credit.json")


def test_missing_or_malformed_suite_file_is_a_config_error(tmp_path, validate):
    with pytest.raises(ConfigError, match=r"nowhere\.json does not exist"):
        load_suite(tmp_path / "nowhere.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"broken\.json is not readable JSON"):
        load_suite(tmp_path / "broken.json")
    (tmp_path / "shape.json").write_text('{"name": "credit", "expectations": [{"type": 1}]}')
    with pytest.raises(ConfigError, match=r"shape\.json: 'expectations' must be a list"):
        load_suite(tmp_path / "shape.json")


def test_invalid_expectation_or_other_dataset_is_a_config_error(good, validate, tmp_path):
    invalid = tmp_path / "invalid.json"
    write_suite(
        {
            "name": "credit",
            "expectations": [{"type": "expect_column_values_to_be_in_set", "kwargs": {}}],
        },
        invalid,
    )
    with pytest.raises(ConfigError, match=r"invalid\.json: expectation 1 .* is invalid"):
        validate(good, "invalid", suite_path=invalid)

    other = tmp_path / "other.json"
    write_suite({"name": "churn", "expectations": []}, other)
    with pytest.raises(ConfigError, match="is for dataset 'churn', not 'credit'"):
        validate(good, "other", suite_path=other)


@pytest.mark.parametrize("run_name", ["", "..", "a/b"])
def test_run_name_must_name_a_file(good, validate, run_name):
    with pytest.raises(ConfigError, match="cannot name a file"):
        validate(good, run_name)
