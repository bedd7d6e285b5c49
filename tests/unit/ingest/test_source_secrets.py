"""A password with URL delimiters, put in a SQL source's URL from the environment, never shows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from driftloop.config import Settings
from driftloop.data.sources import Interval, open_source
from driftloop.data.synthetic import GeneratorConfig, generate_batches
from driftloop.exceptions import DataSourceError
from driftloop.ingest.steps import resolve_source, source_secrets, stage_batch
from driftloop.spec import DatasetSpec, SourceSpec, load_spec
from driftloop.versioning.factory import open_store
from tests.support.postgres import temporary_database, temporary_role

pytestmark = pytest.mark.postgres

PASSWORD = "p@ss/w:rd"
# The password as given, as written in the URL, and the tail an unencoded '@' used to leak.
FORMS = (PASSWORD, "p%40ss%2Fw%3Ard", "ss/w:rd")
DAY = Interval(start=datetime(2026, 4, 1, tzinfo=UTC), end=datetime(2026, 4, 2, tzinfo=UTC))


@dataclass
class Warehouse:
    role: str
    database: str

    def url(self, table: str = "applications") -> SourceSpec:
        return SourceSpec(
            kind="sql",
            url=f"postgresql+psycopg2://{self.role}:${{PGPASS}}@127.0.0.1:5432/{self.database}",
            table=table,
        )


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Warehouse]:
    """A database holding one day of applications, readable by a role whose password is $PGPASS."""
    generate_batches(
        GeneratorConfig(seed=3, rows_per_batch=300),
        start=DAY.start.date(),
        days=1,
        out_dir=tmp_path / "csv",
    )
    frame = pd.concat(pd.read_csv(path) for path in sorted((tmp_path / "csv").glob("*.csv")))
    frame["applied_at"] = pd.to_datetime(frame["applied_at"], utc=True)
    monkeypatch.setenv("PGPASS", PASSWORD)
    with temporary_role("driftloop_etl", PASSWORD) as role, temporary_database("secrets") as url:
        engine = sa.create_engine(url)
        frame.to_sql("applications", engine, index=False)
        with engine.begin() as connection:
            connection.exec_driver_sql(f'GRANT SELECT ON applications TO "{role}"')
        engine.dispose()
        yield Warehouse(role=role, database=str(url.database))


def _shows_no_password(*texts: str) -> None:
    for text in texts:
        for form in FORMS:
            assert form not in text, f"{form!r} shows in {text!r}"


def test_the_password_reaches_the_database_and_nothing_else(
    warehouse: Warehouse, repo_dir: Path, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home", project_dir=repo_dir)
    spec: DatasetSpec = load_spec(settings.dataset_spec_path)
    spec = spec.model_copy(update={"source": warehouse.url()})
    store = open_store(settings)

    batch = stage_batch(store, spec, settings=settings, interval=DAY, run_id="r1")

    assert batch.rows == 300
    source = open_source(resolve_source(spec.source, settings), event_time_column="applied_at")
    assert source.describe() == (
        f"postgresql+psycopg2://{warehouse.role}:***@127.0.0.1:5432/{warehouse.database} "
        "table=applications"
    )
    commit = store.get_commit(batch.commit_id)
    _shows_no_password(
        json.dumps(commit.metadata), commit.message, json.dumps(batch.to_dict()), source.describe()
    )
    assert sorted(source_secrets(spec.source, settings)) == sorted(FORMS[:2])

    missing = spec.model_copy(update={"source": warehouse.url(table="no_such_table")})
    with pytest.raises(DataSourceError, match="table 'no_such_table' does not exist") as caught:
        stage_batch(store, missing, settings=settings, interval=DAY, run_id="r2")
    _shows_no_password(str(caught.value))
