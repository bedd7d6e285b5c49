"""The command line: demo data with corruption, and `init` on a sample."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from driftloop.launcher.cli import main


def test_generate_spoils_batches_on_request(tmp_path: Path) -> None:
    args = ["data", "generate", "--days", "1", "--rows", "200", "--out", str(tmp_path)]
    assert main([*args, "--drop-column", "region", "--out-of-range", "income=-5"]) == 0
    (path,) = tmp_path.glob("*.csv")
    frame = pd.read_csv(path)
    assert "region" not in frame.columns
    assert (frame["income"] == -5).any()


def test_init_writes_a_spec_and_a_suite_and_keeps_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["data", "generate", "--days", "1", "--rows", "500", "--out", str(tmp_path)]) == 0
    (sample,) = tmp_path.glob("*.csv")
    monkeypatch.setenv("DRIFTLOOP_PROJECT_DIR", str(tmp_path))
    init = [
        "init",
        "--data",
        str(sample),
        "--target",
        "default",
        "--id",
        "application_id",
        "--event-time",
        "applied_at",
        "--name",
        "loans",
    ]

    assert main(init) == 0
    spec = yaml.safe_load((tmp_path / "expectations" / "loans.yaml").read_text())
    assert spec["positive_label"] == "yes" and spec["id_column"] == "application_id"
    assert (tmp_path / "expectations" / "loans.json").exists()
    assert "DRIFTLOOP_DATASET=loans" in capsys.readouterr().out
    # a second init does not overwrite what the user may have edited
    assert main(init) == 2


def test_registry_upgrade_creates_the_schema_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRIFTLOOP_REGISTRY_URL", f"sqlite:///{tmp_path / 'registry.db'}")

    assert main(["registry", "upgrade"]) == 0
    first = capsys.readouterr().out
    assert main(["registry", "upgrade"]) == 0

    assert "registry schema at revision" in first and "None" not in first
    assert capsys.readouterr().out == first
