"""The processes tasks fork from import the tasks' modules once, and only those processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from driftloop.launcher.stack import PRELOAD_ENV
from driftloop_provider import preload

CHECK = (
    "import json, sys; sys.path.insert(0, {plugins!r}); import driftloop_plugin; "
    "print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))"
)


def _loaded_after_plugin(repo_dir: Path, *, wanted: bool) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != preload.ENV}
    if wanted:
        env[preload.ENV] = "1"
    code = CHECK.format(plugins=str(repo_dir / "plugins"), modules=list(preload.MODULES))
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_launcher_and_the_plugin_name_the_same_variable() -> None:
    assert PRELOAD_ENV == preload.ENV


def test_the_plugin_preloads_only_where_asked(repo_dir: Path) -> None:
    assert _loaded_after_plugin(repo_dir, wanted=True) == sorted(preload.MODULES)
    assert "great_expectations" not in _loaded_after_plugin(repo_dir, wanted=False)
