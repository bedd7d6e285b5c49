"""Several processes (as Airflow workers would be) writing to one registry at once."""

from __future__ import annotations

import itertools
import multiprocessing
import traceback
from collections.abc import Callable
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from sqlalchemy import create_engine, text

from driftloop.registry import AliasMove, Registry, VersionLineage

MODEL = "credit_risk"
# Fresh interpreters, like separate Airflow workers; the fork server pays the imports once.
_PROCESSES = multiprocessing.get_context("forkserver")
_PROCESSES.set_forkserver_preload([__name__])


def _move(url: str, versions: list[int]) -> list[AliasMove]:
    registry = Registry(url=url)
    try:
        return [
            registry.move_alias(MODEL, "champion", version, actor="worker", reason=f"to v{version}")
            for version in versions
        ]
    finally:
        registry.close()


def _register(url: str, runs: list[str], lineage: VersionLineage) -> list[int]:
    registry = Registry(url=url)
    try:
        return [
            registry.register_version(MODEL, run_key=run, lineage=lineage, created_by="w").version
            for run in runs
        ]
    finally:
        registry.close()


def _upgrade(url: str) -> str | None:
    registry = Registry(url=url)
    try:
        registry.upgrade()
        return registry.schema_revision()
    finally:
        registry.close()


def _worker(
    index: int, target: Callable[..., Any], args: tuple[Any, ...], barrier: Barrier, results: Queue
) -> None:
    barrier.wait()
    try:
        results.put((index, True, target(*args)))
    except BaseException:
        # A traceback string always pickles; report at once rather than let the parent time out.
        results.put((index, False, traceback.format_exc()))
        raise


def _run_all(target: Callable[..., Any], per_worker_args: list[tuple[Any, ...]]) -> list[Any]:
    """Start one process per argument tuple, release them together, return results in order."""
    barrier = _PROCESSES.Barrier(len(per_worker_args))
    results = _PROCESSES.Queue()
    workers = [
        _PROCESSES.Process(target=_worker, args=(index, target, args, barrier, results))
        for index, args in enumerate(per_worker_args)
    ]
    for worker in workers:
        worker.start()
    outputs: dict[int, Any] = {}
    try:
        for _ in workers:
            index, succeeded, output = results.get(timeout=120)
            assert succeeded, f"worker {index} failed:\n{output}"
            outputs[index] = output
    finally:
        for worker in workers:
            worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0] * len(workers)
    return [outputs[index] for index in range(len(workers))]


def _champion_rows(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.scalar(
            text("SELECT count(*) FROM registry_aliases WHERE alias = 'champion'")
        )
    engine.dispose()
    return count


def _assert_consistent_chain(moves: list[AliasMove]) -> None:
    assert moves[0].from_version is None
    for earlier, later in itertools.pairwise(moves):
        assert later.from_version == earlier.to_version
        assert later.from_version != later.to_version


def _registered(registry: Registry, lineage: VersionLineage, count: int) -> None:
    for i in range(count):
        registry.register_version(MODEL, run_key=f"run-{i}", lineage=lineage, created_by="t")


def test_two_concurrent_promotions_serialize(
    registry: Registry, db_url: str, lineage: VersionLineage
) -> None:
    _registered(registry, lineage, 3)
    registry.move_alias(MODEL, "champion", 1, actor="t", reason="first")

    _run_all(_move, [(db_url, [2]), (db_url, [3])])

    log = registry.audit_log(MODEL, "champion")
    assert len(log) == 3
    _assert_consistent_chain(log)
    assert {log[1].to_version, log[2].to_version} == {2, 3}
    assert registry.aliases(MODEL) == {"champion": log[2].to_version}
    assert _champion_rows(db_url) == 1


def test_many_concurrent_moves_keep_one_history(
    registry: Registry, db_url: str, lineage: VersionLineage
) -> None:
    _registered(registry, lineage, 4)
    plans = [[1, 2, 3, 4] * 5, [4, 3, 2, 1] * 5, [2, 4, 1, 3] * 5, [3, 1, 4, 2] * 5]

    outputs = _run_all(_move, [(db_url, plan) for plan in plans])

    changed = sum(move.changed for moves in outputs for move in moves)
    log = registry.audit_log(MODEL, "champion")
    assert len(log) == changed
    _assert_consistent_chain(log)
    assert registry.aliases(MODEL) == {"champion": log[-1].to_version}
    assert _champion_rows(db_url) == 1


def test_concurrent_registrations_number_versions_without_gaps(
    registry: Registry, db_url: str, lineage: VersionLineage
) -> None:
    runs = [[f"w{w}-r{i}" for i in range(6)] for w in range(4)]
    # Every worker also retries one of its neighbour's runs: it must get the same version.
    plans = [[*plan, runs[(w + 1) % 4][0]] for w, plan in enumerate(runs)]

    outputs = _run_all(_register, [(db_url, plan, lineage) for plan in plans])

    versions = registry.list_versions(MODEL)
    assert [v.version for v in versions] == list(range(1, 25))
    by_run = {v.run_key: v.version for v in versions}
    for plan, numbers in zip(plans, outputs, strict=True):
        assert numbers == [by_run[run] for run in plan]


def test_concurrent_first_upgrades_all_succeed(db_url: str, head_revision: str) -> None:
    revisions = _run_all(_upgrade, [(db_url,)] * 3)

    assert revisions == [head_revision] * 3
