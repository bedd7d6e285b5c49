"""The data contract and the closed loop on real public tables, with one rule for every table.

Each table of ``tests/support/corpus.py`` gets its own project and goes through what a user
does: ``driftloop init`` on a first slice, ``driftloop ingest`` of a later slice, ``driftloop
train``, ``driftloop ingest`` of a shifted copy (published with validation warnings),
``driftloop drift check``, and one run of ``driftloop_drift_monitor``, which must trigger
``driftloop_train`` with drift among its signals. These sessions are nearly all Airflow
processes, so two run side by side in the background while the corrupted copies go through
the core in this process: each must be quarantined with a reason naming its column,
``main`` untouched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
import yaml

from driftloop.config import Settings
from driftloop.launcher.airflow import airflow_command, airflow_env
from driftloop.launcher.loop import MONITOR, TRAIN
from tests.support import corpus, gx_reference
from tests.support.lakefs_standin import LakeFSStandIn
from tests.unit.versioning.conftest import lakefs_settings, unique_repository

pytestmark = pytest.mark.integration

LOOP_TEST = "test_the_loop_closes_on_real_data"
SESSIONS_AT_ONCE = 2
MONITOR_TIMEOUT_SECONDS = 300
SLACK = 0.25
"""The suite's default range slack: how far past a sample's range values stay unremarkable."""

# What makes each shape true of a table's sample.
SHAPE_HOLDS = {
    corpus.MISSING_VALUES: lambda f, e: bool(f[corpus.features(f, e)].isna().any().any()),
    corpus.TEXT_TARGET: lambda f, e: not pd.api.types.is_numeric_dtype(f[e.target]),
    corpus.RARE_POSITIVES: lambda f, e: f[e.target].value_counts(normalize=True).min() < 0.05,
    corpus.NUMERIC_ONLY: lambda f, e: not corpus.text_features(f, e),
    corpus.WIDE: lambda f, e: len(f.columns) >= 20,
    corpus.MOSTLY_CATEGORICAL: lambda f, e: (
        len(corpus.text_features(f, e)) > len(corpus.features(f, e)) / 2
    ),
}


def _ids(entry: corpus.Table) -> str:
    return entry.name


TABLES = pytest.mark.parametrize("entry", corpus.LOOP_TABLES, ids=_ids)


# --- a user's session, in the background ---------------------------------------------------


@dataclass
class Session:
    """What a user's commands printed, in order, up to the first that failed."""

    steps: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    retrain_conf: dict[str, Any] | None = None

    def step(self, name: str) -> subprocess.CompletedProcess[str]:
        """The named command's outcome; fails the test if it never ran."""
        if name not in self.steps:
            pytest.fail(f"{name!r} did not run: an earlier step failed ({list(self.steps)})")
        return self.steps[name]


