"""docs/custom-operators.md, followed as written: every code block runs in a fresh project."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BLOCK = re.compile(r'```(\w+)(?: title="([^"]+)")?\n(.*?)```', re.DOTALL)


def _blocks(repo: Path) -> list[tuple[str, str | None, str]]:
    text = (repo / "docs" / "custom-operators.md").read_text(encoding="utf-8")
    return BLOCK.findall(text)


def test_the_shipped_example_is_the_tutorial(repo_dir: Path) -> None:
    shipped = [(title, code) for _, title, code in _blocks(repo_dir) if title.startswith("dags/")]
    assert len(shipped) == 2
    for title, code in shipped:
        assert (repo_dir / title).read_text(encoding="utf-8") == code, title


def test_the_tutorial_runs_from_a_fresh_project(repo_dir: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    commands = []
    for language, title, code in _blocks(repo_dir):
        if title:
            (project / title).parent.mkdir(parents=True, exist_ok=True)
            (project / title).write_text(code, encoding="utf-8")
        else:
            assert language == "bash"
            commands.append(code)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "OPENLINEAGE", "DRIFTLOOP_"))
    }
    env["DRIFTLOOP_PROJECT_DIR"] = str(repo_dir)  # the demo dataset's spec and suite
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"  # this virtualenv
    (command,) = commands
    result = subprocess.run(
        ["bash", "-c", command.strip() + " -p no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-5000:]
    assert "2 passed" in result.stdout
