"""GX validation of one large batch: driftloop's runner against one plain GX call.

Both validate the same conformed frame (the demo dataset, generated) with the shipped suite
``expectations/credit_risk.json``: driftloop's ``validate_frame`` (each column's expectations
on a one-column frame, brief first, then in detail where anything was unexpected; the result
stored and its Data Docs page built) and one ``batch.validate(suite, SUMMARY)`` of the whole
frame in an ephemeral context (what driftloop did before). Both verdicts are printed: they
must agree (the corpus test compares them expectation by expectation).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.common import print_goal

REPO = Path(__file__).resolve().parent.parent
GOAL_SECONDS = 12.0


def run(rows: int = 5_000_000) -> dict[str, float]:
    """Validate ``rows`` generated rows both ways; print and return the seconds."""
    from driftloop.data.conform import conform_frame
    from driftloop.data.synthetic import GeneratorConfig, generate_batch
    from driftloop.spec import load_spec
    from driftloop.validation.runner import validate_frame
    from tests.support.gx_reference import plain_gx

    spec = load_spec(REPO / "expectations" / "credit_risk.yaml")
    suite = REPO / "expectations" / "credit_risk.json"
    start = datetime(2026, 2, 1, tzinfo=UTC)
    config = GeneratorConfig(seed=5, rows_per_batch=rows)
    frame = conform_frame(generate_batch(config, start=start, end=start + timedelta(days=1)), spec)

    began = time.perf_counter()
    reference = plain_gx(frame, suite)
    plain_seconds = time.perf_counter() - began
    began = time.perf_counter()
    report = validate_frame(
        frame,
        spec=spec,
        suite_path=suite,
        reports_dir=Path(tempfile.mkdtemp(prefix="driftloop-bench-validation-")),
        run_name="bench",
        batch_label="bench",
    )
    ours_seconds = time.perf_counter() - began
    print(f"\n## GX validation, {rows:,} rows, {len(frame.columns)} columns")
    print("| | seconds | verdict |\n|---|---|---|")
    print(f"| one plain GX call | {plain_seconds:.1f} | {reference['success']} |")
    print(f"| driftloop's runner | {ours_seconds:.1f} | {report.success} |")
    print(f"\nrunner {plain_seconds / ours_seconds:.1f}x faster than one plain call")
    print_goal(
        f"GX validation, {rows:,} rows (s)", ours_seconds, GOAL_SECONDS, at_least=False, unit=" s"
    )
    return {"plain": plain_seconds, "runner": ours_seconds}


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000_000)
