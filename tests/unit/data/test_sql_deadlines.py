"""SQL sources give up at their deadlines: a connect that hangs, a read stuck behind a lock."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from driftloop.data.sources import SqlSource, open_source
from driftloop.exceptions import SourceUnavailable
from driftloop.spec import SourceSpec
from tests.support.postgres import temporary_database


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_a_server_that_never_answers_fails_the_connect_at_its_deadline(silent_port: int) -> None:
    source = SqlSource(
        f"postgresql+psycopg2://etl:hunter22@127.0.0.1:{silent_port}/loans",
        table="loans",
        connect_timeout_seconds=2,
    )

    with pytest.raises(SourceUnavailable) as caught:
        source.read()

    message = str(caught.value)
    assert message.startswith(f"cannot connect to {source.describe()} (deadline 2 s, ")
    assert "source.connect_timeout_seconds" in message and "timeout expired" in message
    assert "hunter22" not in message


@pytest.mark.postgres
def test_a_read_stuck_behind_a_lock_fails_at_the_query_deadline() -> None:
    with temporary_database("deadlines") as url:
        engine = sa.create_engine(url)
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE loans (id int, at timestamptz)")
            connection.exec_driver_sql("INSERT INTO loans VALUES (1, now())")
        source = SqlSource(
            url.render_as_string(hide_password=False), table="loans", query_timeout_seconds=0.5
        )
        try:
            with engine.connect() as locker:
                locker.exec_driver_sql("BEGIN")
                locker.exec_driver_sql("LOCK TABLE loans IN ACCESS EXCLUSIVE MODE")
                with pytest.raises(SourceUnavailable) as caught:
                    source.read()
                locker.exec_driver_sql("ROLLBACK")
            assert source.read()["id"].tolist() == [1]
        finally:
            engine.dispose()

    message = str(caught.value)
    assert message.startswith(f"cannot read {source.describe()}: no result within 0.5 s ")
    assert "(source.query_timeout_seconds)" in message and "statement timeout" in message


def test_a_sqlite_read_stuck_behind_a_lock_fails_at_the_query_deadline(tmp_path: Path) -> None:
    path = tmp_path / "source.db"
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("CREATE TABLE loans (id int)")
    locker.execute("BEGIN EXCLUSIVE")
    source = SqlSource(f"sqlite:///{path}", table="loans", query_timeout_seconds=0.2)
    try:
        with pytest.raises(
            SourceUnavailable, match=r"no result within 0\.2 s .*database is locked"
        ):
            source.read()
    finally:
        locker.close()


def test_the_spec_sets_the_deadlines_of_sql_sources_only() -> None:
    spec = SourceSpec(
        kind="sql", url="sqlite://", table="t", connect_timeout_seconds=3, query_timeout_seconds=45
    )
    source = open_source(spec, event_time_column=None)
    assert isinstance(source, SqlSource)
    assert (source.connect_timeout_seconds, source.query_timeout_seconds) == (3, 45)

    with pytest.raises(
        ValueError, match=r"source\.query_timeout_seconds applies to kind 'sql' only"
    ):
        SourceSpec(kind="file", path="x.csv", query_timeout_seconds=45)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql+pymysql://u:p@h/d", {"connect_timeout": 3, "read_timeout": 45}),
        ("mariadb+mysqldb://u:p@h/d", {"connect_timeout": 3, "read_timeout": 45}),
        # A deadline the URL sets itself wins; libpq waits at least 2 s.
        ("mysql+pymysql://u:p@h/d?read_timeout=5", {"connect_timeout": 3}),
        ("postgresql+psycopg://u:p@h/d", {"connect_timeout": 3}),
        ("oracle+oracledb://u:p@h/d", {}),
    ],
)
def test_driver_deadlines_for_databases_not_run_here(url: str, expected: dict[str, int]) -> None:
    source = SqlSource(url, table="t", connect_timeout_seconds=2.5, query_timeout_seconds=44.2)
    assert source._deadline_args() == expected
