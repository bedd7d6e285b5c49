"""The code version: git's commit read from its files, and the launcher's stamp."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from driftloop.launcher.airflow import stamped_code_version
from driftloop.lineage import code_version, git_head


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    _git(folder, "init", "-q", "-b", "main")
    (folder / "a.txt").write_text("one\n")
    _git(folder, "add", "a.txt")
    _git(folder, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "one")
    return folder


def test_head_is_read_from_loose_and_packed_refs(repo: Path) -> None:
    expected = _git(repo, "rev-parse", "HEAD")
    (repo / "sub").mkdir()
    assert git_head(repo / "sub") == expected
    _git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "main").exists()
    assert git_head(repo) == expected


def test_head_of_a_worktree_and_a_detached_head(repo: Path, tmp_path: Path) -> None:
    expected = _git(repo, "rev-parse", "HEAD")
    _git(repo, "worktree", "add", "-q", "-b", "other", str(tmp_path / "wt"))
    assert git_head(tmp_path / "wt") == expected
    _git(repo, "checkout", "-q", "--detach")
    assert git_head(repo) == expected


def test_outside_a_repository_there_is_no_head(tmp_path: Path) -> None:
    assert git_head(tmp_path) is None


def test_the_launchers_stamp_marks_changes_and_wins(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = _git(repo, "rev-parse", "--short=12", "HEAD")
    assert stamped_code_version(repo).endswith(f"git {sha}")
    (repo / "a.txt").write_text("two\n")
    stamp = stamped_code_version(repo)
    assert stamp.endswith(f"git {sha}+dirty")

    monkeypatch.setenv("DRIFTLOOP_CODE_VERSION", stamp)
    code_version.cache_clear()
    try:
        assert code_version(repo) == stamp
    finally:
        code_version.cache_clear()
