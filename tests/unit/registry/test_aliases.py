from __future__ import annotations

import pytest

from driftloop.exceptions import (
    AliasMoved,
    AliasNotSet,
    NothingToRollBack,
    RegistryConflict,
    RegistryError,
    VersionNotFound,
)
from driftloop.registry import Registry, VersionLineage

MODEL = "credit_risk"


@pytest.fixture
def three_versions(registry: Registry, lineage: VersionLineage) -> Registry:
    for run in ("run-1", "run-2", "run-3"):
        registry.register_version(MODEL, run_key=run, lineage=lineage, created_by="trainer")
    return registry


def test_move_alias_points_it_and_audits_the_move(three_versions: Registry) -> None:
    registry = three_versions
    assert registry.get_alias(MODEL, "champion") is None

    first = registry.move_alias(MODEL, "champion", 1, actor="promote", reason="first model")
    second = registry.move_alias(
        MODEL,
        "champion",
        2,
        actor="promote",
        reason="auc +0.02 on the same holdout",
        evidence={"challenger": {"auc": 0.93}, "champion": {"auc": 0.91}},
        run_key="dag/run-2/promote",
    )
    registry.move_alias(MODEL, "challenger", 3, actor="train", reason="new candidate")

    assert (first.from_version, first.to_version, first.changed) == (None, 1, True)
    assert (second.from_version, second.to_version) == (1, 2)
    current = registry.get_alias(MODEL, "champion")
    assert current is not None
    assert current == registry.get_version(MODEL, 2)
    assert registry.aliases(MODEL) == {"challenger": 3, "champion": 2}
    assert registry.audit_log(MODEL, "champion") == [first, second]
    assert [m.alias for m in registry.audit_log(MODEL)] == ["champion", "champion", "challenger"]
    audited = registry.audit_log(MODEL, "champion")[1]
    assert audited.evidence == {"challenger": {"auc": 0.93}, "champion": {"auc": 0.91}}
    assert (audited.actor, audited.run_key) == ("promote", "dag/run-2/promote")
    assert audited.reason == "auc +0.02 on the same holdout"
    assert first.at <= second.at


def test_a_retried_move_is_not_applied_twice(three_versions: Registry) -> None:
    registry = three_versions
    registry.move_alias(MODEL, "champion", 1, actor="t", reason="first")
    moved = registry.move_alias(MODEL, "champion", 2, actor="t", reason="better", run_key="k2")
    registry.move_alias(MODEL, "champion", 3, actor="t", reason="even better")

    retried = registry.move_alias(MODEL, "champion", 2, actor="t", reason="better", run_key="k2")

    assert retried == moved
    assert registry.aliases(MODEL) == {"champion": 3}
    assert len(registry.audit_log(MODEL)) == 3


def test_a_run_key_cannot_move_an_alias_to_two_versions(three_versions: Registry) -> None:
    three_versions.move_alias(MODEL, "champion", 1, actor="t", reason="r", run_key="k")

    with pytest.raises(RegistryConflict, match=r"already moved 'champion'.*version 1, not 2"):
        three_versions.move_alias(MODEL, "champion", 2, actor="t", reason="r", run_key="k")


def test_a_move_to_the_current_version_is_not_audited(three_versions: Registry) -> None:
    registry = three_versions
    registry.move_alias(MODEL, "champion", 1, actor="t", reason="first")

    noop = registry.move_alias(MODEL, "champion", 1, actor="t", reason="again")

    assert (noop.changed, noop.id, noop.from_version, noop.to_version) == (False, None, 1, 1)
    assert len(registry.audit_log(MODEL)) == 1


@pytest.mark.parametrize("alias", ["Champion", "1st", "", "a b", "x" * 65, "café"])
def test_invalid_aliases_are_refused(three_versions: Registry, alias: str) -> None:
    with pytest.raises(RegistryError, match="invalid alias"):
        three_versions.move_alias(MODEL, alias, 1, actor="t", reason="r")


def test_any_well_formed_alias_is_allowed(three_versions: Registry) -> None:
    three_versions.move_alias(MODEL, "shadow_eu-2", 2, actor="t", reason="canary")

    assert three_versions.aliases(MODEL) == {"shadow_eu-2": 2}


