"""``driftloop drift check``: score the champion's window now and print what was compared."""

from __future__ import annotations

from driftloop.config import Settings


def drift_check(settings: Settings, *, against: int | None) -> int:
    """Score the data the champion (or version ``against``) was not trained on, now.

    The window is the batches published after the version's training data and its serving
    profiles since it went live (:func:`driftloop.monitoring.steps.check_drift`). Prints
    the version and reference, each scored batch with its rows and validation warnings,
    the serving windows, what is not scored yet (still settling, with its ready time, or
    not profiled), the per-feature table, the verdict and the report path; returns 0, or
    1 when there is nothing to judge. The monitor's checkpoint is neither read nor moved.

    Raises:
        MonitoringError: the store no longer has the version's training data commit.
        ProfileError: a stored profile or the reference is unreadable.
        RegistryError: the registry failed.
        VersioningError: the store failed.
    """
    from driftloop.exceptions import DriftCheckSkipped
    from driftloop.monitoring.steps import check_drift
    from driftloop.registry import Registry
    from driftloop.spec import load_spec
    from driftloop.versioning.factory import open_store

    spec = load_spec(settings.dataset_spec_path)
    store = open_store(settings)
    registry = Registry(url=settings.registry_database_url)
    registry.upgrade()
    try:
        result = check_drift(store, registry, spec, settings, since=None, against=against)
    except DriftCheckSkipped as skipped:
        print(f"nothing to judge: {skipped}")
        return 1
    print("\n".join(result.describe_window()))
    print(
        f"{'feature':<24} {'test':<10} {'statistic':>10} {'p-value':>10} {'hellinger':>9}  drifted"
    )
    for f in result.features:
        print(
            f"{f.name:<24} {f.algorithm or '-':<10} {_num(f.statistic):>10} {_num(f.p_value):>10} "
            f"{_num(f.hellinger):>9}  {'YES' if f.drifted else 'no'}"
            + (f"  new: {', '.join(f.new_categories)}" if f.new_categories else "")
            # The warning itself is listed under its batch above and in the reason.
            + ("  validation warning" if f.validation_warning else "")
        )
    print(result.reason)
    print(
        f"report: {result.report_html} (monitoring branch of the store); JSON: {result.report_json}"
    )
    return 0


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"
