"""The command line: demo data with corruption, and `init` on a sample."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from driftloop.launcher.cli import main
from tests.conftest import REPO


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
    out = capsys.readouterr().out
    assert "DRIFTLOOP_DATASET=loans" in out
    # what was learned, per column, with each rule's tier and why
    assert "learned from 500 rows" in out
    income = next(line for line in out.splitlines() if line.startswith("income "))
    assert "numeric" in income and "sign" in income and "range?" in income
    purpose = next(line for line in out.splitlines() if line.startswith("purpose "))
    assert "categorical" in purpose and "categories?" in purpose and "nulls>10%" in purpose
    assert "range?: the sample's range widened by 25%" in out
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


def test_relearn_shows_the_diff_and_writes_only_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import date

    from driftloop.config import get_settings
    from driftloop_provider.testing import publish_synthetic_days

    project = tmp_path / "project"
    shutil.copytree(REPO / "expectations", project / "expectations")
    monkeypatch.setenv("DRIFTLOOP_PROJECT_DIR", str(project))
    monkeypatch.setenv("DRIFTLOOP_HOME", str(tmp_path / "home"))
    publish_synthetic_days(get_settings(), start=date(2026, 3, 1), days=2, rows=300)
    suite_path = project / "expectations" / "credit_risk.json"
    before = suite_path.read_bytes()

    assert main(["contract", "relearn"]) == 0
    out = capsys.readouterr().out
    assert "re-learned from 600 rows published at main@" in out
    assert (
        '-      "generated_from_rows": 5000' in out and '+      "generated_from_rows": 600' in out
    )
    assert "run again with --write" in out
    assert suite_path.read_bytes() == before

    assert main(["contract", "relearn", "--write"]) == 0
    assert suite_path.read_bytes() != before
    assert "wrote" in capsys.readouterr().out
    assert main(["contract", "relearn"]) == 0
    assert "nothing to change" in capsys.readouterr().out


def test_store_verify_exits_0_on_a_clean_store_and_1_listing_a_damaged_blob(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import hashlib

    from driftloop.config import get_settings
    from driftloop.versioning.factory import open_store

    monkeypatch.setenv("DRIFTLOOP_HOME", str(tmp_path / "home"))
    settings = get_settings()
    store = open_store(settings)
    store.ensure_repository()
    store.write_object("main", "data/batch.parquet", b"published bytes")
    store.commit("main", "publish")

    assert main(["store", "verify"]) == 0
    assert "all intact" in capsys.readouterr().out

    digest = hashlib.sha256(b"published bytes").hexdigest()
    blob = settings.versioning_dir / settings.repository / "objects" / digest[:2] / digest
    blob.write_bytes(b"Published bytes")
    assert main(["store", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"{blob}: corrupt" in out and f"expected {digest}" in out
    assert "'data/batch.parquet' on 'main'" in out and "1 damaged" in out


def test_store_verify_refuses_a_lakefs_backend(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DRIFTLOOP_VERSIONING_BACKEND", "lakefs")
    monkeypatch.setenv("DRIFTLOOP_LAKEFS__ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("DRIFTLOOP_LAKEFS__ACCESS_KEY_ID", "key")
    monkeypatch.setenv("DRIFTLOOP_LAKEFS__SECRET_ACCESS_KEY", "secret")

    assert main(["store", "verify"]) == 2
    assert "checks the local store only" in capsys.readouterr().err