def test_a_move_to_a_missing_version_changes_nothing(three_versions: Registry) -> None:
    registry = three_versions
    registry.move_alias(MODEL, "champion", 1, actor="t", reason="first")

    with pytest.raises(VersionNotFound, match="no version 9"):
        registry.move_alias(MODEL, "champion", 9, actor="t", reason="typo")
    with pytest.raises(VersionNotFound, match="'other'"):
        registry.move_alias("other", "champion", 1, actor="t", reason="typo")

    assert registry.aliases(MODEL) == {"champion": 1}
    assert len(registry.audit_log(MODEL)) == 1


def test_rollback_walks_back_through_champions(three_versions: Registry) -> None:
    registry = three_versions
    moves = [
        registry.move_alias(MODEL, "champion", v, actor="promote", reason=f"v{v}")
        for v in (1, 2, 3)
    ]

    back = registry.rollback(MODEL, actor="oncall", reason="v3 misbehaves in production")
    assert (back.from_version, back.to_version, back.rollback_of) == (3, 2, moves[2].id)
    assert (back.actor, back.reason) == ("oncall", "v3 misbehaves in production")
    assert registry.aliases(MODEL) == {"champion": 2}

    further = registry.rollback(MODEL, actor="oncall", reason="v2 too")
    assert (further.from_version, further.to_version, further.rollback_of) == (2, 1, moves[1].id)

    with pytest.raises(NothingToRollBack, match="no earlier version"):
        registry.rollback(MODEL, actor="oncall", reason="and v1?")
    assert registry.aliases(MODEL) == {"champion": 1}
    assert registry.audit_log(MODEL) == [*moves, back, further]


def test_rollback_after_a_new_move_returns_to_the_version_before_it(
    three_versions: Registry,
) -> None:
    registry = three_versions
    for version in (1, 2):
        registry.move_alias(MODEL, "champion", version, actor="t", reason="r")
    registry.rollback(MODEL, actor="t", reason="undo v2")
    registry.move_alias(MODEL, "champion", 3, actor="t", reason="v3")

    back = registry.rollback(MODEL, actor="t", reason="undo v3")

    assert (back.from_version, back.to_version) == (3, 1)


def test_rollback_needs_an_alias_that_was_set(three_versions: Registry) -> None:
    with pytest.raises(AliasNotSet, match="'champion' of 'credit_risk' is not set"):
        three_versions.rollback(MODEL, actor="t", reason="r")
    with pytest.raises(VersionNotFound, match="'other'"):
        three_versions.rollback("other", actor="t", reason="r")


def test_a_retried_rollback_rolls_back_once(three_versions: Registry) -> None:
    registry = three_versions
    for version in (1, 2, 3):
        registry.move_alias(MODEL, "champion", version, actor="t", reason="r")

    first = registry.rollback(MODEL, actor="monitor", reason="drift", run_key="mon/run-9")
    retried = registry.rollback(MODEL, actor="monitor", reason="drift", run_key="mon/run-9")

    assert retried == first
    assert registry.aliases(MODEL) == {"champion": 2}


def test_rollback_refuses_an_archived_version(three_versions: Registry) -> None:
    registry = three_versions
    for version in (1, 2):
        registry.move_alias(MODEL, "champion", version, actor="t", reason="r")
    registry.archive_version(MODEL, 1)

    with pytest.raises(RegistryConflict, match="version 1 of 'credit_risk' is archived"):
        registry.rollback(MODEL, actor="t", reason="r")
    assert registry.aliases(MODEL) == {"champion": 2}


def test_a_move_expecting_another_champion_is_refused_and_changes_nothing(
    three_versions: Registry,
) -> None:
    registry = three_versions
    with pytest.raises(AliasMoved, match="points at version None, not 1"):
        registry.move_alias(MODEL, "champion", 2, actor="ui", reason="r", expected=1)
    registry.move_alias(MODEL, "champion", 1, actor="ui", reason="first", expected=None)
    # an approval compared version 3 with champion 1; meanwhile someone promoted 2
    registry.move_alias(MODEL, "champion", 2, actor="ui", reason="manual", expected=1)
    with pytest.raises(AliasMoved, match="points at version 2, not 1"):
        registry.move_alias(MODEL, "champion", 3, actor="dag", reason="approved", expected=1)
    with pytest.raises(AliasMoved):
        registry.rollback(MODEL, actor="ui", reason="seen v1", expected=1)
    assert registry.get_alias(MODEL, "champion").version == 2
    assert len(registry.audit_log(MODEL)) == 2
    # a repeat of a move already made is not a conflict
    registry.move_alias(MODEL, "champion", 2, actor="ui", reason="again", expected=1)
    assert registry.rollback(MODEL, actor="ui", reason="back", expected=2).to_version == 1


