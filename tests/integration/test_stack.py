"""The DAGs under real Airflow components: scheduler, dag-processor, triggerer, api-server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from driftloop.config import Settings
from driftloop.stack import AirflowStack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(repo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowStack]:
    from driftloop.data.synthetic import GeneratorConfig, generate_batches

    settings = Settings(
        home=tmp_path_factory.mktemp("stack") / "home", project_dir=repo_dir, airflow_port=18080
    )
    generate_batches(
        GeneratorConfig(seed=9, rows_per_batch=1500),
        start=date(2026, 5, 1),
        days=2,
        out_dir=settings.landing_dir,
    )
    with AirflowStack(settings) as running:
        running.wait_for_dags("driftloop_ingest", "driftloop_train")
        for dag_id in ("driftloop_ingest", "driftloop_train"):
            running.unpause(dag_id)
        yield running


def test_scheduler_runs_ingest_then_train(stack: AirflowStack) -> None:
    from driftloop.registry import Registry
    from driftloop.versioning.factory import open_store

    for day in (2, 3):
        run_id = stack.trigger("driftloop_ingest", logical_date=datetime(2026, 5, day, tzinfo=UTC))
        assert stack.wait_for_run("driftloop_ingest", run_id) == "success"
    store = open_store(stack.settings)
    assert len(store.list_objects("main", "data/credit_risk/")) == 2

    run_id = stack.trigger("driftloop_train", conf={"reason": "stack test", "num_boost_round": 50})
    assert stack.wait_for_run("driftloop_train", run_id) == "success"
    registry = Registry(url=stack.settings.registry_database_url)
    champion = registry.get_alias("credit_risk", "champion")
    assert champion is not None and champion.lineage.data_commit == store.resolve("main")
    assert champion.run_key == run_id
