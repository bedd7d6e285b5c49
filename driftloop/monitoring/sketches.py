"""What a column's whylogs sketches say: counts, frequent items, shares over shared bins.

Drift scores (:mod:`~driftloop.monitoring.drift`) compare these shares; the drift report
(:mod:`~driftloop.monitoring.report_html`) draws them as :class:`FeatureDistribution`.
Every share is of all rows, missing values included as their own last bin.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from whylogs.core.view.column_profile_view import ColumnProfileView
    from whylogs.core.view.dataset_profile_view import DatasetProfileView

# Numeric Hellinger distances compare the mass in the reference's 20 equal-mass bins.
_QUANTILE_SPLITS = [i / 20 for i in range(1, 20)]
# A chart's numeric bins: equal widths between the 1st and 99th percentiles of both sides.
_CHART_BINS = 16
_CHART_RANGE = [0.01, 0.99]
# A chart's categories: the most common ones on either side, the rest as "other".
_CHART_CATEGORIES = 12
OTHER, MISSING = "(other)", "(missing)"


class FeatureDistribution(BaseModel):
    """One column's reference and target shares over the same bins: what its chart draws."""

    model_config = ConfigDict(frozen=True)

    name: str
    numeric: bool
    bins: list[str]
    reference: list[float]
    target: list[float]


def counts(column: ColumnProfileView) -> tuple[int, int]:
    """Rows and missing values of a column."""
    metric = column.get_metric("counts")
    if metric is None:
        return 0, 0
    return int(metric.n.value), int(metric.null.value)


def rows(view: DatasetProfileView) -> int:
    """The rows of a profile: those of its longest column."""
    return max((counts(c)[0] for c in view.get_columns().values()), default=0)


def frequent(column: ColumnProfileView) -> dict[str, float]:
    """The frequent-items sketch's values and their estimated counts."""
    metric = column.get_metric("frequent_items")
    if metric is None:
        return {}
    return {item.value: float(item.est) for item in metric.to_summary_dict()["frequent_strings"]}


def new_categories(
    target: ColumnProfileView, reference: ColumnProfileView
) -> tuple[list[str], float]:
    """The target's values the reference never saw, and their share of present values."""
    seen = frequent(reference)
    current = frequent(target)
    new = sorted(value for value, count in current.items() if count > 0 and value not in seen)
    total, missing = counts(target)
    present = total - missing
    share = sum(current[value] for value in new) / present if present else 0.0
    return new, share


def with_missing(pmf: list[float], column: ColumnProfileView) -> list[float]:
    """Scale a distribution of present values to the present share and append the missing share.

    A surge of missing values then moves the distance too.
    """
    total, missing = counts(column)
    missing_share = missing / total if total else 0.0
    mass = sum(pmf)
    present = [(1 - missing_share) * p / mass for p in pmf] if mass else [0.0] * len(pmf)
    return [*present, missing_share]


def numeric_pmfs(
    target: ColumnProfileView, reference: ColumnProfileView
) -> tuple[list[float], list[float]] | None:
    """Target and reference shares in the reference's 20 equal-mass bins, then missing."""
    sketches = _klls(target, reference)
    if sketches is None:
        return None
    target_kll, reference_kll = sketches
    splits = sorted(set(reference_kll.get_quantiles(_QUANTILE_SPLITS)))
    return (
        with_missing(list(target_kll.get_pmf(splits)), target),
        with_missing(list(reference_kll.get_pmf(splits)), reference),
    )


def category_pmfs(
    target: ColumnProfileView, reference: ColumnProfileView
) -> tuple[list[float], list[float]] | None:
    """Target and reference shares of every frequent value, then "other", then missing."""
    target_items, reference_items = frequent(target), frequent(reference)
    if not target_items or not reference_items:
        return None
    support = sorted(set(target_items) | set(reference_items))
    return _category_shares(target_items, target, support), _category_shares(
        reference_items, reference, support
    )