def _new_project(repo_dir: Path, root: Path, entry: corpus.Table) -> Path:
    """A user's project: driftloop's DAGs and code, their own expectations and settings.

    ``dags`` and ``plugins`` link to this checkout; ``bento`` and ``driftloop`` are copied,
    because ``bentoml build`` (the train DAG's package step) takes only files inside the
    project. ``driftloop.yaml`` selects the dataset, and drops the promotion floor: every
    table gets a champion whatever its model scores (``benchmarks/corpus.py`` measures
    that; two tables score below the default floor at this sample size).
    """
    project = root / "project"
    project.mkdir()
    for name in ("dags", "plugins"):
        (project / name).symlink_to(repo_dir / name, target_is_directory=True)
    for name in ("bento", "driftloop"):
        shutil.copytree(
            repo_dir / name, project / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    config = {"dataset": entry.name, "promotion": {"absolute_floor": {}}}
    (project / "driftloop.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return project


def _settings(project: Path) -> Settings:
    return Settings(home=project / "home", project_dir=project)


def _cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "driftloop.launcher.cli", *args],
        env=airflow_env(_settings(project)),
        cwd=project,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def _triggered_train_conf(database_url: str) -> dict[str, Any] | None:
    """The conf of a ``driftloop_train`` run another DAG triggered, from Airflow's metadata."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            confs = connection.execute(
                sa.text("SELECT conf FROM dag_run WHERE dag_id = :dag_id"), {"dag_id": TRAIN}
            ).scalars()
            parsed = [json.loads(c) if isinstance(c, str | bytes) else c for c in confs]
    except sa.exc.OperationalError:  # the monitor holds SQLite's write lock: look again
        return None
    finally:
        engine.dispose()
    return next((c for c in parsed if c and "triggered_by" in c), None)


def _run_monitor_until_retrain(project: Path) -> dict[str, Any]:
    """Run ``driftloop_drift_monitor`` once; return the conf of the train run it triggers.

    ``airflow dags test`` runs no scheduler, so the triggered ``driftloop_train`` run stays
    queued and ``trigger_retrain`` (which waits for it to complete) would wait forever: the
    monitor is stopped once the run is in Airflow's metadata.
    """
    env = airflow_env(_settings(project))
    log = project / "monitor.log"
    with log.open("w") as out:
        monitor = subprocess.Popen(
            [airflow_command(), "dags", "test", MONITOR],
            env=env,
            cwd=project,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + MONITOR_TIMEOUT_SECONDS
        while (conf := _triggered_train_conf(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])) is None:
            if monitor.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(encoding="utf-8", errors="replace")[-4000:]
                raise AssertionError(f"the monitor triggered no {TRAIN} run:\n{tail}")
            time.sleep(1)
    finally:
        _stop(monitor)
    return conf


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End a process this test started in its own session, and its children."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _init_args(entry: corpus.Table, sample: Path) -> list[str]:
    """``driftloop init`` of a table's first slice, as a user types it."""
    return [
        "init",
        "--data",
        str(sample),
        "--target",
        entry.target,
        "--id",
        entry.id_column,
        "--name",
        entry.name,
    ]


def _run_session(entry: corpus.Table, project: Path) -> Session:
    """A user's commands on one table, stopping at the first that fails."""
    first, later, last = corpus.slices(corpus.load(entry))
    data = project / "data"
    first_csv = corpus.write_csv(first, data / "first.csv")
    later_csv = corpus.write_csv(later, data / "later.csv")
    shifted_csv = corpus.write_csv(corpus.shifted(last, first, entry), data / "shifted.csv")
    commands = {
        "init": _init_args(entry, first_csv),
        "ingest later": ["ingest", str(later_csv)],
        "train": ["train", "--reason", "first model of real data"],
        "ingest shifted": ["ingest", str(shifted_csv)],
        "drift check": ["drift", "check"],
    }
    session = Session()
    for name, args in commands.items():
        session.steps[name] = _cli(project, *args)
        if session.steps[name].returncode != 0:
            return session
    session.retrain_conf = _run_monitor_until_retrain(project)
    return session


@pytest.fixture(scope="module", autouse=True)
def sessions(
    request: pytest.FixtureRequest, repo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[Session]]]:
    """Start the session of every table whose loop test was collected, two at a time."""
    wanted = [
        item.callspec.params["entry"]
        for item in request.session.items
        if item.path == request.path and getattr(item, "originalname", "") == LOOP_TEST
    ]
    with ThreadPoolExecutor(max_workers=SESSIONS_AT_ONCE) as pool:
        futures = {
            entry.name: pool.submit(
                _run_session,
                entry,
                _new_project(repo_dir, tmp_path_factory.mktemp(entry.name), entry),
            )
            for entry in wanted
        }
        yield futures
        for future in futures.values():
            future.cancel()


# --- the corpus itself and the helpers' promises (no Airflow) ------------------------------


def test_the_corpus_covers_every_shape_with_real_tables() -> None:
    assert len(corpus.LOOP_TABLES) >= 6
    assert len({entry.name for entry in corpus.TABLES}) == len(corpus.TABLES)
    for entry in corpus.TABLES:
        frame = corpus.load(entry)
        assert frame[entry.id_column].is_unique, entry.name
        assert frame[entry.target].nunique() == 2, entry.name
        wrong = [shape for shape in entry.shapes if not SHAPE_HOLDS[shape](frame, entry)]
        assert not wrong, f"{entry.name} does not have {wrong}"
    covered = set().union(*(entry.shapes for entry in corpus.LOOP_TABLES))
    assert covered == set(corpus.SHAPES)


@TABLES
def test_the_shifted_copy_changes_but_keeps_the_contract(entry: corpus.Table) -> None:
    first, _, last = corpus.slices(corpus.load(entry))
    changed = corpus.shifted(last, first, entry)
    spec = corpus.learned_spec(first, entry)
    numeric = [f.name for f in spec.features if f.kind == "numeric" and f.dtype != "bool"]

    assert list(changed.columns) == list(last.columns)
    assert changed.dtypes.equals(last.dtypes)
    assert changed.isna().equals(last.isna())
    for column in corpus.text_features(first, entry):
        assert set(changed[column].dropna()) <= set(last[column].dropna()), column
    for column in numeric:
        if first[column].min() >= 0:
            assert changed[column].min() >= 0, column
        high, width = first[column].max(), first[column].max() - first[column].min()
        beyond = float((changed[column] > high + SLACK * width).mean())
        if first[column].nunique() > 2:
            assert 0.01 < beyond <= 0.10, f"{column}: {beyond:.1%} beyond the learned range"
    assert not changed.equals(last)


