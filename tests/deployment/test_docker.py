"""Static checks of the deployment in docker/: no Docker engine needed.

The compose file is validated against the Compose Specification's JSON schema (vendored in
tests/support/compose_spec/) and cross-checked against what it runs: driftloop's Settings,
Airflow's configuration options, the lock, the Dockerfile. docker/secrets/make-secrets.sh and
docker/read-secret.sh run for real in temporary folders.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import shlex
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, get_args
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from driftloop_provider.preload import ENV as PRELOAD_ENV

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "airflow.Dockerfile"
DOCKERIGNORE = DOCKER / "airflow.Dockerfile.dockerignore"
ENV_EXAMPLE = DOCKER / ".env.example"
MAKE_SECRETS = DOCKER / "secrets" / "make-secrets.sh"
READ_SECRET = DOCKER / "read-secret.sh"
INIT_SQL = DOCKER / "postgres" / "create-databases.sql"
DEV_LOCK = REPO / "requirements.lock"
RUNTIME_LOCK = REPO / "requirements-runtime.lock"
UV_LOCK = REPO / "requirements-uv.lock"
SCHEMA = REPO / "tests" / "support" / "compose_spec" / "compose-spec.json"

AIRFLOW_HOME = "/opt/airflow"
SECRETS_DIR = "/run/secrets"

# How each long-running service is probed: every string must be in its health check.
PROBES = {
    "postgres": ("pg_isready", "-h 127.0.0.1"),
    "redis": ("redis-cli", "ping", "PONG"),
    "seaweedfs": ("http://127.0.0.1:8333/healthz",),
    "lakefs": ("http://127.0.0.1:8000/api/v1/healthcheck",),
    "airflow-apiserver": ("http://127.0.0.1:8080/api/v2/monitor/health",),
    "airflow-scheduler": ("airflow jobs check", "--job-type SchedulerJob", "--local"),
    "airflow-dag-processor": ("airflow jobs check", "--job-type DagProcessorJob", "--local"),
    "airflow-triggerer": ("airflow jobs check", "--job-type TriggererJob", "--local"),
    "airflow-worker": (
        "celery --app airflow.providers.celery.executors.celery_executor.app inspect ping",
        "celery@${HOSTNAME}",
    ),
    "airflow-flower": ("http://127.0.0.1:5555/healthcheck",),
    "bento": ("http://127.0.0.1:3000/readyz",),
    "dask-scheduler": ("http://127.0.0.1:8787/health",),
    "dask-worker": ("http://127.0.0.1:8788/health",),
}
AIRFLOW_COMMANDS = {
    ("api-server",): "airflow-apiserver",
    ("scheduler",): "airflow-scheduler",
    ("dag-processor",): "airflow-dag-processor",
    ("triggerer",): "airflow-triggerer",
    ("celery", "worker"): "airflow-worker",
    ("celery", "flower"): "airflow-flower",
}
# Options whose value is a secret: each component reads them through a *_CMD variant.
AIRFLOW_SECRET_OPTIONS = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
)
AIRFLOW_FIXED = {
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
}
# Read by driftloop/config.py from the process environment, outside the Settings fields.
DRIFTLOOP_PROCESS_VARIABLES = ("DRIFTLOOP_SECRETS_DIR", "DRIFTLOOP_CONFIG")
WORKER_ONLY = {PRELOAD_ENV}
"""Variables the Airflow plugin reads, set only where tasks are forked (not settings)."""
PUBLISHERS = {"airflow-apiserver", "lakefs", "bento", "airflow-flower"}
SECRET_NAME = re.compile(
    r"PASSWORD|SECRET|TOKEN|FERNET|_KEY\b|_KEY_|_CONN\b|BROKER_URL|RESULT_BACKEND|"
    r"CONNECTION_STRING|CREDENTIAL|REGISTRY_URL|BASIC_AUTH"
)
CREDENTIALS_IN_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")
# What the image runs beyond driftloop's own imports: the Celery executor on Redis (workers,
# Flower) and PostgreSQL URLs for Airflow and the registry.
IMAGE_NEEDS = (
    "apache-airflow",
    "apache-airflow-providers-celery",
    "apache-airflow-providers-postgres",
    "celery",
    "flower",
    "redis",
    "psycopg2-binary",
    "bentoml",
    "dask",
    "distributed",
    "s3fs",
)
IMAGE_EXTRAS = ("dask",)
"""Extras of the project the image installs (the runtime lock's ``--extra``)."""
IMAGE_REFERENCE = re.compile(
    r"(?P<name>[^@\s]+):(?P<tag>[^:@\s/]+)(?:@sha256:(?P<digest>[0-9a-f]{64}))?"
)
VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


# ---------------------------------------------------------------------------------------------
# Reading the files


def _interpolate(text: str) -> str:
    """Resolve compose variables to their defaults (every variable must have one)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        if match["bare"] or match["op"] not in (":-", "-"):
            raise AssertionError(f"compose variable without a default: {match.group(0)}")
        return match["arg"]

    return VARIABLE.sub(replace, text)


def _resolved(value: Any) -> Any:
    if isinstance(value, str):
        return _interpolate(value)
    if isinstance(value, list):
        return [_resolved(item) for item in value]
    if isinstance(value, dict):
        return {key: _resolved(item) for key, item in value.items()}
    return value


def _variables(text: str) -> dict[str, str]:
    """Compose variables used in ``text`` and their defaults."""
    return {m["name"]: m["arg"] for m in VARIABLE.finditer(text) if m["name"]}


@pytest.fixture(scope="module")
def raw_compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(raw_compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _resolved(raw_compose["services"])


def _env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def _mounted_secrets(service: dict[str, Any]) -> dict[str, str]:
    """Path in the container -> name of the top-level secret."""
    mounted = {}
    for entry in service.get("secrets", []):
        source = entry if isinstance(entry, str) else entry["source"]
        target = source if isinstance(entry, str) else entry.get("target", source)
        mounted[str(PurePosixPath(SECRETS_DIR) / target)] = source
    return mounted


def _words(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(word) for word in value]


def _probe(service: dict[str, Any]) -> str:
    test = service.get("healthcheck", {}).get("test", [])
    return " ".join(test[1:]) if isinstance(test, list) else test


def _text(service: dict[str, Any]) -> str:
    """Everything in a service that a process runs or reads as configuration."""
    parts = [
        *_words(service.get("entrypoint")),
        *_words(service.get("command")),
        _probe(service),
        *_env(service).values(),
    ]
    return "\n".join(parts)


def _one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") == "no"


def _driftloop_image(raw_compose: dict[str, Any]) -> str:
    return _interpolate(raw_compose["x-driftloop-image"]["image"])


def _airflow_services(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Services that run the driftloop image through Airflow's entrypoint."""
    image = _driftloop_image(raw_compose)
    return {
        name: service
        for name, service in services.items()
        if service.get("image") == image and "entrypoint" not in service
    }


def _published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host address, host port, container port) of each published port."""
    published = []
    for port in service.get("ports", []):
        host_ip, host_port, target = str(port).rsplit(":", 2)
        published.append((host_ip, int(host_port), int(target)))
    return published


def _named_mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> named volume."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *_ = str(volume).split(":")
        if not source.startswith((".", "/")):
            mounts[target] = source
    return mounts


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, arguments = stripped.partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


def _dockerfile_env() -> dict[str, str]:
    env = {}
    for keyword, arguments in _instructions():
        if keyword == "ENV":
            env.update(word.split("=", 1) for word in shlex.split(arguments))
    return env


def _base_image() -> str:
    """The last FROM's image, its ``${ARG}`` resolved to the ARG's default."""
    defaults = {}
    image = ""
    for keyword, arguments in _instructions():
        if keyword == "ARG" and "=" in arguments:
            name, _, value = arguments.partition("=")
            defaults[name] = value
        if keyword == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: defaults[m[1]], arguments.split()[0])
    return image


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _lock(path: Path) -> dict[str, tuple[str, int]]:
    """A lock's requirements: canonical name -> (version, number of hashes); every line is a
    pinned requirement or one of its hashes (no options, no editable or URL requirements)."""
    pinned: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip().removesuffix("\\").strip()
        if not text:
            continue
        if line[0].isspace():
            assert current and re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", text), (
                f"{path.name}: {line}"
            )
            version, hashes = pinned[current]
            pinned[current] = (version, hashes + 1)
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[\w,-]+\])?==(\S+)", text)
        assert match, f"{path.name}: {line!r} is not a pinned requirement"
        current = _canonical(match[1])
        pinned[current] = (match[2], 0)
    return pinned


def _dev_only() -> set[str]:
    """Packages the dev extra asks for by name, the extras it pulls in expanded, but for the
    extras the image installs too (``IMAGE_EXTRAS``)."""
    from packaging.requirements import Requirement

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = pyproject["optional-dependencies"]
    names, pending = set(), list(extras["dev"])
    while pending:
        requirement = Requirement(pending.pop())
        if requirement.name == pyproject["name"]:
            pending += [
                item
                for extra in requirement.extras
                if extra not in IMAGE_EXTRAS
                for item in extras[extra]
            ]
        else:
            names.add(_canonical(requirement.name))
    return names


def _copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY from the build context."""
    copies = []
    for keyword, arguments in _instructions():
        if keyword == "COPY" and "--from=" not in arguments:
            words = [word for word in arguments.split() if not word.startswith("--")]
            copies.append((words[:-1], words[-1]))
    return copies


