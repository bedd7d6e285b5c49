"""One contract at serving: what ingest warns about is scored with per-row warnings, counted.

A real champion scores requests built by the request model of the repository's spec, with
the limits of the repository's suite (``expectations/credit_risk.json``: age 7 to 95,
debt_to_income 0 to 2.358, income 0 to 278100, all never negative).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from prometheus_client import REGISTRY, generate_latest
from pydantic import TypeAdapter, ValidationError

from driftloop.config import Settings
from driftloop.serving.contract import RecordModel, request_model
from driftloop.serving.limits import FeatureLimits, learned_limits
from driftloop.serving.metrics import INPUT_WARNINGS
from driftloop.serving.scoring import Coalescer, encode, predict, score
from driftloop.spec import DatasetSpec
from driftloop.validation.suites import load_suite

COUNTER = f"{INPUT_WARNINGS}_total"


@pytest.fixture(scope="module")
def record(project: Settings, spec: DatasetSpec) -> type[RecordModel]:
    """The request model the service builds: the spec, and the limits of the project's suite."""
    return request_model(spec, limits=learned_limits(load_suite(project.suite_path)))


def _records(model: type[RecordModel], rows: list[dict]) -> list[RecordModel]:
    return TypeAdapter(list[model]).validate_python(rows)


def _count(feature: str, kind: str) -> float:
    return REGISTRY.get_sample_value(COUNTER, {"feature": feature, "kind": kind}) or 0.0


# One request: a clean row, one row per kind of warning, nullable nulls, and two warnings.
CHANGES = [
    ({}, []),
    (
        {"income": 1_000_000.0},
        ["feature 'income': 1000000 is above the learned maximum 278100, scored as sent"],
    ),
    ({"age": 3}, ["feature 'age': 3 is below the learned minimum 7, scored as sent"]),
    (
        {"loan_amount": -500.0},
        ["feature 'loan_amount': -500 is negative, which the feature never is, scored as sent"],
    ),
    ({"age": None}, ["feature 'age': null, but the feature is not nullable, scored as missing"]),
    ({"region": "mars"}, ["feature 'region': unknown category 'mars', scored as missing"]),
    ({"income": None, "utilization": None}, []),
    (
        {"age": -2, "debt_to_income": 3.5},
        [
            "feature 'age': -2 is negative, which the feature never is, scored as sent",
            "feature 'debt_to_income': 3.5 is above the learned maximum 2.358, scored as sent",
        ],
    ),
]


def test_each_warning_is_on_its_row_naming_field_and_value(champion, record, rows) -> None:
    batch = [dict(rows[0], **change) for change, _ in CHANGES]

    predictions = predict(champion, _records(record, batch)).predictions

    assert [p.warnings for p in predictions] == [expected for _, expected in CHANGES]


def test_every_endpoint_path_gives_the_same_warnings(champion, record, rows) -> None:
    records = _records(record, [dict(rows[0], **change) for change, _ in CHANGES])
    single = [p.warnings for p in predict(champion, records).predictions]

    async def coalesced():
        return (await Coalescer().score(champion, encode(records))).response()

    assert [p.warnings for p in asyncio.run(coalesced()).predictions] == single
    assert [p.warnings for p in score(champion, encode(records)).rows()] == single
    assert any(single)


def test_values_are_encoded_as_sent_never_clipped(spec, record, rows) -> None:
    encoded = encode(_records(record, [dict(rows[0], income=5_000_000.0, age=-4)]))

    row = dict(zip(spec.feature_names, encoded.matrix[0].tolist(), strict=True))
    assert (row["income"], row["age"]) == (5_000_000.0, -4.0)


def test_a_value_at_a_learned_bound_is_inside(record, rows) -> None:
    # 2.358 as float32 is a little above 2.358 as float64: the bound must be compared as float32.
    at_bounds = [
        dict(rows[0], age=7, debt_to_income=2.358, income=0.0),
        dict(rows[0], age=95, debt_to_income=0.0, income=278_100.0),
    ]
    beyond = [
        dict(rows[0], debt_to_income=2.3581),
        dict(rows[0], age=96),
        dict(rows[0], age=6),
        dict(rows[0], income=-0.01),
    ]

    assert encode(_records(record, at_bounds)).warnings == {}
    assert sorted(encode(_records(record, beyond)).warnings) == [0, 1, 2, 3]


