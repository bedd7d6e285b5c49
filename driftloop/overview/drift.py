"""Drift over time: every check's per-feature scores, and the newest report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from driftloop.exceptions import RepositoryNotFound
from driftloop.monitoring.drift import DriftResult

if TYPE_CHECKING:
    from driftloop.versioning.base import VersionStore


@dataclass(frozen=True)
class DriftHistory:
    """The drift checks of a dataset, oldest first, and per feature its scores over them."""

    checks: list[DriftResult]

    def hellinger(self) -> dict[str, list[float | None]]:
        """Per feature, its Hellinger distance in each check (``None`` where not scored)."""
        names = sorted({f.name for check in self.checks for f in check.features})
        scores: dict[str, list[float | None]] = {name: [] for name in names}
        for check in self.checks:
            by_name = {f.name: f.hellinger for f in check.features}
            for name in names:
                scores[name].append(by_name.get(name))
        return scores

    @property
    def newest(self) -> DriftResult | None:
        """The latest check, if any."""
        return self.checks[-1] if self.checks else None


def drift_history(
    store: VersionStore, dataset: str, branch: str, *, limit: int = 200
) -> DriftHistory:
    """The newest ``limit`` drift checks of ``dataset`` kept on the monitoring ``branch``."""
    try:
        if not store.branch_exists(branch):
            return DriftHistory(checks=[])
    except RepositoryNotFound:
        return DriftHistory(checks=[])  # nothing ingested yet
    folder = f"monitoring/{dataset}/reports/"
    reports = [o.path for o in store.list_objects(branch, folder) if o.path.endswith(".json")]
    checks = [
        DriftResult.model_validate_json(store.read_object(branch, path))
        for path in sorted(reports)[-limit:]
    ]
    return DriftHistory(checks=sorted(checks, key=lambda c: c.checked_at))
