"""A spec without features is a labels-only dataset: late labels joined by id to another one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from driftloop.config.monitoring import QualityPolicy
from driftloop.exceptions import SpecError
from driftloop.spec import DatasetSpec, load_spec, save_spec


@pytest.fixture(scope="module")
def labels_spec(repo_dir: Path) -> DatasetSpec:
    return load_spec(repo_dir / "expectations" / "credit_risk_labels.yaml")


def test_the_shipped_labels_spec_holds_the_main_datasets_id_and_target(
    repo_dir: Path, labels_spec: DatasetSpec
) -> None:
    main = load_spec(repo_dir / "expectations" / "credit_risk.yaml")

    assert labels_spec.labels_only and not main.labels_only
    assert labels_spec.name == QualityPolicy().labels_of(main.name)
    assert labels_spec.columns == [main.id_column, main.target]
    assert labels_spec.target_values == main.target_values


def test_the_shipped_suite_is_the_one_learned_from_the_spec(
    repo_dir: Path, labels_spec: DatasetSpec
) -> None:
    from driftloop.data.conform import conform_frame
    from driftloop.data.synthetic import GeneratorConfig, generate_batch
    from driftloop.validation.suites import build_suite

    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = generate_batch(
        GeneratorConfig(rows_per_batch=5000), start=start, end=start + timedelta(days=1)
    )
    learned = build_suite(conform_frame(batch[labels_spec.columns], labels_spec), labels_spec)
    shipped = json.loads((repo_dir / "expectations" / "credit_risk_labels.json").read_text())

    assert shipped == json.loads(json.dumps(learned))
    rules = {(e["type"], e["kwargs"].get("column"), e["severity"]) for e in shipped["expectations"]}
    assert {
        ("expect_column_values_to_not_be_null", "application_id", "critical"),
        ("expect_column_values_to_be_unique", "application_id", "critical"),
        ("expect_column_values_to_be_in_set", "default", "critical"),
    } <= rules
    (columns,) = [e for e in shipped["expectations"] if e["kwargs"].get("column_set")]
    assert columns["kwargs"] == {"column_set": ["application_id", "default"]}


def test_a_spec_without_features_or_id_is_refused_naming_the_field(
    labels_spec: DatasetSpec, tmp_path: Path
) -> None:
    path = tmp_path / "labels.yaml"
    save_spec(labels_spec.model_copy(update={"id_column": None}), path)

    with pytest.raises(SpecError, match=r"labels-only dataset.*needs an 'id_column'"):
        load_spec(path)
