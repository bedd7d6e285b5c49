"""A file named at run time is read only in the landing zone and the configured ingest roots."""

from __future__ import annotations

import glob
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import driftloop.data.sources as sources
from driftloop.config import Settings
from driftloop.data.sources import Interval
from driftloop.data.synthetic import GeneratorConfig, generate_batches
from driftloop.exceptions import PathNotAllowed
from driftloop.ingest.steps import stage_batch
from driftloop.spec import load_spec
from driftloop.versioning.factory import open_store

DAY = datetime(2026, 4, 1, tzinfo=UTC)
FILE = "applications_2026-04-01.csv"


@pytest.fixture()
def settings(repo_dir: Path, tmp_path: Path) -> Settings:
    """A project whose landing zone holds one good day; ``outside/`` holds a copy of it."""
    settings = Settings(home=tmp_path / "home", project_dir=repo_dir)
    good = GeneratorConfig(seed=3, rows_per_batch=200)
    generate_batches(good, start=DAY.date(), days=1, out_dir=settings.landing_dir)
    generate_batches(good, start=DAY.date(), days=1, out_dir=tmp_path / "outside")
    return settings


@pytest.fixture()
def touched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every folder listed and file read by a file source, in order."""
    seen: list[str] = []

    def spy(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def call(path: object, *args: object, **kwargs: object) -> object:
            seen.append(f"{name} {path}")
            return real(path, *args, **kwargs)

        return call

    monkeypatch.setattr(sources.glob, "glob", spy("list", glob.glob))
    monkeypatch.setattr(sources, "read_file", spy("read", sources.read_file))
    return seen


def _stage(settings: Settings, path: str) -> str:
    store, spec = open_store(settings), load_spec(settings.dataset_spec_path)
    return stage_batch(store, spec, settings=settings, path=path).branch


def _refused(settings: Settings, path: str, touched: list[str]) -> PathNotAllowed:
    with pytest.raises(PathNotAllowed) as refused:
        _stage(settings, path)
    assert not [t for t in touched if t.startswith("read ")], touched
    message = str(refused.value)
    assert path in message
    assert str(settings.landing_dir.resolve()) in message and "DRIFTLOOP_INGEST_ROOTS" in message
    return refused.value


def test_a_file_outside_the_roots_is_refused(
    settings: Settings, tmp_path: Path, touched: list[str]
) -> None:
    _refused(settings, str(tmp_path / "outside" / FILE), touched)


def test_dot_dot_cannot_climb_out_of_the_landing_zone(
    settings: Settings, tmp_path: Path, touched: list[str]
) -> None:
    escape = f"{settings.landing_dir}/../../outside/{FILE}"
    assert Path(escape).resolve() == (tmp_path / "outside" / FILE).resolve()
    _refused(settings, escape, touched)
    _refused(settings, f"../../outside/{FILE}", touched)  # relative: from the landing zone


def test_a_symlink_pointing_out_is_refused(
    settings: Settings, tmp_path: Path, touched: list[str]
) -> None:
    (settings.landing_dir / "link.csv").symlink_to(tmp_path / "outside" / FILE)
    (settings.landing_dir / "linked").symlink_to(tmp_path / "outside")
    _refused(settings, str(settings.landing_dir / "link.csv"), touched)
    # a glob inside the landing zone is checked match by match: one link out refuses it all
    _refused(settings, str(settings.landing_dir / "*.csv"), touched)
    _refused(settings, str(settings.landing_dir / "**" / "*.csv"), touched)


def test_a_glob_of_the_whole_filesystem_is_refused_before_listing(
    settings: Settings, touched: list[str]
) -> None:
    _refused(settings, "/**/*.csv", touched)
    assert touched == []  # not a folder listed


def test_files_in_the_landing_zone_and_the_ingest_roots_are_read(
    settings: Settings, tmp_path: Path
) -> None:
    assert _stage(settings, FILE).startswith("ingest-credit_risk-file-")
    assert _stage(settings, str(settings.landing_dir / FILE)).startswith("ingest-credit_risk-")
    rooted = settings.model_copy(update={"ingest_roots": [tmp_path / "outside"]})
    assert _stage(rooted, str(tmp_path / "outside" / "*.csv")).startswith("ingest-credit_risk-")


def test_the_specs_own_source_is_not_confined(settings: Settings, tmp_path: Path) -> None:
    """The spec is the project owner's: its source path may be anywhere."""
    store, spec = open_store(settings), load_spec(settings.dataset_spec_path)
    outside = spec.model_copy(
        update={"source": spec.source.model_copy(update={"path": str(tmp_path / "outside/*.csv")})}
    )
    interval = Interval(start=DAY, end=DAY + timedelta(days=1))
    batch = stage_batch(store, outside, settings=settings, interval=interval)
    assert batch.rows == 200 and str(tmp_path / "outside") in batch.source


def test_ingest_roots_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRIFTLOOP_INGEST_ROOTS", f"{tmp_path / 'a'}:shared/in")
    settings = Settings(home=tmp_path / "home", project_dir=tmp_path)
    assert settings.ingest_root_dirs == [
        (tmp_path / "home" / "landing").resolve(),
        (tmp_path / "a").resolve(),
        (tmp_path / "shared" / "in").resolve(),
    ]
