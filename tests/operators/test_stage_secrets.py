"""The stage task has Airflow mask its SQL source's password in every log line it writes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from airflow.sdk._shared.secrets_masker import redact

from driftloop.exceptions import SourceUnavailable
from driftloop.spec import SourceSpec, load_spec, save_spec
from driftloop_provider.ingest import StageBatchOperator

PASSWORD = "st@ge/pass:word"


def test_the_source_password_is_masked_before_the_source_is_read(
    repo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(repo_dir / "expectations" / "credit_risk.yaml")
    source = SourceSpec(
        kind="sql", url="postgresql+psycopg2://etl:${STAGE_PW}@127.0.0.1:1/loans", table="loans"
    )
    save_spec(spec.model_copy(update={"source": source}), tmp_path / "specs" / "credit_risk.yaml")
    monkeypatch.setenv("DRIFTLOOP_EXPECTATIONS", str(tmp_path / "specs"))
    monkeypatch.setenv("DRIFTLOOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STAGE_PW", PASSWORD)
    line = f"driver said: password {PASSWORD} (in the URL: st%40ge%2Fpass%3Aword) was refused"
    assert redact(line) == line

    with pytest.raises(SourceUnavailable, match="cannot connect to postgresql"):
        StageBatchOperator(task_id="stage").execute(
            {  # type: ignore[arg-type]
                "data_interval_start": datetime(2026, 4, 1, tzinfo=UTC),
                "data_interval_end": datetime(2026, 4, 2, tzinfo=UTC),
                "run_id": "scheduled__1",
            }
        )

    assert redact(line) == "driver said: password *** (in the URL: ***) was refused"
