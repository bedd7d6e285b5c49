"""The core stays Airflow-free and BentoML-free: it neither imports, starts nor names them.

The core is every module of ``driftloop`` but the launcher (``driftloop.launcher``), the one
place that starts Airflow and BentoML processes.
"""

from __future__ import annotations

import ast
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import driftloop

PACKAGE_DIR = Path(driftloop.__file__).parent
LAUNCHER = "driftloop.launcher"
FOREIGN = ("airflow", "bentoml")
# The service and the provider sit above the core: it imports neither.
UPPER = ("bento", "driftloop_provider")
# Imports that would let the core start processes: only the launcher may.
PROCESS_MODULES = ("subprocess", "multiprocessing")
NAMED = [
    (re.compile(r"^(airflow|bentoml)$"), "a command of Airflow or BentoML"),
    (
        re.compile(r"^(airflow|bentoml|bento|driftloop_provider)\.\w"),
        "a module of Airflow, BentoML, the service or the provider",
    ),
    (re.compile(r"\bdriftloop_(ingest|train|drift_monitor)\b"), "a DAG id"),
]


def core_modules() -> list[str]:
    """Every module of the core, found on disk, so a new module is checked without listing."""
    names = ["driftloop"]
    for info in pkgutil.walk_packages([str(PACKAGE_DIR)], prefix="driftloop."):
        if info.name == LAUNCHER or info.name.startswith(LAUNCHER + "."):
            continue
        if ".migrations" in info.name:
            continue
        names.append(info.name)
    return names


def core_files() -> list[Path]:
    launcher = PACKAGE_DIR / "launcher"
    return [
        path
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
        if launcher not in path.parents and "migrations" not in path.parts
    ]


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                ids.add(id(body[0].value))
    return ids


def test_the_core_is_found_and_the_launcher_left_out() -> None:
    modules = core_modules()
    assert {"driftloop.config", "driftloop.serving.scoring", "driftloop.training.steps"} <= set(
        modules
    )
    assert not [m for m in modules if m.startswith(LAUNCHER)]


def test_core_imports_neither_airflow_nor_bentoml() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in core_modules())
        + f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {set(FOREIGN)!r})\n"
        + "print(bad)\nsys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def offences(path: Path) -> list[str]:
    """What one module does that the core may not: imports, commands, modules, DAG ids."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                if name.split(".")[0] in (*FOREIGN, *PROCESS_MODULES, *UPPER):
                    found.append(f"{path.name}:{node.lineno} imports {name}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docstrings:
                continue
            for pattern, what in NAMED:
                if pattern.search(node.value):
                    found.append(f"{path.name}:{node.lineno} names {what}: {node.value!r}")
    return found


def test_core_neither_starts_nor_names_airflow_or_bentoml() -> None:
    found = [offence for path in core_files() for offence in offences(path)]
    assert not found, "\n".join(found)


def test_the_static_check_catches_each_kind_of_offence(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import subprocess\n"
        "from bentoml import Service\n"
        "from driftloop_provider.ingest import StageBatchOperator\n"
        'SERVICE = "bento.service:DriftloopService"\n'
        'subprocess.run(["airflow", "dags", "trigger", "driftloop_train"])\n'
    )
    found = "\n".join(offences(bad))
    for expected in (
        "imports subprocess",
        "imports bentoml",
        "imports driftloop_provider.ingest",
        "a module of Airflow, BentoML, the service or the provider",
        "a command of Airflow or BentoML",
        "a DAG id",
    ):
        assert expected in found


# What each package of the core may import at run time (type-only imports aside): the map of
# docs/architecture.md. The launcher may import all of them; nothing imports the launcher.
BASE = {"exceptions", "driftloop"}
ALLOWED = {
    "lineage": set(),
    "sqlite": set(),
    "config": set(),
    "spec": set(),
    "versioning": {"sqlite", "config"},
    "registry": {"sqlite", "config"},
    "data": {"spec", "versioning"},
    "validation": {"spec", "data"},
    "ingest": {"config", "data", "lineage", "spec", "validation", "versioning"},
    "monitoring": {"config", "data", "registry", "spec", "versioning"},
    "promotion": {"config"},
    "training": {
        *("config", "data", "lineage", "monitoring", "promotion"),
        *("registry", "spec", "versioning"),
    },
    "serving": {"config", "monitoring", "registry", "spec", "training", "versioning"},
    "overview": {"data", "ingest", "monitoring", "registry", "versioning"},
}


def _package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "driftloop":
        return None
    return parts[1] if len(parts) > 1 else "driftloop"


def _runtime_imports(tree: ast.AST) -> list[tuple[int, str]]:
    type_only = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            type_only |= {id(inner) for inner in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def test_each_package_imports_only_what_the_map_allows() -> None:
    wrong = []
    for path in core_files():
        relative = path.relative_to(PACKAGE_DIR.parent).with_suffix("")
        own = _package(".".join(relative.parts))
        if own in (None, "driftloop", "exceptions"):
            continue
        for line, module in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
            other = _package(module)
            if other in (None, own) or other in BASE or other in ALLOWED[own]:
                continue
            wrong.append(f"{relative}:{line} imports {module} ({own} may not import {other})")
    assert not wrong, "\n".join(wrong)


def test_the_map_has_no_cycle() -> None:
    done: set[str] = set()

    def visit(package: str, path: tuple[str, ...]) -> None:
        assert package not in path, f"cycle: {' -> '.join((*path, package))}"
        if package in done:
            return
        for other in ALLOWED.get(package, ()):
            visit(other, (*path, package))
        done.add(package)

    for package in ALLOWED:
        visit(package, ())


def test_telemetry_is_off_once_driftloop_is_imported() -> None:
    code = (
        "import os, driftloop\n"
        "print(os.environ['GX_ANALYTICS_ENABLED'], os.environ['BENTOML_DO_NOT_TRACK'],"
        " os.environ['WHYLOGS_NO_ANALYTICS'])"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"GX_ANALYTICS_ENABLED", "BENTOML_DO_NOT_TRACK", "WHYLOGS_NO_ANALYTICS"}
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.stdout.split() == ["false", "True", "1"]