def test_a_refused_move_moves_nothing_and_is_recorded_with_what_it_expected(
    three_versions: Registry,
) -> None:
    registry = three_versions
    registry.move_alias(MODEL, "champion", 1, actor="dag", reason="first", expected=None)
    registry.move_alias(MODEL, "champion", 2, actor="ui:ana", reason="manual", expected=1)
    before = registry.audit_log(MODEL)

    # an approval compared version 3 with champion 1; meanwhile ana promoted 2
    with pytest.raises(AliasMoved) as caught:
        registry.move_alias(
            MODEL,
            "champion",
            3,
            actor="dag",
            reason="approved",
            evidence={"auc": {"challenger": 0.93, "champion": 0.91}},
            run_key="train/run-7",
            expected=1,
        )

    assert (caught.value.expected, caught.value.actual, caught.value.to_version) == (1, 2, 3)
    assert registry.get_alias(MODEL, "champion").version == 2
    assert registry.audit_log(MODEL) == before
    (refused,) = registry.refused_moves(MODEL)
    assert refused.model_dump(exclude={"id", "at"}) == {
        "model": MODEL,
        "alias": "champion",
        "expected_version": 1,
        "actual_version": 2,
        "to_version": 3,
        "actor": "dag",
        "reason": "approved",
        "evidence": {"auc": {"challenger": 0.93, "champion": 0.91}},
        "run_key": "train/run-7",
    }
    assert refused.at >= before[-1].at and refused.at.utcoffset() is not None


def test_a_retried_refusal_is_recorded_once_per_run_key(three_versions: Registry) -> None:
    registry = three_versions
    registry.move_alias(MODEL, "champion", 2, actor="ui", reason="manual")

    for _ in range(2):
        with pytest.raises(AliasMoved):
            registry.move_alias(
                MODEL, "champion", 3, actor="dag", reason="r", run_key="run-7", expected=1
            )
    assert [r.run_key for r in registry.refused_moves(MODEL)] == ["run-7"]

    # the same run key on another alias, and refusals without a run key, are each recorded
    registry.move_alias(MODEL, "challenger", 1, actor="t", reason="r")
    with pytest.raises(AliasMoved):
        registry.move_alias(
            MODEL, "challenger", 3, actor="dag", reason="r", run_key="run-7", expected=2
        )
    for _ in range(2):
        with pytest.raises(AliasMoved):
            registry.move_alias(MODEL, "champion", 1, actor="cli", reason="r", expected=3)
    assert len(registry.refused_moves(MODEL)) == 4
    assert len(registry.refused_moves(MODEL, "champion")) == 3


def test_refused_moves_are_listed_newest_first_with_refused_rollbacks(
    three_versions: Registry,
) -> None:
    registry = three_versions
    for version in (1, 2):
        registry.move_alias(MODEL, "champion", version, actor="t", reason="r")
    with pytest.raises(AliasMoved):
        registry.move_alias(MODEL, "champion", 3, actor="a", reason="first", expected=None)
    with pytest.raises(AliasMoved):
        registry.rollback(MODEL, actor="b", reason="second", run_key="mon/run-1", expected=3)
    with pytest.raises(AliasMoved):  # a version the caller made up is recorded all the same
        registry.move_alias(MODEL, "champion", 1, actor="c", reason="third", expected=99)

    refused = registry.refused_moves(MODEL)
    assert [r.reason for r in refused] == ["third", "second", "first"]
    assert [(r.expected_version, r.actual_version, r.to_version) for r in refused] == [
        (99, 2, 1),
        (3, 2, 1),  # the rollback would have returned to 1
        (None, 2, 3),
    ]
    assert refused[0].at >= refused[1].at >= refused[2].at
    assert registry.refused_moves(MODEL, "challenger") == []
    assert registry.get_alias(MODEL, "champion").version == 2
    with pytest.raises(VersionNotFound):
        registry.refused_moves("no_such_model")
    with pytest.raises(RegistryError, match="invalid alias"):
        registry.refused_moves(MODEL, "Bad Alias")