def hellinger(p: list[float], q: list[float]) -> float:
    """The Hellinger distance of two distributions over the same bins."""
    overlap = sum(math.sqrt(a * b) for a, b in zip(p, q, strict=True))
    return math.sqrt(max(0.0, 1.0 - overlap))


def numeric_distribution(
    name: str, target: ColumnProfileView, reference: ColumnProfileView
) -> FeatureDistribution | None:
    """Both sides over equal-width bins between their 1st and 99th percentiles.

    The first and last bins are open: they hold the tails. ``None`` without sketches.
    """
    sketches = _klls(target, reference)
    if sketches is None:
        return None
    lows, highs = zip(*(kll.get_quantiles(_CHART_RANGE) for kll in sketches), strict=True)
    low, high = min(lows), max(highs)
    width = (high - low) / _CHART_BINS
    edges = sorted({low + i * width for i in range(1, _CHART_BINS)}) if width > 0 else [low]
    bins = [f"< {_short(edges[0])}"]
    bins += [f"{_short(a)} to {_short(b)}" for a, b in itertools.pairwise(edges)]
    bins.append(f">= {_short(edges[-1])}")
    target_kll, reference_kll = sketches
    return _with_missing_bin(
        name,
        numeric=True,
        bins=bins,
        target=with_missing(list(target_kll.get_pmf(edges)), target),
        reference=with_missing(list(reference_kll.get_pmf(edges)), reference),
    )


def category_distribution(
    name: str, target: ColumnProfileView, reference: ColumnProfileView
) -> FeatureDistribution | None:
    """The most common values on either side, then the rest, then missing values.

    ``None`` when either side has no frequent values.
    """
    target_items, reference_items = frequent(target), frequent(reference)
    if not target_items or not reference_items:
        return None
    target_total = max(counts(target)[0] - counts(target)[1], 1)
    reference_total = max(counts(reference)[0] - counts(reference)[1], 1)

    def largest_share(value: str) -> float:
        return max(
            target_items.get(value, 0.0) / target_total,
            reference_items.get(value, 0.0) / reference_total,
        )

    support = sorted(set(target_items) | set(reference_items), key=lambda v: (-largest_share(v), v))
    shown = support[:_CHART_CATEGORIES]
    return _with_missing_bin(
        name,
        numeric=False,
        bins=[*shown, OTHER],
        target=_category_shares(target_items, target, shown),
        reference=_category_shares(reference_items, reference, shown),
    )


def _klls(target: ColumnProfileView, reference: ColumnProfileView) -> tuple[Any, Any] | None:
    """Both sides' KLL quantile sketches, or ``None`` when either is missing or empty."""
    target_metric = target.get_metric("distribution")
    reference_metric = reference.get_metric("distribution")
    if target_metric is None or reference_metric is None:
        return None
    target_kll, reference_kll = target_metric.kll.value, reference_metric.kll.value
    if target_kll.is_empty() or reference_kll.is_empty():
        return None
    return target_kll, reference_kll


def _category_shares(
    items: dict[str, float], column: ColumnProfileView, support: list[str]
) -> list[float]:
    total, missing = counts(column)
    present = max(total - missing, 1)
    shares = [items.get(value, 0.0) / present for value in support]
    # Items the sketch dropped (beyond its capacity), or not in ``support``, form one bin.
    return with_missing([*shares, max(0.0, 1.0 - sum(shares))], column)


def _with_missing_bin(
    name: str, *, numeric: bool, bins: list[str], target: list[float], reference: list[float]
) -> FeatureDistribution:
    """The distribution, its last (missing) bin kept only when a side has missing values."""
    if target[-1] or reference[-1]:
        bins = [*bins, MISSING]
    else:
        target, reference = target[:-1], reference[:-1]
    return FeatureDistribution(
        name=name, numeric=numeric, bins=bins, reference=reference, target=target
    )


def _short(value: float) -> str:
    """A bin edge in a few characters: ``1.2k``, ``0.35``, ``-3.1M``."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"
