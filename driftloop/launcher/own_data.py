"""``driftloop demo --data PATH --target COL``: the closed loop of ``make demo`` on a user's table.

The table is shuffled (seeded: it may be sorted) and cut into three slices, written to the
landing folder as batch files in its format: the first is the sample the contract is learned
from, as ``driftloop init`` learns it, and the first batch; the second an ordinary batch; the
third is shifted by :func:`driftloop.data.shift.shifted` (changed, still valid: it is
published with validation warnings). The spec and suite go to the demo's home
(``<home>/expectations``, the ``expectations`` setting), never into the project's.

On the stack, each batch goes through the ingest DAG with its path in the run's conf, by
``airflow dags test`` as ``driftloop ingest FILE`` does: a spec without an event-time column
cannot read a data interval, an unpaused ingest DAG gets a scheduled run for the latest
interval, which fails, and a run triggered while the DAG is paused stays queued. Training and
the monitor run on the scheduler, as in :func:`driftloop.launcher.loop.run_loop`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from driftloop.config import Settings, get_settings
from driftloop.launcher.airflow import run_dag_once
from driftloop.launcher.loop import (
    INGEST,
    MONITOR,
    TRAIN,
    LoopReport,
    describe_warnings,
    published_warnings,
    sample_records,
    serve_through_drift,
    train,
)
from driftloop.launcher.stack import AirflowStack
from driftloop.spec import DatasetSpec

SHUFFLE_SEED = 20261125
SLICE_NAMES = ("1", "2", "3-shifted")


@dataclass(frozen=True)
class OwnTable:
    """A user's table made into the demo's batches, spec and suite.

    Attributes:
        spec: The spec learned from the first slice.
        batches: The batch files in ingest order; the last one is the shifted slice.
        sample_rows: Rows of the first slice, the sample the contract was learned from.
        contract: What was learned per column and rule (what ``driftloop init`` prints).
        environment: The variables that point a process at this dataset, in its home.
    """

    spec: DatasetSpec
    batches: tuple[Path, ...]
    sample_rows: int
    contract: str
    environment: dict[str, str]

    @property
    def shifted_batch(self) -> Path:
        """The batch that changed: published with warnings, judged as drift."""
        return self.batches[-1]


def dataset_name(data: Path, name: str | None = None) -> str:
    """``name``, else the file's stem, as a dataset (and model, and Bento) name can spell it."""
    cleaned = re.sub(r"[^a-z0-9_]+", "_", (name or data.stem).lower()).strip("_")
    return cleaned or "dataset"


def prepare_table(
    settings: Settings,
    data: Path,
    *,
    target: str,
    id_column: str | None = None,
    name: str | None = None,
) -> tuple[Settings, OwnTable]:
    """Slice ``data`` into batches, learn its contract, and point every process at them.

    Sets ``DRIFTLOOP_HOME``, ``DRIFTLOOP_DATASET`` and ``DRIFTLOOP_EXPECTATIONS`` in this
    process's environment, which the Airflow components and the service inherit, and lowers
    the monitor's ``min_rows`` to the shifted batch's rows when the table is too small for
    the setting: a smaller window would wait for more data that never comes.

    Returns:
        The settings read again with these variables, and the table's batches and contract.

    Raises:
        DataSourceError: the file cannot be read.
        SpecError: the table does not fit a binary classifier's spec (the message says why).
    """
    from driftloop.data.shift import shifted
    from driftloop.data.sources import read_file
    from driftloop.spec import SourceSpec, save_spec
    from driftloop.spec.learn import infer_spec
    from driftloop.validation.contract import learned_table
    from driftloop.validation.suites import build_suite, write_suite

    frame = read_file(data)
    order = frame.sample(frac=1.0, random_state=SHUFFLE_SEED)
    parts = np.array_split(np.arange(len(order)), len(SLICE_NAMES))
    slices = [order.iloc[rows] for rows in parts]
    environment = _dataset_environment(
        settings, dataset_name(data, name), batch_rows=len(slices[-1])
    )
    # Set here, before the stack starts: its components and the service inherit them.
    os.environ.update(environment)
    settings = get_settings()
    suffix = ".csv" if data.suffix.lower() == ".csv" else ".parquet"
    paths = tuple(
        settings.landing_dir / f"{settings.dataset}-{label}{suffix}" for label in SLICE_NAMES
    )
    for part, path in zip(slices[:-1], paths[:-1], strict=True):
        _write(part, path)
    sample = read_file(paths[0])
    batches = f"${{DRIFTLOOP_LANDING_DIR}}/{settings.dataset}-*{suffix}"
    source = SourceSpec(kind="file", path=batches)
    spec = infer_spec(
        sample, name=settings.dataset, source=source, target=target, id_column=id_column
    )
    suite = build_suite(sample, spec)
    save_spec(spec, settings.dataset_spec_path)
    write_suite(suite, settings.suite_path)
    _write(shifted(slices[-1], sample, spec), paths[-1])
    return settings, OwnTable(
        spec=spec,
        batches=paths,
        sample_rows=len(sample),
        contract=learned_table(sample, spec, suite),
        environment=environment,
    )


