"""A dataset's name must fit in the names of its ingest branches."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from driftloop.exceptions import SpecError
from driftloop.spec import load_spec


def _spec_named(repo_dir: Path, tmp_path: Path, name: str) -> Path:
    raw = yaml.safe_load((repo_dir / "expectations" / "credit_risk.yaml").read_text())
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw | {"name": name}))
    return path


@pytest.mark.parametrize("name", ["credit_risk", "loans-eu", "_x", "2026"])
def test_names_a_branch_can_hold_are_accepted(repo_dir: Path, tmp_path: Path, name: str) -> None:
    assert load_spec(_spec_named(repo_dir, tmp_path, name)).name == name


@pytest.mark.parametrize("name", ["a/b", "-lead", "two words", "crédit", "x\n", ""])
def test_other_names_are_refused_naming_the_field(
    repo_dir: Path, tmp_path: Path, name: str
) -> None:
    with pytest.raises(SpecError, match=r"name: .*letters, digits, '_' and '-'"):
        load_spec(_spec_named(repo_dir, tmp_path, name))
