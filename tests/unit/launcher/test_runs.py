"""``driftloop ingest FILE`` hands a file to the ingest DAG through the landing zone."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.exceptions import DataSourceError
from driftloop.launcher.runs import land_file


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", project_dir=tmp_path / "project")


def test_a_file_from_anywhere_is_copied_into_the_datasets_landing_folder(
    settings: Settings, tmp_path: Path
) -> None:
    mine = tmp_path / "downloads" / "batch.csv"
    mine.parent.mkdir()
    mine.write_text("a,b\n1,2\n")

    landed = land_file(settings, "alpha", mine)

    assert landed.parent.parent == settings.landing_dir / "alpha"
    assert landed.name == "batch.csv" and landed.read_bytes() == mine.read_bytes()
    assert land_file(settings, "alpha", mine) == landed  # the same file lands once
    mine.write_text("a,b\n3,4\n")  # another file of the same name gets its own folder
    changed = land_file(settings, "alpha", mine)
    assert changed != landed and landed.read_text() == "a,b\n1,2\n"
    assert [p.name for p in (settings.landing_dir / "alpha").rglob("*")].count("batch.csv") == 2


def test_a_file_the_dag_may_read_already_is_passed_as_it_is(
    settings: Settings, tmp_path: Path
) -> None:
    landing = settings.landing_dir / "applications_2026-01-01.csv"
    landing.parent.mkdir(parents=True)
    landing.write_text("a\n1\n")
    shared = tmp_path / "shared" / "x.csv"
    shared.parent.mkdir()
    shared.write_text("a\n1\n")
    rooted = settings.model_copy(update={"ingest_roots": [tmp_path / "shared"]})

    assert land_file(settings, "alpha", landing) == landing.resolve()
    assert land_file(rooted, "alpha", shared) == shared.resolve()
    assert not (settings.landing_dir / "alpha").exists()


def test_a_missing_file_is_named(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match=r"nope\.csv"):
        land_file(settings, "alpha", tmp_path / "nope.csv")