# --- broken data is quarantined, on both stores (through the core) -------------------------


@pytest.fixture(scope="module")
def lakefs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LakeFSStandIn]:
    with LakeFSStandIn(data_dir=tmp_path_factory.mktemp("lakefs")) as standin:
        yield standin


def _init_in_process(settings: Settings, sample: Path, entry: corpus.Table) -> None:
    """``driftloop init`` through its own argument parser, with explicit settings."""
    from driftloop.launcher.cli import build_parser

    args = build_parser().parse_args(_init_args(entry, sample))
    assert args.func(args, settings) == 0


@TABLES
def test_corrupted_batches_are_quarantined_naming_the_column(
    entry: corpus.Table, lakefs: LakeFSStandIn, tmp_path: Path
) -> None:
    from driftloop.data.sources import read_parquet_bytes
    from driftloop.ingest.quarantine import read_quarantine_note
    from driftloop.ingest.steps import stage_batch, validate_batch
    from driftloop.spec import load_spec
    from driftloop.versioning.factory import open_store

    first, later, _ = corpus.slices(corpus.load(entry))
    repository = unique_repository()
    standin = lakefs_settings(
        tmp_path / "lakefs-home",
        endpoint=lakefs.endpoint,
        key=lakefs.access_key_id,
        secret=lakefs.secret_access_key,
        repository=repository,
        namespace=f"local://standin/{repository}",
    )
    backends = [
        Settings(home=tmp_path / "local-home", project_dir=tmp_path, dataset=entry.name),
        standin.model_copy(update={"project_dir": tmp_path, "dataset": entry.name}),
    ]
    _init_in_process(backends[0], corpus.write_csv(first, tmp_path / "first.csv"), entry)
    spec = load_spec(backends[0].dataset_spec_path)
    stores = [open_store(settings) for settings in backends]
    for store in stores:
        store.ensure_repository("main")

    # Each copy goes to one store, the other one for the next table: every corruption and
    # every table meets both stores, for half the validations.
    offset = corpus.LOOP_TABLES.index(entry)
    problems = []
    for number, (name, corrupt) in enumerate(corpus.CORRUPTIONS.items()):
        settings, store = backends[(number + offset) % 2], stores[(number + offset) % 2]
        broken = corrupt(later, entry)
        path = corpus.write_csv(broken.frame, settings.landing_dir / f"corrupt-{number}.csv")
        main = store.resolve("main")
        batch = stage_batch(store, spec, settings=settings, path=str(path), run_id="corpus")
        report = validate_batch(store, spec, batch, settings=settings)
        where = f"{name} ({settings.versioning_backend})"
        reference = gx_reference.plain_gx(
            read_parquet_bytes(store.read_object(batch.commit_id, batch.path), label=name),
            settings.suite_path,
        )
        ours = json.loads(report.result_path.read_text(encoding="utf-8"))
        if gx_reference.outcomes(ours) != gx_reference.outcomes(reference):
            problems.append(f"{where}: the verdicts differ from one plain GX validation's")
        if report.success:
            problems.append(f"{where}: published: {report.describe(batch.source)}")
            continue
        message = str(read_quarantine_note(store, spec.name, batch.key)["message"])
        if repr(broken.column) not in message:
            problems.append(f"{where}: the reason does not name {broken.column!r}: {message}")
        if store.resolve("main") != main:
            problems.append(f"{where}: main moved")
    assert not problems, "\n".join(problems)


# --- the user's loop, collected from the background sessions -------------------------------


@TABLES
@pytest.mark.timeout(1800)  # it waits for its session, which ran since the module started
def test_the_loop_closes_on_real_data(
    entry: corpus.Table, sessions: dict[str, Future[Session]]
) -> None:
    session = sessions[entry.name].result()

    def ok(name: str) -> str:
        done = session.step(name)
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"{name} exited {done.returncode}:\n{output[-4000:]}"
        return output

    ok("init")
    assert "published" in ok("ingest later")
    assert "promoted to champion" in ok("train")
    shifted = ok("ingest shifted")
    assert "published" in shifted
    assert "validation warning" in shifted
    assert re.search(r"^drift: ", ok("drift check"), re.MULTILINE)

    conf = session.retrain_conf
    assert conf is not None
    # The shifted copy moves the inputs, and on most tables the champion's quality with them:
    # the quality signal may fire too (and is then named first).
    assert "drift" in conf["signals"], conf
    assert conf["reason"].startswith(("drift", "quality")), conf
    assert conf["drifted_features"], conf
    assert conf["triggered_by"].startswith(f"{MONITOR}/"), conf