def _settings_variables() -> tuple[set[str], set[str]]:
    """Environment names of driftloop's settings, and prefixes that take any suffix (dicts)."""
    from pydantic import BaseModel

    from driftloop.config import Settings

    names: set[str] = set()
    open_prefixes: set[str] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        for field_name, field in model.model_fields.items():
            name = f"{prefix}{field_name}".upper()
            names.add(name)
            for candidate in _types(field.annotation):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    walk(candidate, f"{name}__")
                elif candidate is dict:
                    open_prefixes.add(f"{name}__")

    walk(Settings, "DRIFTLOOP_")
    return names, open_prefixes


def _types(annotation: Any) -> Iterator[Any]:
    yield getattr(annotation, "__origin__", annotation)
    for argument in get_args(annotation):
        yield from _types(argument)


def _run_make_secrets(folder: Path) -> None:
    subprocess.run(["sh", str(MAKE_SECRETS), str(folder)], check=True, timeout=60)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated") / "secrets"
    _run_make_secrets(folder)
    return folder


def _init_sql() -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """From create-databases.sql: role -> file of its password, database -> owning role, and
    read-only role -> its database (registry-reader.sql run inside it, for that owner)."""
    sql = INIT_SQL.read_text(encoding="utf-8")
    variable_files = dict(re.findall(rf"\\set (\w+) `cat {SECRETS_DIR}/(\w+)`", sql))
    role_variables = dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD :'(\w+)'", sql))
    owners = dict(re.findall(r"CREATE DATABASE (\w+) OWNER (\w+);", sql))
    readers = {}
    for database, owner, reader in re.findall(
        r"\\connect (\w+)\n\\set owner (\w+)\n\\set reader (\w+)\n\\ir registry-reader\.sql", sql
    ):
        assert owners[database] == owner, f"{database} is not owned by {owner}"
        readers[reader] = database
    return {role: variable_files[var] for role, var in role_variables.items()}, owners, readers


# ---------------------------------------------------------------------------------------------
# The compose file as a whole


def test_compose_file_follows_the_compose_specification(raw_compose: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(raw_compose)
    ]
    assert errors == []