def test_warnings_are_counted_by_feature_and_kind(champion, record, rows) -> None:
    kinds = [("income", "range"), ("age", "range"), ("age", "null"), ("region", "category")]
    kinds += [("loan_amount", "sign"), ("debt_to_income", "range")]
    before = {kind: _count(*kind) for kind in kinds}
    batch = [dict(rows[0], **change) for change, _ in CHANGES]

    predict(champion, _records(record, batch))
    predict(champion, _records(record, batch[:2]))

    added = {kind: _count(*kind) - before[kind] for kind in kinds}
    assert added == {
        ("income", "range"): 2,
        ("age", "range"): 1,
        ("age", "null"): 1,
        ("region", "category"): 1,
        ("loan_amount", "sign"): 1,
        ("debt_to_income", "range"): 1,
    }
    # The negative age is a sign warning only: the age range count above is the age of 3.
    text = generate_latest(REGISTRY).decode()
    assert f'{COUNTER}{{feature="age",kind="sign"}}' in text


def test_bad_values_and_missing_fields_stay_errors(record, rows) -> None:
    without_age = {k: v for k, v in rows[0].items() if k != "age"}
    bad = [rows[0], dict(rows[0], income="lots"), without_age, dict(rows[0], age=-1)]

    with pytest.raises(ValidationError) as caught:
        _records(record, bad)

    assert [(e["loc"][:2], e["type"]) for e in caught.value.errors()] == [
        ((1, "income"), "float_type"),
        ((2, "age"), "missing"),
    ]


def test_learned_limits_come_from_range_and_sign_rules_in_any_tier(project: Settings) -> None:
    def rule(name: str | None, severity: str, **kwargs: object) -> dict:
        meta = {"driftloop": {"rule": name}} if name else {}
        return {
            "type": "expect_column_values_to_be_between",
            "kwargs": kwargs,
            "severity": severity,
            "meta": meta,
        }

    suite = {
        "name": "t",
        "expectations": [
            rule("sign", "critical", column="a", min_value=0),
            rule("range", "warning", column="a", min_value=1, max_value=9, mostly=0.99),
            rule("range", "critical", column="b", min_value=-5.5, max_value=5.5),
            rule("range", "warning", column="c", min_value={"$PARAMETER": "x"}, max_value=3),
            rule(None, "critical", column="d", min_value=0, max_value=1),
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "e"}},
        ],
    }

    assert learned_limits(suite) == {
        "a": FeatureLimits(low=1.0, high=9.0, sign=True),
        "b": FeatureLimits(low=-5.5, high=5.5),
        "c": FeatureLimits(high=3.0),
    }
    real = learned_limits(load_suite(project.suite_path))
    assert real["age"] == FeatureLimits(low=7.0, high=95.0, sign=True)
    assert "purpose" not in real


def test_without_a_suite_only_nulls_and_categories_are_warned(spec, rows) -> None:
    plain = request_model(spec)
    batch = [dict(rows[0], income=1e9, age=-3), dict(rows[0], age=None, region="mars")]

    warnings = encode(_records(plain, batch)).warnings

    assert warnings == {
        1: [
            "feature 'age': null, but the feature is not nullable, scored as missing",
            "feature 'region': unknown category 'mars', scored as missing",
        ]
    }


def test_the_service_serves_without_its_suite(tmp_path: Path, caplog) -> None:
    from bento.service import _learned_limits

    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")

    with caplog.at_level(logging.WARNING, logger="driftloop.bento"):
        assert _learned_limits(tmp_path / "absent.json") == {}
        assert _learned_limits(broken) == {}

    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        "serving without range or sign warnings"
    ] * 2


def test_served_values_are_profiled_as_sent(
    serving_profiles, champion, loader, spec, record, rows
) -> None:
    from driftloop.monitoring.profiles import read_profile, read_view

    batch = [dict(rows[0], income=9_000_000.0, age=None), dict(rows[1], age=-4, region="mars")]
    records = _records(record, batch)
    profiles = serving_profiles(spec=spec, worker="warn")
    profiles.record(score(champion, encode(records)))

    (written,) = profiles.flush()

    view = read_view(read_profile(loader.store, written))
    income = view.get_column("income").to_summary_dict()
    age = view.get_column("age").to_summary_dict()
    assert income["distribution/max"] == 9_000_000.0
    assert (age["counts/null"], age["distribution/min"]) == (1, -4.0)
    assert view.get_column("region").to_summary_dict()["frequent_items/frequent_strings"]
