"""Profiling and drift scoring: driftloop's monitoring core against bare whylogs on 1M rows.

Profiling: a bare ``why.log`` of the spec's columns against ``profile_frame`` (categories as
text, the homogeneous path for finite floats, 250k-row chunks merged), and ``profile_frame``
on a 20% sample for comparison. Drift: whylogs' ``calculate_drift_scores`` plus its HTML
summary report, against ``score_drift`` (adding Hellinger distances and new categories) plus
``write_drift_report`` into a local store. Every step runs in a fresh process and includes
reading the Parquet file and importing whylogs; that shared overhead is measured alone too,
so the profiling rates below the table exclude it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.common import Figure, print_table, run_in_subprocess

REPO = Path(__file__).resolve().parent.parent

SETUP = """
from pathlib import Path
import pandas as pd
import driftloop, whylogs
from driftloop.spec import load_spec
spec = load_spec(Path(SPEC))
frame = pd.read_parquet(DATA, columns=[*spec.feature_names, spec.target])
"""
BARE_PROFILE = SETUP + "import whylogs as why\nwhy.log(frame).view().serialize()\n"
OUR_PROFILE = SETUP + (
    "from driftloop.monitoring.profiles import profile_frame\nprofile_frame(frame, spec)\n"
)
SAMPLE_PROFILE = SETUP + (
    "from driftloop.monitoring.profiles import profile_frame\n"
    "profile_frame(frame.sample(frac=0.2, random_state=0), spec)\n"
)
BARE_DRIFT = """
import tempfile
from whylogs.core.view.dataset_profile_view import DatasetProfileView
from whylogs.viz import NotebookProfileVisualizer
from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores
target = DatasetProfileView.deserialize(open(TARGET, "rb").read())
reference = DatasetProfileView.deserialize(open(REFERENCE, "rb").read())
calculate_drift_scores(target_view=target, reference_view=reference, with_thresholds=True)
viz = NotebookProfileVisualizer()
viz.set_profiles(target_profile_view=target, reference_profile_view=reference)
viz.write(rendered_html=viz.summary_drift_report(), preferred_path=tempfile.mkdtemp(),
          html_file_name="drift")
"""
OUR_DRIFT = """
import tempfile
from pathlib import Path
from driftloop.monitoring.drift import score_drift, write_drift_report
from driftloop.config.monitoring import DriftPolicy
from driftloop.spec import load_spec
from driftloop.versioning.local import LocalVersionStore
spec = load_spec(Path(SPEC))
target, reference = open(TARGET, "rb").read(), open(REFERENCE, "rb").read()
store = LocalVersionStore(root=Path(tempfile.mkdtemp()), repository="bench")
store.ensure_repository("main")
result = score_drift(target, reference, spec, DriftPolicy())
write_drift_report(store, result, target=target, reference=reference)
"""


PREPARE = """
from datetime import UTC, datetime, timedelta
from pathlib import Path
from driftloop.data.synthetic import GeneratorConfig, generate_batch
from driftloop.monitoring.profiles import profile_frame
from driftloop.spec import load_spec
spec = load_spec(Path(SPEC))
for name, day, shift in (("reference", 1, {}), ("target", 2, {"income": 0.5})):
    start = datetime(2026, 6, day, tzinfo=UTC)
    config = GeneratorConfig(seed=31, rows_per_batch=ROWS, shift=shift)
    frame = generate_batch(config, start=start, end=start + timedelta(days=1))
    frame.to_parquet(Path(FOLDER) / f"{name}.parquet", index=False)
    (Path(FOLDER) / f"{name}.bin").write_bytes(profile_frame(frame, spec))
"""


def run(rows: int = 1_000_000) -> list[Figure]:
    """Measure and print; return the figures."""
    folder = Path(tempfile.mkdtemp(prefix="driftloop-bench-monitoring-"))
    spec_path = REPO / "expectations" / "credit_risk.yaml"
    # Data is made in a child process: Linux carries a parent's peak RSS into the
    # children it forks, which would hide the steps' own peaks.
    run_in_subprocess(
        f"SPEC = {str(spec_path)!r}\nFOLDER = {str(folder)!r}\nROWS = {rows}\n" + PREPARE
    )
    names = (
        f"SPEC = {str(spec_path)!r}\nDATA = {str(folder / 'reference.parquet')!r}\n"
        f"TARGET = {str(folder / 'target.bin')!r}\nREFERENCE = {str(folder / 'reference.bin')!r}\n"
    )

    def measure(label: str, code: str) -> Figure:
        seconds, rss = run_in_subprocess(names + code)
        return Figure(label, seconds, rss, rows)

    overhead = measure("read Parquet + import whylogs (in every step)", SETUP)
    bare = measure("bare why.log", BARE_PROFILE)
    ours = measure("driftloop profile_frame", OUR_PROFILE)
    sample = measure("driftloop profile_frame, 20% sample", SAMPLE_PROFILE)
    print_table(
        f"Profiling {rows:,} rows (ratio to bare why.log)",
        [overhead, bare, ours, sample],
        baseline=bare,
    )
    for figure in (bare, ours):
        alone = figure.seconds - overhead.seconds
        print(f"{figure.name}: {rows / alone:,.0f} rows/s profiling alone ({alone:.1f} s)")

    bare_drift = measure("bare calculate_drift_scores + HTML report", BARE_DRIFT)
    our_drift = measure("driftloop score_drift + write_drift_report", OUR_DRIFT)
    print_table(
        f"Drift scores and report from two {rows:,}-row profiles (ratio to bare whylogs)",
        [bare_drift, our_drift],
        baseline=bare_drift,
    )
    return [overhead, bare, ours, sample, bare_drift, our_drift]
