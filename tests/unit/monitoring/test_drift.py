from __future__ import annotations

import json

import pytest

from driftloop.config.monitoring import DriftPolicy, ThresholdOverride
from driftloop.exceptions import ConfigError
from driftloop.monitoring.drift import DriftResult, FeatureDrift, score_drift, write_drift_report
from driftloop.monitoring.profiles import ValidationWarning
from driftloop.spec import DatasetSpec
from driftloop.versioning.base import VersionStore


def _feature(result: DriftResult, name: str) -> FeatureDrift:
    return next(f for f in result.features if f.name == name)


def test_half_a_standard_deviation_of_income_shift_is_drift(
    spec: DatasetSpec, income_shift_profile: bytes, reference_profile: bytes
) -> None:
    result = score_drift(income_shift_profile, reference_profile, spec, DriftPolicy())

    assert result.drifted
    assert result.drifted_features == ["income"]
    income = _feature(result, "income")
    assert income.algorithm == "ks"
    assert income.p_value is not None and income.p_value < 1e-6
    assert income.hellinger is not None and income.hellinger > 0.15
    assert "income" in result.reason and "hellinger=" in result.reason
    assert result.target_rows == result.reference_rows == 10_000


def test_another_sample_of_the_same_distribution_is_not_drift(
    spec: DatasetSpec, same_profile: bytes, reference_profile: bytes
) -> None:
    result = score_drift(same_profile, reference_profile, spec, DriftPolicy())

    assert not result.drifted
    assert result.drifted_features == []
    assert result.reason.startswith("no drift: no feature drifted")


def test_a_new_category_is_flagged_and_serialises(
    spec: DatasetSpec, new_category_profile: bytes, reference_profile: bytes
) -> None:
    result = score_drift(new_category_profile, reference_profile, spec, DriftPolicy())

    purpose = _feature(result, "purpose")
    assert result.drifted and result.drifted_features == ["purpose"]
    assert purpose.algorithm == "chi-square"
    assert purpose.new_categories == ["crypto"]
    assert purpose.new_category_share == pytest.approx(0.1, abs=0.01)
    assert purpose.statistic is None  # infinite chi-square, recorded as missing
    assert "infinite" in (purpose.note or "")
    assert "crypto" in result.reason
    assert DriftResult.model_validate_json(result.model_dump_json()) == result


def test_every_feature_has_a_hellinger_distance_and_a_test(
    spec: DatasetSpec, same_profile: bytes, reference_profile: bytes
) -> None:
    result = score_drift(same_profile, reference_profile, spec, DriftPolicy())

    assert {f.name for f in result.features} == {*spec.feature_names, spec.target}
    for feature in result.features:
        assert feature.hellinger is not None and 0 <= feature.hellinger < 0.1, feature.name
        expected = "chi-square" if feature.role != "numeric" else "ks"
        assert feature.algorithm == expected, feature.name


def test_the_policy_needs_k_features_unless_a_key_feature_drifts(
    spec: DatasetSpec, income_shift_profile: bytes, reference_profile: bytes
) -> None:
    two_needed = DriftPolicy(min_drifted_features=2)
    key = DriftPolicy(min_drifted_features=2, key_features=["income"])

    counted = score_drift(income_shift_profile, reference_profile, spec, two_needed)
    keyed = score_drift(income_shift_profile, reference_profile, spec, key)

    assert not counted.drifted
    assert counted.drifted_features == ["income"]
    assert "fewer than the 2 needed" in counted.reason
    assert keyed.drifted
    assert keyed.reason.startswith("drift: key feature income")


def test_per_feature_thresholds_override_the_defaults(
    spec: DatasetSpec, income_shift_profile: bytes, reference_profile: bytes
) -> None:
    lenient = DriftPolicy(feature_thresholds={"income": ThresholdOverride(hellinger=0.5)})

    result = score_drift(income_shift_profile, reference_profile, spec, lenient)

    assert not result.drifted
    assert _feature(result, "income").thresholds.hellinger == 0.5
    assert _feature(result, "income").thresholds.p_value == 0.05


