"""Rows published before their label (``late_labels``): validated with a warning, trained on
once their label lands, left out until then, the same way on both training engines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from driftloop.data.conform import conform_frame
from driftloop.data.synthetic import GeneratorConfig, generate_batch
from driftloop.exceptions import SpecError, TrainingError
from driftloop.spec import DatasetSpec, load_spec, save_spec
from driftloop.training.distributed import Partition, prepare_partition
from driftloop.training.model import SplitCounts, TrainingParams, check_trainable
from driftloop.validation.runner import validate_frame
from driftloop.validation.suites import build_suite

START = datetime(2026, 2, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def spec(repo_dir: Path) -> DatasetSpec:
    return load_spec(repo_dir / "expectations" / "credit_risk.yaml")


@pytest.fixture(scope="module")
def batch(spec: DatasetSpec) -> pd.DataFrame:
    """2,000 rows, every third without its label."""
    frame = generate_batch(
        GeneratorConfig(rows_per_batch=2000), start=START, end=START + timedelta(days=1)
    )
    frame.loc[frame.index % 3 == 0, spec.target] = None
    return frame


def _refused(spec: DatasetSpec, tmp_path: Path, **changes: object) -> str:
    path = tmp_path / "spec.yaml"
    save_spec(spec.model_copy(update=changes), path)
    with pytest.raises(SpecError) as raised:
        load_spec(path)
    return str(raised.value)


def test_late_labels_need_an_id_and_features(spec: DatasetSpec, tmp_path: Path) -> None:
    assert spec.late_labels  # the demo dataset's labels may land later
    assert "late_labels needs an 'id_column'" in _refused(spec, tmp_path, id_column=None)
    assert "late_labels needs" in _refused(spec, tmp_path, features=[])


def test_the_missing_label_rule_is_a_warning_only_with_late_labels(
    spec: DatasetSpec, batch: pd.DataFrame
) -> None:
    def not_null_target(late: bool) -> str:
        suite = build_suite(
            conform_frame(batch, spec), spec.model_copy(update={"late_labels": late})
        )
        (rule,) = [
            e
            for e in suite["expectations"]
            if e["type"] == "expect_column_values_to_not_be_null"
            and e["kwargs"]["column"] == spec.target
        ]
        return rule["severity"]

    assert not_null_target(True) == "warning"
    assert not_null_target(False) == "critical"


def test_a_batch_waiting_for_labels_passes_the_shipped_suite_with_a_warning(
    repo_dir: Path, spec: DatasetSpec, batch: pd.DataFrame, tmp_path: Path
) -> None:
    report = validate_frame(
        conform_frame(batch, spec),
        spec=spec,
        suite_path=repo_dir / "expectations" / "credit_risk.json",
        reports_dir=tmp_path,
        run_name="late",
        batch_label="ingest-late/batch.parquet",
    )

    assert report.success, report.describe("batch")
    (warning,) = [w for w in report.warnings if w.column == spec.target]
    assert warning.rule == "target" and warning.unexpected_count == 667


def _partition(batch: pd.DataFrame, tmp_path: Path) -> Partition:
    path = tmp_path / "batch.parquet"
    batch.to_parquet(path, index=False, row_group_size=len(batch))
    return Partition(path="data/batch.parquet", url=str(path), row_groups=(0,), rows=len(batch))


def test_a_partition_joins_late_labels_and_leaves_the_rest_out(
    spec: DatasetSpec, batch: pd.DataFrame, tmp_path: Path
) -> None:
    unlabelled = batch.loc[batch[spec.target].isna(), spec.id_column]
    landed = pd.Series("no", index=unlabelled.iloc[:100].to_numpy(), dtype=object)

    prepared = prepare_partition(_partition(batch, tmp_path), {}, spec, landed)

    labelled = int(batch[spec.target].notna().sum())
    assert prepared["counts"].total == labelled + 100
    with pytest.raises(TrainingError, match="667 rows have no label"):
        prepare_partition(
            _partition(batch, tmp_path), {}, spec.model_copy(update={"late_labels": False}), landed
        )


def test_a_labels_only_spec_is_refused_before_training(repo_dir: Path) -> None:
    labels_spec = load_spec(repo_dir / "expectations" / "credit_risk_labels.yaml")
    y = np.array([0, 1] * 50, dtype=np.int8)
    split = np.array(["train", "valid"] * 50, dtype=object)

    with pytest.raises(TrainingError, match=r"labels-only .*nothing to train a model on"):
        check_trainable(SplitCounts.of(y, split), labels_spec, TrainingParams())
