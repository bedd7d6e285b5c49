"""The promotion policy: floors, improvement margin, guard metrics, direction of each metric."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from driftloop.config.promotion import PromotionPolicy
from driftloop.promotion import decide
from driftloop.training import Metrics

POLICY = PromotionPolicy()


def metrics(**changes: float) -> Metrics:
    base = {
        "roc_auc": 0.803,
        "pr_auc": 0.61,
        "log_loss": 0.45,
        "accuracy": 0.79,
        "brier": 0.15,
        "ece": 0.03,
        "positive_rate": 0.27,
        "rows": 2000,
    }
    return Metrics(**{**base, **changes})


def test_a_first_model_above_the_floor_is_promoted() -> None:
    decision = decide(metrics(roc_auc=0.71), None, POLICY)

    assert decision.promote
    assert decision.reason == "first model: roc_auc 0.710 meets floor 0.650"
    assert decision.evidence["champion"] is None
    assert decision.evidence["policy"]["absolute_floor"] == {"roc_auc": 0.65}


def test_a_first_model_below_the_floor_is_not_promoted() -> None:
    decision = decide(metrics(roc_auc=0.6), None, POLICY)

    assert not decision.promote
    assert decision.reason == "first model: roc_auc 0.600 below the floor 0.650"


def test_the_floor_applies_to_challengers_too() -> None:
    decision = decide(metrics(roc_auc=0.64), metrics(roc_auc=0.6), POLICY)

    assert not decision.promote
    assert "roc_auc 0.640 below the floor 0.650" in decision.reason


def test_an_improvement_below_the_margin_is_not_promoted() -> None:
    decision = decide(metrics(roc_auc=0.804), metrics(roc_auc=0.803), POLICY)

    assert not decision.promote
    assert "roc_auc 0.804 vs champion 0.803: improvement 0.001 below required 0.002" in (
        decision.reason
    )
    assert decision.evidence["deltas"]["roc_auc"] == pytest.approx(0.001)


def test_a_worse_challenger_is_not_promoted() -> None:
    decision = decide(metrics(roc_auc=0.801), metrics(roc_auc=0.803), POLICY)

    assert not decision.promote
    assert "improvement -0.002 below required 0.002" in decision.reason


def test_an_improvement_of_at_least_the_margin_is_promoted() -> None:
    decision = decide(metrics(roc_auc=0.805), metrics(roc_auc=0.803), POLICY)

    assert decision.promote, decision.reason
    assert decision.reason.startswith(
        "roc_auc 0.805 vs champion 0.803: improvement 0.002 meets required 0.002"
    )
    assert decision.evidence["challenger"]["roc_auc"] == 0.805
    assert decision.evidence["champion"]["roc_auc"] == 0.803


def test_equal_models_are_not_promoted_even_without_a_margin() -> None:
    same = metrics()

    assert not decide(same, same, POLICY).promote
    no_margin = decide(same, same, PromotionPolicy(min_improvement=0))
    assert not no_margin.promote
    assert "no better at all" in no_margin.reason


def test_a_guard_metric_regression_blocks_promotion() -> None:
    champion = metrics()
    challenger = metrics(roc_auc=0.83, log_loss=0.48)

    decision = decide(challenger, champion, POLICY)

    assert not decision.promote
    assert "log_loss 0.480 vs champion 0.450: regressed 0.030, more than the allowed 0.020" in (
        decision.reason
    )


def test_a_regression_within_the_guard_is_allowed() -> None:
    decision = decide(metrics(roc_auc=0.83, log_loss=0.46, ece=0.045), metrics(), POLICY)

    assert decision.promote, decision.reason


def test_lower_is_better_metrics_can_be_primary() -> None:
    policy = PromotionPolicy(
        primary_metric="log_loss", min_improvement=0.01, absolute_floor={"ece": 0.05}
    )

    assert decide(metrics(log_loss=0.43), metrics(log_loss=0.45), policy).promote
    worse = decide(metrics(log_loss=0.47), metrics(log_loss=0.45), policy)
    assert not worse.promote and "improvement -0.020" in worse.reason
    over_ceiling = decide(metrics(log_loss=0.40, ece=0.06), metrics(), policy)
    assert not over_ceiling.promote and "ece 0.060 above the ceiling 0.050" in over_ceiling.reason


def test_metrics_from_different_holdouts_are_not_compared() -> None:
    decision = decide(metrics(roc_auc=0.9, rows=1500), metrics(rows=2000), POLICY)

    assert not decision.promote
    assert "not comparable: challenger scored on 1500 rows, champion on 2000" in decision.reason


def test_a_policy_only_names_metrics_that_rank_models() -> None:
    with pytest.raises(ValidationError, match="positive_rate"):
        PromotionPolicy(primary_metric="positive_rate")
    with pytest.raises(ValidationError, match="non-negative"):
        PromotionPolicy(guard_metrics={"ece": -0.1})
