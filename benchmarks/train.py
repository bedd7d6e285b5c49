"""``driftloop_train`` on a large published commit against ``xgboost.train`` on the same rows.

Direct: read the Parquet, build a categorical DMatrix, ``xgboost.train`` 200 rounds (hist,
depth 6, 2 threads) in one process. Through the DAG: ``airflow dags test driftloop_train``
with ``num_boost_round=200`` (resolve, train with early stopping and holdout scoring,
artifacts, register, decide, promote). Ratio = DAG wall time / direct wall time.
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
import pandas as pd
import xgboost as xgb
frame = pd.read_parquet(PATH)
label = (frame[TARGET] == POSITIVE).astype("int8")
features = frame[[name for name, _ in FEATURES]].copy()
for name, categories in FEATURES:
    if categories:
        features[name] = pd.Categorical(features[name], categories=categories)
matrix = xgb.DMatrix(features, label=label, enable_categorical=True, nthread=2)
xgb.train({"objective": "binary:logistic", "tree_method": "hist", "max_depth": 6, "eta": 0.1,
           "nthread": 2, "max_bin": 256, "seed": 42}, matrix, num_boost_round=200)
"""


def _publish_unvalidated(settings: Settings, path: Path) -> str:
    """Put one big batch on main (the benchmark measures training, not ingestion)."""
    from driftloop.spec import load_spec
    from driftloop.versioning.factory import open_store

    spec = load_spec(settings.dataset_spec_path)
    store = open_store(settings)
    store.ensure_repository(settings.main_branch)
    store.create_branch("bench-seed", settings.main_branch, exist_ok=True)
    store.write_if_changed("bench-seed", f"data/{spec.name}/bench.parquet", path.read_bytes())
    store.commit("bench-seed", "benchmark data", {"batch": "bench", "rows": "bench"})
    return store.merge("bench-seed", settings.main_branch, "benchmark data", {})


def run(rows: int = 1_000_000) -> list[Figure]:
    """Measure and print; return the figures."""
    from driftloop.data.synthetic import GeneratorConfig, generate_batch
    from driftloop.ingest.batch import batch_bytes
    from driftloop.spec import load_spec

    home = Path(tempfile.mkdtemp(prefix="driftloop-bench-train-"))
    settings = Settings(home=home / "home", project_dir=REPO)
    spec = load_spec(settings.dataset_spec_path)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    frame = generate_batch(
        GeneratorConfig(seed=22, rows_per_batch=rows), start=start, end=start + timedelta(days=1)
    )
    path = home / f"train_{rows}.parquet"
    path.write_bytes(batch_bytes(frame, spec))
    del frame
    _publish_unvalidated(settings, path)

    features = [(f.name, f.categories) for f in spec.features]
    code = (
        f"PATH = {str(path)!r}\nTARGET = {spec.target!r}\nPOSITIVE = {spec.positive_label!r}\n"
        f"FEATURES = {features!r}\n" + DIRECT
    )
    direct_s, direct_rss = run_in_subprocess(code, env=airflow_env(settings))
    direct = Figure("direct: xgboost.train 200 rounds (1 process)", direct_s, direct_rss, rows)

    ensure_airflow_db(settings)
    dag_s, dag_rss = timed_dag_run(
        "driftloop_train",
        {"reason": "benchmark", "num_boost_round": 200},
        env=airflow_env(settings),
    )
    dag = Figure("driftloop_train DAG (airflow dags test)", dag_s, dag_rss, rows)
    print_table(f"train, {rows:,} rows", [direct, dag], baseline=direct)
    return [direct, dag]


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