def test_images_are_pinned_to_exact_versions(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    references = {f"service {name}": service["image"] for name, service in services.items()}
    references["Dockerfile FROM"] = _base_image()
    for keyword, arguments in _instructions():
        if keyword == "COPY" and "--from=" in arguments:
            stage = re.search(r"--from=(\S+)", arguments)[1]
            if ":" in stage:
                references[f"Dockerfile COPY --from {stage}"] = stage
    for where, reference in references.items():
        match = IMAGE_REFERENCE.fullmatch(reference)
        assert match, f"{where}: {reference} has no tag (a digest may follow it: tag@sha256:...)"
        tag = match["tag"]
        assert re.match(r"v?\d+\.\d+", tag), f"{where}: {reference} is not an exact version"
        assert not re.search(r"latest|stable|edge|nightly", tag), f"{where}: {reference} floats"
    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert _driftloop_image(raw_compose).endswith(f":{version['version']}")


def test_dockerfile_builds_on_the_airflow_python_and_uv_of_the_project(
    raw_compose: dict[str, Any],
) -> None:
    base = _base_image()
    match = re.fullmatch(
        r"apache/airflow:(?P<airflow>[\d.]+)-python(?P<python>3\.\d+)(@sha256:[0-9a-f]{64})?", base
    )
    assert match, f"the image is not built on the official Airflow image: {base}"
    # compose passes the same base image unless docker/.env pins another (by digest)
    build_args = raw_compose["x-driftloop-image"]["build"]["args"]
    assert {name: _interpolate(value) for name, value in build_args.items()} == {
        "AIRFLOW_IMAGE": base
    }
    for lock in (DEV_LOCK, RUNTIME_LOCK):
        assert _lock(lock)["apache-airflow"][0] == match["airflow"], lock.name
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert f">={match['python']}" in pyproject["project"]["requires-python"]
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    uv_version = re.search(r"^UV_VERSION := (\S+)$", makefile, re.MULTILINE)[1]
    assert _lock(UV_LOCK) == {"uv": (uv_version, _lock(UV_LOCK)["uv"][1])}


def test_dockerfile_installs_the_lock_then_the_project_without_dependencies() -> None:
    steps = [f"{keyword} {args}" for keyword, args in _instructions()]
    copy_lock = next(
        i for i, s in enumerate(steps) if re.match(r"COPY .*requirements-runtime\.lock", s)
    )
    sync = next(i for i, s in enumerate(steps) if "uv pip sync" in s)
    install = next(i for i, s in enumerate(steps) if "uv pip install" in s)
    assert copy_lock < sync < install
    assert steps[sync].split()[-1] == "requirements-runtime.lock"
    assert "--compile-bytecode" in steps[sync]
    assert "--no-deps" in steps[install]
    assert "/opt/driftloop" in steps[install]
    assert any("compileall" in step for step in steps[install:])


def test_dockerfile_ships_the_project_folders() -> None:
    copied = {PurePosixPath(src).name for sources, _ in _copies() for src in sources}
    needed = {"dags", "plugins", "expectations", "bento", "driftloop", "operators"}
    assert needed <= copied
    assert {"requirements-runtime.lock", "requirements-uv.lock", "pyproject.toml"} <= copied
    env = _dockerfile_env()
    workdir = [args for keyword, args in _instructions() if keyword == "WORKDIR"][-1]
    assert env["DRIFTLOOP_PROJECT_DIR"] == workdir
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{workdir}/dags"
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == f"{workdir}/plugins"
    compiled = next(args for keyword, args in _instructions() if "compileall" in args)
    for folder in ("driftloop", "operators", "dags", "plugins", "bento"):
        assert folder in compiled.split()


def test_the_image_installs_only_hashed_locks_without_the_dev_extra() -> None:
    """Every install step in the Dockerfile takes a lock whose every requirement carries a
    hash, with --require-hashes; the lock holds no dev-extra package; the project itself is
    installed from the build context without dependencies or extras."""
    installs = [
        args
        for keyword, args in _instructions()
        if keyword == "RUN" and re.search(r"\bpip (install|sync)\b", args)
    ]
    assert len(installs) == 3, installs
    dev_only = _dev_only()
    assert {"pytest", "ruff", "schemathesis", "mlflow-skinny"} <= dev_only
    for step in installs:
        words = step.split()
        if "--editable" in words or "-e" in words:
            target = words[words.index("--editable" if "--editable" in words else "-e") + 1]
            assert "--no-deps" in words and "[" not in target, (
                f"installs more than driftloop: {step}"
            )
            continue
        assert "--require-hashes" in words, f"installs without checking hashes: {step}"
        lock = words[words.index("-r") + 1] if "-r" in words else words[-1]
        assert lock.endswith(".lock"), f"installs what no lock pins: {step}"
        pinned = _lock(REPO / lock)
        assert all(hashes for _, hashes in pinned.values()), (
            f"{lock} has requirements without hashes"
        )
        assert not dev_only & set(pinned), (
            f"{lock} brings in the dev extra: {dev_only & set(pinned)}"
        )
    runtime, dev = _lock(RUNTIME_LOCK), _lock(DEV_LOCK)
    # the image runs the versions the tests ran with, and what its services start
    assert {name: version for name, (version, _) in runtime.items()} == {
        name: dev[name][0] for name in runtime
    }
    assert set(IMAGE_NEEDS) <= set(runtime), set(IMAGE_NEEDS) - set(runtime)
    assert all(hashes for _, hashes in dev.values())


def test_make_writes_every_lock_with_hashes_and_installs_checking_them() -> None:
    makefile = re.sub(r"\\\n\s*", " ", (REPO / "Makefile").read_text(encoding="utf-8"))
    lock_recipe = re.search(r"^lock:\n((?:\t.*\n)+)", makefile, re.MULTILINE)[1]
    compiles = [line for line in lock_recipe.splitlines() if "uv pip compile" in line]
    outputs = {line.split(" -o ")[1].split()[0]: line for line in compiles}
    assert set(outputs) == {DEV_LOCK.name, RUNTIME_LOCK.name, UV_LOCK.name}
    for output, line in outputs.items():
        assert "--generate-hashes" in line, output
    assert "--extra dev" in outputs[DEV_LOCK.name]
    runtime_extras = re.findall(r"--extra (\S+)", outputs[RUNTIME_LOCK.name])
    assert runtime_extras == list(IMAGE_EXTRAS)
    assert f"-c {DEV_LOCK.name}" in outputs[RUNTIME_LOCK.name]
    install = re.search(r"^\$\(VENV\)/\.installed:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)[1]
    installs = [line for line in install.splitlines() if re.search(r"pip (install|sync)", line)]
    assert len(installs) == 3, installs
    for line in installs:
        if " -e " in line:
            assert "--no-deps" in line and "-e .[" not in line, line
        else:
            assert "--require-hashes" in line and ".lock" in line, line


def test_dockerfile_turns_telemetry_off_and_runs_as_airflow() -> None:
    import driftloop

    env = {key: value.lower() for key, value in _dockerfile_env().items()}
    assert env["GX_ANALYTICS_ENABLED"] == "false"
    assert env["BENTOML_DO_NOT_TRACK"] == "true"
    assert env["WHYLOGS_NO_ANALYTICS"] == "1"
    for name, value in driftloop._TELEMETRY_OFF.items():
        assert env.get(name) == value.lower(), f"{name} is not set as driftloop sets it"
    users = [args for keyword, args in _instructions() if keyword == "USER"]
    assert users[-1] == "airflow"


def test_build_context_holds_only_what_the_image_copies() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def regex(pattern: str) -> re.Pattern[str]:
        parts = re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/"))
        wildcards = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}
        return re.compile("".join(wildcards.get(part, re.escape(part)) for part in parts))

    def excluded(path: str) -> bool:
        prefixes = ["/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 2)]
        state = False
        for pattern in patterns:
            negated = pattern.startswith("!")
            if any(regex(pattern.lstrip("!")).fullmatch(prefix) for prefix in prefixes):
                state = not negated
        return state

    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        ".driftloop/registry.db",
        "docker/secrets/postgres_password",
        "docker/secrets/lakefs.yaml",
        "docker/.env",
        "tests/deployment/test_docker.py",
        "driftloop/__pycache__/config.cpython-311.pyc",
    ):
        assert excluded(path), f"{path} would be sent to the image build"
    for sources, _ in _copies():
        for source in sources:
            local = REPO / source
            files = [local] if local.is_file() else sorted(local.rglob("*.*"))
            file = next(f for f in files if "__pycache__" not in f.parts)
            assert not excluded(file.relative_to(REPO).as_posix()), f"{source} is ignored"


# ---------------------------------------------------------------------------------------------
# Services


def test_every_long_running_service_has_a_fitting_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    long_running = {name for name, service in services.items() if not _one_shot(service)}
    assert long_running == set(PROBES)
    for name, expected in PROBES.items():
        probe = _probe(services[name])
        assert not services[name]["healthcheck"].get("disable", False)
        for part in expected:
            assert part in probe, f"{name}'s health check does not run {part!r}: {probe}"


def test_probes_and_clients_use_the_ports_the_services_listen_on(
    services: dict[str, dict[str, Any]],
) -> None:
    def port(url: str) -> int:
        return urlsplit(url).port

    def probe_port(name: str) -> int:
        return port(re.search(r"http://\S+", _probe(services[name]))[0])

    airflow_env = _env(services["airflow-worker"])
    seaweed_flags = dict(
        w.split("=", 1) for w in _words(services["seaweedfs"]["command"]) if "=" in w
    )
    bento_command = _words(services["bento"]["command"])
    apiserver = probe_port("airflow-apiserver")
    assert apiserver == _published(services["airflow-apiserver"])[0][2]
    assert apiserver == port(airflow_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    lakefs = probe_port("lakefs")
    assert lakefs == _published(services["lakefs"])[0][2]
    assert lakefs == port(airflow_env["DRIFTLOOP_LAKEFS__ENDPOINT"])
    assert lakefs == port(_env(services["bento"])["DRIFTLOOP_LAKEFS__ENDPOINT"])
    seaweedfs = probe_port("seaweedfs")
    assert seaweedfs == int(seaweed_flags["-s3.port"])
    assert seaweedfs == port(_env(services["lakefs"])["LAKEFS_BLOCKSTORE_S3_ENDPOINT"])
    bento = probe_port("bento")
    assert bento == int(bento_command[bento_command.index("--port") + 1])
    assert bento == _published(services["bento"])[0][2]


def test_airflow_components_run_their_commands(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    from driftloop.launcher.cli import build_parser

    airflow = _airflow_services(raw_compose, services)
    commands = {tuple(_words(service.get("command"))): name for name, service in airflow.items()}
    for command, name in AIRFLOW_COMMANDS.items():
        assert commands.get(command) == name, f"no service runs `airflow {' '.join(command)}`"
    init = " ".join(_words(services["airflow-init"]["command"]))
    assert "airflow db migrate && driftloop registry upgrade" in init
    assert callable(build_parser().parse_args(["registry", "upgrade"]).func)


def test_airflow_components_share_one_configuration(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    airflow = _airflow_services(raw_compose, services)
    assert set(airflow) == set(AIRFLOW_COMMANDS.values()) | {"airflow-init"}

    def configuration(service: dict[str, Any]) -> dict[str, str]:
        return {
            key: value
            for key, value in _env(service).items()
            if key.startswith(("AIRFLOW__", "DRIFTLOOP_"))
            and not key.startswith("AIRFLOW__CELERY__FLOWER_")
            and key not in WORKER_ONLY
        }

    reference = configuration(services["airflow-scheduler"])
    for name, service in airflow.items():
        assert configuration(service) == reference, f"{name} is configured unlike the scheduler"
    for key, value in AIRFLOW_FIXED.items():
        assert reference[key] == value
    for option in AIRFLOW_SECRET_OPTIONS:
        assert option not in reference, f"{option} is given as a value"
        assert reference[f"{option}_CMD"].startswith("read-secret ")
    url = urlsplit(reference["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert url.hostname == AIRFLOW_COMMANDS[("api-server",)]
    assert url.path == "/execution/"
    assert _env(services["airflow-worker"])["DUMB_INIT_SETSID"] == "0"


def test_airflow_options_exist_and_honour_their_cmd_variants(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    import importlib

    from airflow.configuration import conf

    options = conf.configuration_description
    sensitive = conf.sensitive_config_values
    for name, service in _airflow_services(raw_compose, services).items():
        for key in _env(service):
            if not key.startswith("AIRFLOW__"):
                continue
            section, option = key.removeprefix("AIRFLOW__").lower().split("__", 1)
            base = option.removesuffix("_cmd")
            assert base in options.get(section, {}).get("options", {}), f"{name}: {key}"
            if option.endswith("_cmd"):
                assert (section, base) in sensitive, f"{name}: Airflow ignores {key}"
    auth_manager = _env(services["airflow-scheduler"])["AIRFLOW__CORE__AUTH_MANAGER"]
    module, _, cls = auth_manager.rpartition(".")
    assert hasattr(importlib.import_module(module), cls), f"the lock does not install {cls}"


def test_driftloop_settings_reach_workers_and_the_service(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    lakefs_port = _published(services["lakefs"])[0][2]
    needed = {
        f"{SECRETS_DIR}/{name}"
        for name in (
            "driftloop_registry_url",
            "driftloop_lakefs__access_key_id",
            "driftloop_lakefs__secret_access_key",
        )
    }
    for name in ("airflow-worker", "airflow-triggerer", "airflow-init", "bento"):
        env = _env(services[name])
        mounted = set(_mounted_secrets(services[name]))
        assert env["DRIFTLOOP_VERSIONING_BACKEND"] == "lakefs", name
        assert env["DRIFTLOOP_SECRETS_DIR"] == SECRETS_DIR, name
        assert env["DRIFTLOOP_LAKEFS__ENDPOINT"] == f"http://lakefs:{lakefs_port}", name
        assert needed <= mounted, f"{name} misses {needed - mounted}"
    bento_secrets = set(_mounted_secrets(services["bento"]).values())
    assert "driftloop_serving_token" in bento_secrets
    assert not [s for s in bento_secrets if s.startswith("airflow_")], "bento gets Airflow's"


def test_the_dask_cluster_runs_the_image_the_train_task_reaches(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    scheduler, worker = services["dask-scheduler"], services["dask-worker"]
    task_env = _env(services["airflow-worker"])
    address = urlsplit(task_env["DRIFTLOOP_DASK__SCHEDULER_ADDRESS"])
    assert task_env["DRIFTLOOP_TRAINING_ENGINE"] in ("local", "dask")
    assert (address.scheme, address.hostname) == ("tcp", "dask-scheduler")
    scheduler_command, worker_command = _words(scheduler["command"]), _words(worker["command"])
    assert scheduler_command[:2] == ["dask", "scheduler"]
    assert int(scheduler_command[scheduler_command.index("--port") + 1]) == address.port
    assert worker_command[:3] == ["dask", "worker", address.geturl()]
    for name, command in (("dask-scheduler", scheduler_command), ("dask-worker", worker_command)):
        service = services[name]
        # the driftloop image (driftloop and XGBoost on both), outside Airflow's entrypoint
        assert service["image"] == _driftloop_image(raw_compose), name
        assert service["entrypoint"] == ["/usr/bin/dumb-init", "--"], name
        assert service["profiles"] == ["dask"], name
        dashboard = command[command.index("--dashboard-address") + 1]
        assert urlsplit(re.search(r"http://\S+", _probe(service))[0]).port == int(
            dashboard.rsplit(":", 1)[1]
        ), f"{name}'s probe misses its HTTP port"
        assert not service.get("secrets"), f"{name} gets secrets it never reads"
    # one memory-limited worker process per container, scaled by replicas
    assert worker_command[worker_command.index("--nworkers") + 1] == "1"
    assert re.fullmatch(
        r"\d+(\.\d+)?[KMGT]i?B", worker_command[worker_command.index("--memory-limit") + 1]
    )
    assert worker["depends_on"]["dask-scheduler"]["condition"] == "service_healthy"


def test_only_the_celery_workers_preload_the_tasks_modules(
    services: dict[str, dict[str, Any]],
) -> None:
    preloading = {
        name for name, service in services.items() if _env(service).get(PRELOAD_ENV) == "1"
    }
    assert preloading == {"airflow-worker"}


def test_driftloop_variable_names_are_settings(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    names, open_prefixes = _settings_variables()
    config_source = (REPO / "driftloop" / "config" / "__init__.py").read_text(encoding="utf-8")
    for variable in DRIFTLOOP_PROCESS_VARIABLES:
        assert f'os.environ.get("{variable}"' in config_source, f"driftloop ignores {variable}"
    used = {key for service in services.values() for key in _env(service)}
    used |= set(_dockerfile_env())
    used |= set(_variables(ENV_EXAMPLE.read_text(encoding="utf-8")))
    used |= set(re.findall(r"^(\w+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.MULTILINE))
    used |= {
        path.rsplit("/", 1)[-1].upper() for s in services.values() for path in _mounted_secrets(s)
    }
    for variable in sorted(v for v in used - WORKER_ONLY if v.startswith("DRIFTLOOP_")):
        known = variable in names or variable in DRIFTLOOP_PROCESS_VARIABLES
        known = known or any(variable.startswith(prefix) for prefix in open_prefixes)
        assert known, f"{variable} is no driftloop setting"


# ---------------------------------------------------------------------------------------------
# Secrets


def test_every_secret_is_declared_from_a_file_and_used(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = raw_compose["secrets"]
    used = set()
    for name, service in services.items():
        mounted = _mounted_secrets(service)
        for source in mounted.values():
            assert source in declared, f"{name} mounts the undeclared secret {source}"
        used |= set(mounted.values())
        for path in re.findall(rf"{SECRETS_DIR}/[\w.-]+", _text(service)):
            assert path in mounted, f"{name} reads {path} without mounting it"
        for secret in re.findall(r"read-secret (\w+)", _text(service)):
            assert f"{SECRETS_DIR}/{secret}" in mounted, f"{name} reads {secret} unmounted"
    assert used == set(declared), f"declared but unused: {set(declared) - used}"
    for name, secret in declared.items():
        assert set(secret) == {"file"}, f"secret {name} is not file-based"
        assert secret["file"].startswith("./secrets/"), name


def test_no_secret_values_in_compose_dockerfile_or_env_example(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    for name, service in services.items():
        for key, value in _env(service).items():
            if SECRET_NAME.search(key):
                # A *_CMD that reads a mounted secret, or the path of a file.
                reference = key.endswith("_CMD") and value.startswith("read-secret ")
                reference |= value.startswith("/")
                assert reference, f"{name}: {key} holds a value instead of naming a secret"
    for path in (COMPOSE_FILE, DOCKERFILE, ENV_EXAMPLE):
        text = path.read_text(encoding="utf-8")
        assert not CREDENTIALS_IN_URL.search(text), f"{path.name} has a URL with credentials"
    for keyword, arguments in _instructions():
        if keyword in ("ENV", "ARG"):
            for word in shlex.split(arguments):
                assert not SECRET_NAME.search(word.split("=")[0]), f"Dockerfile {keyword} {word}"
    for variable in re.findall(r"^(\w+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M):
        assert not SECRET_NAME.search(variable), f".env.example holds {variable}"


def test_make_secrets_writes_every_declared_secret(
    raw_compose: dict[str, Any], generated: Path
) -> None:
    assert generated.stat().st_mode & 0o777 == 0o700
    for name, secret in raw_compose["secrets"].items():
        file = generated / PurePosixPath(secret["file"]).name
        assert file.is_file() and file.stat().st_size, f"{name}: {file.name} was not written"
        assert file.stat().st_mode & 0o777 == 0o644
        if "." not in file.name:
            assert not file.read_bytes().endswith(b"\n"), f"{file.name} ends with a newline"
    documented = (DOCKER / "secrets" / "README.md").read_text(encoding="utf-8")
    for file in generated.iterdir():
        assert f"`{file.name}`" in documented, f"docker/secrets/README.md misses {file.name}"


def test_generated_secrets_agree_with_each_other_and_the_databases(
    services: dict[str, dict[str, Any]], generated: Path
) -> None:
    from cryptography.fernet import Fernet

    def read(name: str) -> str:
        return (generated / name).read_text(encoding="utf-8")

    role_files, owners, readers = _init_sql()
    assert set(role_files.values()) <= set(_mounted_secrets(services["postgres"]).values())
    lakefs = yaml.safe_load(read("lakefs.yaml"))
    postgres_urls = {
        "airflow_db_url": ("postgresql+psycopg2", read("airflow_db_url")),
        "airflow_celery_result_backend": ("db+postgresql", read("airflow_celery_result_backend")),
        "driftloop_registry_url": ("postgresql+psycopg2", read("driftloop_registry_url")),
        "lakefs.yaml": ("postgres", lakefs["database"]["postgres"]["connection_string"]),
    }
    for name, (scheme, text) in postgres_urls.items():
        url = urlsplit(text)
        database = url.path.lstrip("/")
        assert url.scheme == scheme, name
        assert (url.hostname, url.port) == ("postgres", 5432), name
        assert owners[database] == url.username, f"{name}: {url.username} does not own {database}"
        assert url.password == read(role_files[url.username]), f"{name}: wrong password"
    serving = urlsplit(read("serving_registry_url"))
    registry = urlsplit(read("driftloop_registry_url"))
    assert (serving.scheme, serving.hostname, serving.port, serving.path) == (
        registry.scheme,
        registry.hostname,
        registry.port,
        registry.path,
    )
    assert readers[serving.username] == serving.path.lstrip("/"), "the service's role reads no db"
    assert serving.password == read(role_files[serving.username])
    broker = urlsplit(read("airflow_celery_broker_url"))
    assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379)
    assert broker.password == read("redis_password")
    assert f"\nrequirepass {read('redis_password')}\n" in read("redis.conf")
    identity = json.loads(read("seaweedfs_s3.json"))["identities"][0]["credentials"][0]
    blockstore = lakefs["blockstore"]["s3"]["credentials"]
    assert (blockstore["access_key_id"], blockstore["secret_access_key"]) == (
        identity["accessKey"],
        identity["secretKey"],
    )
    assert lakefs["auth"]["encrypt"]["secret_key"] == read("lakefs_encrypt_secret_key")
    Fernet(read("airflow_fernet_key"))
    assert len(base64.urlsafe_b64decode(read("airflow_fernet_key"))) == 32
    user, _, password = read("airflow_flower_basic_auth").partition(":")
    assert user and password == read("airflow_flower_password")


def test_generated_secrets_configure_the_service(
    raw_compose: dict[str, Any],
    services: dict[str, dict[str, Any]],
    generated: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from driftloop.config import Settings

    for key in [k for k in os.environ if k.startswith("DRIFTLOOP_")]:
        monkeypatch.delenv(key)
    for key, value in _env(services["bento"]).items():
        monkeypatch.setenv(key, value)
    # /run/secrets as compose lays it out in the bento container: each source under its target
    run_secrets = tmp_path / "run-secrets"
    run_secrets.mkdir()
    for path, source in _mounted_secrets(services["bento"]).items():
        file = PurePosixPath(raw_compose["secrets"][source]["file"]).name
        (run_secrets / PurePosixPath(path).name).write_bytes((generated / file).read_bytes())
    monkeypatch.setenv("DRIFTLOOP_SECRETS_DIR", str(run_secrets))
    settings = Settings()
    assert settings.versioning_backend == "lakefs"
    assert settings.registry_url == (generated / "serving_registry_url").read_text()
    key_id = (generated / "serving_lakefs__access_key_id").read_text()
    assert settings.lakefs.access_key_id == key_id
    secret = (generated / "serving_lakefs__secret_access_key").read_text()
    assert settings.lakefs.secret_access_key.get_secret_value() == secret
    token = (generated / "driftloop_serving_token").read_text()
    assert settings.serving_token.get_secret_value() == token
    bucket = _variables(COMPOSE_FILE.read_text(encoding="utf-8"))["S3_BUCKET"]
    assert settings.lakefs.storage_namespace == f"s3://{bucket}/{settings.repository}"


def test_the_service_gets_neither_admin_keys_nor_the_registry_owner(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]], generated: Path
) -> None:
    """bento mounts secrets of its own: none that Airflow's components or lakeFS's setup
    mount (the lakeFS admin keys, the registry owner's URL, Airflow's), and its registry URL
    names the read-only role. lakeFS Community has one user, so serving_lakefs__* start as a
    copy of the admin keys (docker/README.md): these are separate files an operator replaces
    with a policy-bound user's keys on lakeFS Enterprise, kept by make-secrets.sh."""
    bento = _mounted_secrets(services["bento"])
    privileged = set()
    for name in (*_airflow_services(raw_compose, services), "lakefs-setup"):
        privileged |= set(_mounted_secrets(services[name]).values())
    assert not privileged & set(bento.values()), privileged & set(bento.values())
    assert {"driftloop_registry_url", "driftloop_lakefs__access_key_id"} <= privileged

    registry_url = bento[f"{SECRETS_DIR}/driftloop_registry_url"]
    file = PurePosixPath(raw_compose["secrets"][registry_url]["file"]).name
    url = urlsplit((generated / file).read_text(encoding="utf-8"))
    _, owners, readers = _init_sql()
    database = url.path.lstrip("/")
    assert url.username != owners[database] and readers[url.username] == database
    for key in ("driftloop_lakefs__access_key_id", "driftloop_lakefs__secret_access_key"):
        source = bento[f"{SECRETS_DIR}/{key}"]
        assert source == key.replace("driftloop_", "serving_", 1), source
        documented = (DOCKER / "README.md").read_text(encoding="utf-8")
        assert f"`{source}`" in documented, f"docker/README.md does not say what {source} holds"


def test_the_documented_lakefs_policy_covers_what_the_service_touches() -> None:
    """The policy in docker/README.md names the repository, the monitoring branch and the
    object prefixes driftloop uses, and grants writes on the monitoring side only."""
    from driftloop.config import Settings
    from driftloop.monitoring.profiles import profile_path
    from driftloop.spec import load_spec
    from driftloop.training.steps import run_folder

    readme = (DOCKER / "README.md").read_text(encoding="utf-8")
    policy = json.loads(re.search(r"```json\n(.*?)```", readme, re.DOTALL)[1])
    grants = {
        (action, statement["resource"])
        for statement in policy["statement"]
        for action in statement["action"]
        if statement["effect"] == "allow"
    }
    settings = Settings()
    spec = load_spec(REPO / "expectations" / f"{settings.dataset}.yaml")
    repository = f"arn:lakefs:fs:::repository/{settings.repository}"
    models = run_folder(spec, "run").split("/")[0]
    monitoring = profile_path(spec.name, "serving", "key").split("/")[0]
    assert grants == {
        ("fs:ListObjects", repository),
        ("fs:ReadBranch", f"{repository}/branch/*"),
        ("fs:ReadObject", f"{repository}/object/{models}/*"),
        ("fs:ReadObject", f"{repository}/object/{monitoring}/*"),
        ("fs:WriteObject", f"{repository}/object/{monitoring}/*"),
        ("fs:CreateBranch", f"{repository}/branch/{settings.monitoring.branch}"),
        ("fs:CreateCommit", f"{repository}/branch/{settings.monitoring.branch}"),
    }
    for command in (
        "policies create --id DriftloopServing --statement-document",
        "users create --id driftloop-serving",
        "users policies attach --id driftloop-serving --policy DriftloopServing",
        "users credentials create --id driftloop-serving",
    ):
        assert f"lakectl auth {command}" in readme, command


def test_make_secrets_keeps_what_exists_and_draws_fresh_values(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _run_make_secrets(first)
    before = {file.name: file.read_bytes() for file in first.iterdir()}
    _run_make_secrets(first)
    assert {file.name: file.read_bytes() for file in first.iterdir()} == before
    (first / "airflow_db_url").write_text("stale")
    _run_make_secrets(first)
    assert (first / "airflow_db_url").read_bytes() == before["airflow_db_url"]
    _run_make_secrets(second)
    for name in ("postgres_password", "airflow_fernet_key", "driftloop_serving_token"):
        assert (second / name).read_bytes() != before[name], f"{name} is not random"


def test_read_secret_drops_trailing_newlines(tmp_path: Path) -> None:
    (tmp_path / "db_url").write_text("postgresql://u:p@h/db\n\n")
    env = {**os.environ, "DRIFTLOOP_SECRETS_DIR": str(tmp_path)}

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            ["sh", str(READ_SECRET), *args], check=False, env=env, capture_output=True
        )

    assert run("db_url").stdout == b"postgresql://u:p@h/db"
    assert run("missing").returncode != 0
    assert run("../db_url").returncode != 0
    assert run().returncode != 0


# ---------------------------------------------------------------------------------------------
# Ordering, state, exposure


def test_depends_on_waits_for_what_can_be_checked(services: dict[str, dict[str, Any]]) -> None:
    completed_by = set()
    for name, service in services.items():
        for target, condition in service.get("depends_on", {}).items():
            assert target in services, f"{name} depends on the unknown {target}"
            if condition["condition"] == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}: no check"
            elif condition["condition"] == "service_completed_successfully":
                assert _one_shot(services[target]), f"{name} waits for {target} to exit"
                completed_by.add(target)
            else:
                raise AssertionError(f"{name} starts after {target} without waiting for it")
    assert completed_by == {name for name, service in services.items() if _one_shot(service)}

    def ancestors(name: str, seen: tuple[str, ...] = ()) -> set[str]:
        assert name not in seen, f"dependency cycle: {' -> '.join((*seen, name))}"
        found = set(services[name].get("depends_on", {}))
        for target in list(found):
            found |= ancestors(target, (*seen, name))
        return found

    for name in AIRFLOW_COMMANDS.values():
        assert {"postgres", "redis", "airflow-init"} <= ancestors(name), name
    for name in ("airflow-worker", "airflow-triggerer", "bento"):
        assert {"lakefs", "airflow-init"} <= ancestors(name), name
    assert {"lakefs-setup", "seaweedfs-init", "postgres"} <= ancestors("lakefs")


def test_state_lives_in_named_volumes(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    used = {volume for s in services.values() for volume in _named_mounts(s).values()}
    assert used == set(raw_compose["volumes"])
    postgres_major = int(services["postgres"]["image"].split(":")[1].split(".")[0])
    pgdata = "/var/lib/postgresql/data" if postgres_major < 18 else "/var/lib/postgresql"
    assert pgdata in _named_mounts(services["postgres"])
    seaweed_dir = next(w for w in _words(services["seaweedfs"]["command"]) if w.startswith("-dir="))
    assert seaweed_dir.removeprefix("-dir=") in _named_mounts(services["seaweedfs"])
    for name in _airflow_services(raw_compose, services):
        assert f"{AIRFLOW_HOME}/logs" in _named_mounts(services[name]), name
    image_env = _dockerfile_env()
    worker = _named_mounts(services["airflow-worker"])
    # replicas share the landing zone only; DRIFTLOOP_HOME is each container's own scratch
    assert image_env["DRIFTLOOP_LANDING"] in worker
    assert image_env["DRIFTLOOP_HOME"] not in worker
    passwords = _env(services["airflow-apiserver"])[
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
    ]
    assert str(PurePosixPath(passwords).parent) in _named_mounts(services["airflow-apiserver"])
    image = _driftloop_image(raw_compose)
    made = " ".join(
        args for keyword, args in _instructions() if keyword == "RUN" and "mkdir" in args
    )
    for service in services.values():
        if service.get("image") == image:
            for target in _named_mounts(service):
                assert target == f"{AIRFLOW_HOME}/logs" or target in made.split(), target
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, target, *options = str(volume).split(":")
            if source.startswith((".", "/")):
                assert options == ["ro"], f"{name}: {source} is mounted writable"
                assert (DOCKER / source).is_file(), f"{name}: {source} does not exist"


def test_postgres_runs_the_database_script_once(services: dict[str, dict[str, Any]]) -> None:
    mounts = {}
    for volume in services["postgres"]["volumes"]:
        source, target, *_ = str(volume).split(":")
        mounts[target] = source
    init = [t for t in mounts if t.startswith("/docker-entrypoint-initdb.d/")]
    assert len(init) == 1 and init[0].endswith(".sh")
    script = (DOCKER / mounts[init[0]]).read_text(encoding="utf-8")
    sql_path = re.search(r"-f (\S+\.sql)", script)[1]
    assert (DOCKER / mounts[sql_path]).resolve() == INIT_SQL
    role_files, owners, readers = _init_sql()
    assert set(owners.values()) == {"airflow", "driftloop", "lakefs"}
    assert readers == {"driftloop_serving": "driftloop_registry"}
    assert set(role_files) == set(owners.values()) | set(readers)
    # what the SQL includes sits beside it in the container, from docker/postgres/
    for included in re.findall(r"^\\ir (\S+)$", INIT_SQL.read_text(encoding="utf-8"), re.M):
        target = str(PurePosixPath(sql_path).parent / included)
        assert (DOCKER / mounts[target]).resolve() == INIT_SQL.parent / included, included
    checked = set(re.search(r"for name in ([\w ]+); do", script)[1].split())
    assert checked == set(role_files.values()), "initdb.sh checks other secrets than the SQL reads"
    for secret in checked:
        assert f"{SECRETS_DIR}/{secret}" in _mounted_secrets(services["postgres"]), secret


def test_only_the_entry_points_are_published_on_loopback(
    services: dict[str, dict[str, Any]],
) -> None:
    publishing = {name for name, service in services.items() if service.get("ports")}
    assert publishing == PUBLISHERS
    for name in publishing:
        for host_ip, _, _ in _published(services[name]):
            assert host_ip == "127.0.0.1", f"{name} listens on {host_ip} by default"
    assert services["airflow-flower"]["profiles"] == ["flower"]
    for name, service in services.items():
        assert "container_name" not in service, f"{name} cannot be scaled or run twice"
        assert service.get("network_mode") != "host" and not service.get("privileged"), name


def test_env_example_documents_every_variable() -> None:
    compose_text = COMPOSE_FILE.read_text(encoding="utf-8")
    used = _variables(compose_text)
    for match in VARIABLE.finditer(compose_text):
        if match["name"]:
            assert match["arg"] == used[match["name"]], f"{match['name']} has two defaults"
    lines = re.findall(r"^(\w+)=(.*)$", ENV_EXAMPLE.read_text(encoding="utf-8"), re.MULTILINE)
    documented = dict(lines)
    assert len(lines) == len(documented), ".env.example sets a variable twice"
    assert set(documented) == set(used)
    for name, default in used.items():
        assert documented[name] == default, f"{name}: .env.example shows another default"


def test_bento_serves_the_source_service_outside_airflow(
    raw_compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    bento = services["bento"]
    assert bento["image"] == _driftloop_image(raw_compose)
    assert bento["entrypoint"] == ["/usr/bin/dumb-init", "--"]
    command = _words(bento["command"])
    assert command[:3] == ["bentoml", "serve", "bento.service:DriftloopService"]
    assert command[command.index("--working-dir") + 1] == _dockerfile_env()["DRIFTLOOP_PROJECT_DIR"]
    tree = ast.parse((REPO / "bento" / "service.py").read_text(encoding="utf-8"))
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    assert "DriftloopService" in classes
    assert not {k for k in _env(bento) if k.startswith("AIRFLOW__")}


def test_lakefs_keeps_metadata_in_postgres_and_objects_in_the_bucket(
    services: dict[str, dict[str, Any]],
) -> None:
    compose_text = COMPOSE_FILE.read_text(encoding="utf-8")
    bucket = _variables(compose_text)["S3_BUCKET"]
    for name in ("lakefs", "lakefs-setup"):
        env = _env(services[name])
        assert env["LAKEFS_DATABASE_TYPE"] == "postgres"
        assert env["LAKEFS_BLOCKSTORE_TYPE"] == "s3"
        assert env["LAKEFS_BLOCKSTORE_S3_FORCE_PATH_STYLE"] == "true"
        assert urlsplit(env["LAKEFS_BLOCKSTORE_S3_ENDPOINT"]).hostname == "seaweedfs"
        assert env["LAKEFS_STATS_ENABLED"] == "false"
        words = _words(services[name].get("command"))
        config = re.search(rf"--config ({SECRETS_DIR}/\S+)", " ".join(words))[1]
        assert _mounted_secrets(services[name])[config] == "lakefs_config"
    setup = " ".join(_words(services["lakefs-setup"]["command"]))
    assert "lakefs setup" in setup and "already complete" in setup
    bucket_script = " ".join(_words(services["seaweedfs-init"]["command"]))
    assert f"s3.bucket.create -name {bucket}" in bucket_script
    namespace = urlsplit(_env(services["airflow-worker"])["DRIFTLOOP_LAKEFS__STORAGE_NAMESPACE"])
    assert (namespace.scheme, namespace.hostname) == ("s3", bucket)


def test_runbook_names_every_service() -> None:
    runbook = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    for name in compose["services"]:
        assert f"`{name}`" in runbook, f"docs/deploy.md does not mention {name}"
