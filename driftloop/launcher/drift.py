"""``driftloop drift check``: score the newest profiles now and print the per-feature table."""

from __future__ import annotations

from driftloop.config import Settings


def drift_check(settings: Settings, *, against: int | None) -> int:
    """Score profiles newer than the monitor's last check (all, before the first one).

    Prints the per-feature table, the verdict and the report path; returns 0, or 1 when
    there is nothing to judge. The monitor's checkpoint is left where it is.
    """
    from driftloop.exceptions import DriftCheckSkipped
    from driftloop.monitoring.steps import check_drift, read_checkpoint
    from driftloop.registry import Registry
    from driftloop.spec import load_spec
    from driftloop.versioning.factory import open_store

    spec = load_spec(settings.dataset_spec_path)
    store = open_store(settings)
    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    since = read_checkpoint(store, spec.name, ref=settings.monitoring.branch)
    try:
        result = check_drift(store, registry, spec, settings, since=since, against=against)
    except DriftCheckSkipped as skipped:
        print(f"nothing to judge: {skipped}")
        return 1
    print(
        f"{'feature':<24} {'test':<10} {'statistic':>10} {'p-value':>10} {'hellinger':>9}  drifted"
    )
    for f in result.features:
        print(
            f"{f.name:<24} {f.algorithm or '-':<10} {_num(f.statistic):>10} {_num(f.p_value):>10} "
            f"{_num(f.hellinger):>9}  {'YES' if f.drifted else 'no'}"
            + (f"  new: {', '.join(f.new_categories)}" if f.new_categories else "")
        )
    print(f"{result.reason}\n{result.target_rows} rows against {result.reference_id}")
    print(
        f"report: {result.report_html} (monitoring branch of the store); JSON: {result.report_json}"
    )
    return 0


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
