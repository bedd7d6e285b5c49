"""Whether a challenger model replaces the champion: a pure decision on holdout metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from driftloop.config.promotion import METRIC_DIRECTIONS, PromotionPolicy

if TYPE_CHECKING:
    from driftloop.training.evaluation import Metrics

# Metrics are floats from sums over thousands of rows: a gap this small is rounding, not skill.
_TOLERANCE = 1e-12


class Decision(BaseModel):
    """The outcome: promote or not, one sentence why, and the numbers behind it."""

    model_config = ConfigDict(frozen=True)

    promote: bool
    reason: str
    evidence: dict[str, Any]


def decide(challenger: Metrics, champion: Metrics | None, policy: PromotionPolicy) -> Decision:
    """Decide whether ``challenger`` replaces ``champion`` (None: there is no model yet).

    Both metric sets must come from the same holdout rows; a different row count means
    they did not, and the challenger is not promoted.
    """
    evidence: dict[str, Any] = {
        "challenger": challenger.model_dump(),
        "champion": champion.model_dump() if champion else None,
        "deltas": _deltas(challenger, champion) if champion else None,
        "directions": {name: METRIC_DIRECTIONS[name] for name in _named(policy)},
        "policy": policy.model_dump(),
    }
    failures = _floor_failures(challenger, policy)
    if champion is None:
        if failures:
            return Decision(
                promote=False, reason=_sentence("first model", failures), evidence=evidence
            )
        floors = ", ".join(
            f"{name} {_value(challenger, name):.3f} meets {_bound(name)} {limit:.3f}"
            for name, limit in policy.absolute_floor.items()
        )
        reason = f"first model: {floors}" if floors else "first model: no floor to meet"
        return Decision(promote=True, reason=reason, evidence=evidence)

    if challenger.rows != champion.rows:
        failures.insert(
            0,
            f"not comparable: challenger scored on {challenger.rows} rows, "
            f"champion on {champion.rows}",
        )
    failures.extend(_primary_failures(challenger, champion, policy))
    failures.extend(_guard_failures(challenger, champion, policy))
    if failures:
        return Decision(
            promote=False, reason=_sentence("kept champion", failures), evidence=evidence
        )
    name = policy.primary_metric
    reason = (
        f"{name} {_value(challenger, name):.3f} vs champion {_value(champion, name):.3f}: "
        f"improvement {_improvement(challenger, champion, name):.3f} meets required "
        f"{policy.min_improvement:.3f}, and no guard metric regressed beyond its limit"
    )
    return Decision(promote=True, reason=reason, evidence=evidence)


def _value(metrics: Metrics, name: str) -> float:
    return float(getattr(metrics, name))


def _improvement(challenger: Metrics, champion: Metrics, name: str) -> float:
    """Change from champion to challenger, positive when the challenger is better."""
    change = _value(challenger, name) - _value(champion, name)
    return change if METRIC_DIRECTIONS[name] == "higher" else -change


def _bound(name: str) -> str:
    return "floor" if METRIC_DIRECTIONS[name] == "higher" else "ceiling"


def _floor_failures(challenger: Metrics, policy: PromotionPolicy) -> list[str]:
    failures = []
    for name, limit in policy.absolute_floor.items():
        value = _value(challenger, name)
        higher = METRIC_DIRECTIONS[name] == "higher"
        if (value + _TOLERANCE < limit) if higher else (value - _TOLERANCE > limit):
            side = "below" if higher else "above"
            failures.append(f"{name} {value:.3f} {side} the {_bound(name)} {limit:.3f}")
    return failures


def _primary_failures(challenger: Metrics, champion: Metrics, policy: PromotionPolicy) -> list[str]:
    name = policy.primary_metric
    improvement = _improvement(challenger, champion, name)
    if improvement > _TOLERANCE and improvement + _TOLERANCE >= policy.min_improvement:
        return []
    return [
        f"{name} {_value(challenger, name):.3f} vs champion {_value(champion, name):.3f}: "
        f"improvement {improvement:.3f} below required {policy.min_improvement:.3f}"
        + (" (no better at all)" if improvement <= _TOLERANCE else "")
    ]


def _guard_failures(challenger: Metrics, champion: Metrics, policy: PromotionPolicy) -> list[str]:
    failures = []
    for name, allowed in policy.guard_metrics.items():
        regression = -_improvement(challenger, champion, name)
        if regression - _TOLERANCE > allowed:
            failures.append(
                f"{name} {_value(challenger, name):.3f} vs champion "
                f"{_value(champion, name):.3f}: regressed {regression:.3f}, "
                f"more than the allowed {allowed:.3f}"
            )
    return failures


def _deltas(challenger: Metrics, champion: Metrics) -> dict[str, float]:
    """Challenger minus champion for every rankable metric (raw, not direction-adjusted)."""
    return {name: _value(challenger, name) - _value(champion, name) for name in METRIC_DIRECTIONS}


def _named(policy: PromotionPolicy) -> list[str]:
    return sorted({policy.primary_metric, *policy.guard_metrics, *policy.absolute_floor})


def _sentence(outcome: str, failures: list[str]) -> str:
    return f"{outcome}: " + "; ".join(failures)
