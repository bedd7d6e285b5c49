from __future__ import annotations

import pytest

from driftloop.exceptions import RegistryConflict, VersionNotFound
from driftloop.registry import Registry, VersionLineage

MODEL = "credit_risk"


@pytest.fixture
def two_versions(registry: Registry, lineage: VersionLineage) -> Registry:
    for run in ("run-1", "run-2"):
        registry.register_version(MODEL, run_key=run, lineage=lineage, created_by="trainer")
    registry.move_alias(MODEL, "champion", 1, actor="promote", reason="first")
    return registry


def test_a_rejected_promotion_is_recorded_without_moving(two_versions: Registry) -> None:
    registry = two_versions
    evidence = {"challenger": {"auc": 0.88}, "champion": {"auc": 0.91}, "min_gain": 0.005}

    decision = registry.record_decision(
        MODEL,
        2,
        promoted=False,
        reason="challenger auc below champion",
        evidence=evidence,
        actor="promote",
        run_key="dag/run-2/promote",
    )

    assert registry.decisions(MODEL) == [decision]
    assert (decision.version, decision.promoted, decision.evidence) == (2, False, evidence)
    assert decision.reason == "challenger auc below champion"
    assert registry.aliases(MODEL) == {"champion": 1}
    assert len(registry.audit_log(MODEL)) == 1


def test_decisions_are_idempotent_by_run_key(two_versions: Registry) -> None:
    registry = two_versions
    kwargs = {"reason": "r", "evidence": {}, "actor": "promote", "run_key": "k"}
    first = registry.record_decision(MODEL, 2, promoted=True, **kwargs)

    assert registry.record_decision(MODEL, 2, promoted=True, **kwargs) == first
    with pytest.raises(RegistryConflict, match="already decided promoted=True"):
        registry.record_decision(MODEL, 2, promoted=False, **kwargs)
    with pytest.raises(RegistryConflict):
        registry.record_decision(MODEL, 1, promoted=True, **kwargs)
    assert registry.decisions(MODEL) == [first]


def test_a_decision_needs_an_existing_version(two_versions: Registry) -> None:
    with pytest.raises(VersionNotFound, match="no version 5"):
        two_versions.record_decision(
            MODEL, 5, promoted=False, reason="r", evidence={}, actor="a", run_key="k"
        )
    assert two_versions.decisions(MODEL) == []