def test_a_policy_naming_unknown_columns_is_refused(
    spec: DatasetSpec, same_profile: bytes, reference_profile: bytes
) -> None:
    with pytest.raises(ConfigError, match="shoe_size"):
        score_drift(same_profile, reference_profile, spec, DriftPolicy(key_features=["shoe_size"]))


def test_the_signature_names_the_drift_not_the_moment(
    spec: DatasetSpec, income_shift_profile: bytes, reference_profile: bytes
) -> None:
    first = score_drift(
        income_shift_profile, reference_profile, spec, DriftPolicy(), reference_id="r"
    )
    again = score_drift(
        income_shift_profile, reference_profile, spec, DriftPolicy(), reference_id="r"
    )
    other = score_drift(
        income_shift_profile, reference_profile, spec, DriftPolicy(), reference_id="s"
    )

    assert first.signature == again.signature != other.signature


def test_the_report_is_written_as_json_and_html(
    spec: DatasetSpec,
    local_store: VersionStore,
    income_shift_profile: bytes,
    reference_profile: bytes,
) -> None:
    result = score_drift(
        income_shift_profile, reference_profile, spec, DriftPolicy(), target_ids=["t1"]
    )

    written = write_drift_report(
        local_store, result, target=income_shift_profile, reference=reference_profile
    )

    assert written.report_json and written.report_html
    assert written.report_html.startswith("monitoring/credit_risk/reports/")
    html = local_store.read_object("monitoring", written.report_html).decode()
    assert "<iframe" not in html and "<script" not in html and "income" in html
    stored = json.loads(local_store.read_object("monitoring", written.report_json))
    assert DriftResult.model_validate(stored) == written
    assert local_store.uncommitted("monitoring") == []
    name = written.report_json.rsplit("/", 1)[1].removesuffix(".json")
    commit = local_store.get_commit("monitoring")
    assert commit.message == f"Drift report {name} of credit_risk: drift"
    assert commit.metadata == {"drifted": "true", "signature": result.signature, "report": name}


def _warning(column: str, rule: str | None) -> ValidationWarning:
    return ValidationWarning(
        column=column,
        expectation="expect_column_values_to_be_between",
        rule=rule,
        message=f"{column}: 40 values above the learned range",
    )


@pytest.mark.parametrize(
    ("policy", "rule", "drifted"),
    [
        (DriftPolicy(), "range", True),
        (DriftPolicy(), "categories", True),
        (DriftPolicy(), "nulls", True),
        (DriftPolicy(validation_warnings_count=False), "range", False),
        (DriftPolicy(), "type", False),
        (DriftPolicy(), None, False),
        (DriftPolicy(validation_warning_rules=["type"]), "type", True),
    ],
)
def test_a_validation_warning_drifts_its_column_when_the_policy_counts_its_rule(
    spec: DatasetSpec,
    same_profile: bytes,
    reference_profile: bytes,
    policy: DriftPolicy,
    rule: str | None,
    drifted: bool,
) -> None:
    warnings = {"2024-01-02T0000Z": [_warning("age", rule)], "2024-01-03T0000Z": []}

    result = score_drift(
        same_profile, reference_profile, spec, policy, validation_warnings=warnings
    )

    age = _feature(result, "age")
    assert age.drifted is drifted and result.drifted is drifted
    counted = rule in policy.validation_warning_rules
    expected = "in 2024-01-02T0000Z: age: 40 values above the learned range"
    assert age.validation_warning == (expected if counted else None)
    assert ("age (ks p=" in result.reason and expected in result.reason) is drifted
    assert all(f.validation_warning is None for f in result.features if f.name != "age")


def test_a_report_written_before_the_window_and_quality_were_recorded_still_loads(
    spec: DatasetSpec, same_profile: bytes, reference_profile: bytes
) -> None:
    result = score_drift(same_profile, reference_profile, spec, DriftPolicy())
    window_fields = {
        "model_version",
        "data_commit",
        "live_since",
        "trained_batches",
        "batches",
        "serving",
        "waiting",
        "quality",
    }
    old = result.model_dump(mode="json", exclude=window_fields)
    for feature in old["features"]:
        del feature["validation_warning"]

    loaded = DriftResult.model_validate(old)

    assert loaded == result
    assert loaded.summary()["batches"] == [] and loaded.summary()["serving"]["profiles"] == 0