def run_own_loop(stack: AirflowStack, table: OwnTable, *, say: Callable[[str], None]) -> LoopReport:
    """Drive the loop on a prepared table on a started stack; return what happened."""
    settings = stack.settings
    report = LoopReport()
    stack.wait_for_dags(INGEST, TRAIN, MONITOR)
    # Unpaused, the monitor's retrain runs on the scheduler; ingest stays paused (see above).
    stack.unpause(TRAIN)
    ordinary = list(table.batches[:-1])
    ingest_files(settings, table.spec, ordinary, report, say)
    report.decisions.append(train(stack, "demo: first model", say))
    records = sample_records(ordinary[0], table.spec.target, 2)
    # A record without its first feature: the service refuses it, naming the field.
    bad = {k: v for k, v in records[0].items() if k != table.spec.feature_names[0]}
    serve_through_drift(
        stack,
        report,
        records=records,
        bad_request={"records": [bad]},
        ingest_drifted=lambda: ingest_files(
            settings, table.spec, [table.shifted_batch], report, say
        ),
        later_records=sample_records(table.shifted_batch, table.spec.target, 1),
        say=say,
    )
    return report


def ingest_files(
    settings: Settings,
    spec: DatasetSpec,
    paths: list[Path],
    report: LoopReport,
    say: Callable[[str], None],
) -> None:
    """Ingest each file through the ingest DAG; record its state and validation warnings."""
    from driftloop.ingest.batch import file_batch_key

    for path in paths:
        outcome = run_dag_once(settings, INGEST, conf={"path": str(path)})
        if not outcome.succeeded:
            report.ingested[path.name] = "failed"
            say(f"ingest {path.name}: NOT published; Airflow said:\n{outcome.output[-2000:]}")
            continue
        report.ingested[path.name] = "success"
        warnings = published_warnings(settings, spec.name, file_batch_key(str(path), spec))
        report.warnings[path.name] = warnings
        say(f"ingest {path.name}: published with {describe_warnings(warnings)}")


def loop_closed(report: LoopReport, table: OwnTable) -> bool:
    """Every batch published, the shifted one with warnings, drift retrained, service answered."""
    return (
        all(report.ingested.get(path.name) == "success" for path in table.batches)
        and bool(report.warnings.get(table.shifted_batch.name))
        and bool(report.retrain_conf)
        and bool(report.served_versions)
    )


def _dataset_environment(settings: Settings, name: str, *, batch_rows: int) -> dict[str, str]:
    variables = {
        "DRIFTLOOP_HOME": str(settings.home_dir),
        "DRIFTLOOP_DATASET": name,
        "DRIFTLOOP_EXPECTATIONS": str(settings.home_dir / "expectations"),
    }
    if settings.monitoring.policy.min_rows > batch_rows:
        variables["DRIFTLOOP_MONITORING__POLICY__MIN_ROWS"] = str(batch_rows)
    return variables


def _write(frame: pd.DataFrame, path: Path) -> None:
    from driftloop.data.sources import to_parquet_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        path.write_bytes(to_parquet_bytes(frame))
