"""Ingest of one large batch through ``driftloop_ingest`` against the same work done directly.

Direct: read the Parquet file, validate the dataset's GX suite on it in one call (ephemeral
context), write Parquet; one process. Through the DAG: ``airflow dags test`` with the file
in the run's conf (stage, validate, publish). Ratio = DAG wall time / direct wall time.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.common import Figure, print_table, run_in_subprocess, timed_dag_run
from driftloop.config import Settings
from driftloop.launcher.airflow import airflow_env, ensure_airflow_db

REPO = Path(__file__).resolve().parent.parent

DIRECT = """
import io, json
import pandas as pd
import great_expectations as gx
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
frame = pd.read_parquet(PATH)
for column in CATEGORICAL:
    frame[column] = frame[column].astype("string")
raw = json.load(open(SUITE))
context = gx.get_context(mode="ephemeral")
context.variables.progress_bars = {"globally": False}
suite = context.suites.add(gx.ExpectationSuite(name=raw["name"], expectations=[
    ExpectationConfiguration(type=e["type"], kwargs=e["kwargs"]).to_domain_obj()
    for e in raw["expectations"]]))
batch = context.data_sources.add_pandas("bench").add_dataframe_asset("frame") \\
    .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame})
result = batch.validate(suite)
assert result.success, "the benchmark batch should be valid"
buffer = io.BytesIO()
frame.to_parquet(buffer, index=False, compression="zstd")
"""


def run(rows: int = 1_000_000) -> list[Figure]:
    """Measure and print; return the figures."""
    from driftloop.data.synthetic import GeneratorConfig, generate_batch
    from driftloop.spec import load_spec

    home = Path(tempfile.mkdtemp(prefix="driftloop-bench-ingest-"))
    settings = Settings(home=home / "home", project_dir=REPO)
    spec = load_spec(settings.dataset_spec_path)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    frame = generate_batch(
        GeneratorConfig(seed=21, rows_per_batch=rows), start=start, end=start + timedelta(days=1)
    )
    # In the landing zone: the ingest DAG reads run-time paths only there (or ingest_roots).
    path = settings.landing_dir / f"batch_{rows}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    del frame
    categorical = [f.name for f in spec.features if f.kind == "categorical"] + [spec.target]

    code = (
        f"PATH = {str(path)!r}\nSUITE = {str(settings.suite_path)!r}\n"
        f"CATEGORICAL = {categorical!r}\n" + DIRECT
    )
    direct_s, direct_rss = run_in_subprocess(code, env=airflow_env(settings))
    direct = Figure("direct: read + GX validate + write (1 process)", direct_s, direct_rss, rows)

    ensure_airflow_db(settings)
    dag_s, dag_rss = timed_dag_run(
        "driftloop_ingest", {"path": str(path)}, env=airflow_env(settings)
    )
    dag = Figure("driftloop_ingest DAG (airflow dags test)", dag_s, dag_rss, rows)
    print_table(f"ingest, {rows:,} rows", [direct, dag], baseline=direct)
    return [direct, dag]


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
