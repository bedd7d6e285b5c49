"""What the ingest suite learned about each feature, turned into per-row warnings at serving.

The dataset's expectation suite (``driftloop.validation.suites``) holds each numeric
feature's learned range (rule ``range``) and, where the sample was never negative, a sign
rule (rule ``sign``). Ingest judges those over a batch; serving judges each row, and never
refuses one for them: a value beyond the range, a negative in a never-negative feature, a
null in a feature the spec marks not nullable, or an unknown category is scored, and the
row's ``warnings`` say so (see :class:`InputChecks`).

The caller reads the suite (``bento/service.py`` with ``load_suite``): serving may not
import validation (``docs/architecture.md``), and nothing here needs Great Expectations.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from driftloop.spec import DatasetSpec

BETWEEN = "expect_column_values_to_be_between"

RANGE = "range"
NULL = "null"
CATEGORY = "category"
SIGN = "sign"


@dataclass(frozen=True)
class FeatureLimits:
    """What the suite learned about one numeric feature.

    Attributes:
        low: Lower end of the learned range (``None``: no lower end).
        high: Upper end of the learned range (``None``: no upper end).
        sign: The feature is never negative (the suite has a sign rule for it).
    """

    low: float | None = None
    high: float | None = None
    sign: bool = False


def learned_limits(suite: Mapping[str, Any]) -> dict[str, FeatureLimits]:
    """Per-feature limits from a suite (as ``load_suite`` reads it), keyed by column name.

    Rules are recognised by ``meta.driftloop.rule``, whatever their tier (serving answers
    both with a warning): a ``range`` rule gives the column's bounds, a ``sign`` rule
    (``min_value`` 0, no maximum) its sign. A bound that is not a number (a GX parameter,
    say) is left open. Columns without either rule are absent.
    """
    found: dict[str, dict[str, Any]] = {}
    for expectation in suite["expectations"]:
        kwargs = expectation["kwargs"]
        meta = expectation.get("meta")
        ours = meta.get("driftloop") if isinstance(meta, dict) else None
        rule = ours.get("rule") if isinstance(ours, dict) else None
        column = kwargs.get("column")
        if expectation["type"] != BETWEEN or not isinstance(column, str):
            continue
        low, high = _number(kwargs.get("min_value")), _number(kwargs.get("max_value"))
        if rule == SIGN and low == 0 and kwargs.get("max_value") is None:
            found.setdefault(column, {})["sign"] = True
        elif rule == RANGE and (low is not None or high is not None):
            limits = found.setdefault(column, {})
            # Two range rules on one column: a value outside either is outside.
            if low is not None:
                limits["low"] = max(low, limits.get("low", low))
            if high is not None:
                limits["high"] = min(high, limits.get("high", high))
    return {column: FeatureLimits(**limits) for column, limits in found.items()}


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class InputChecks:
    """A request model's input checks, vectorised over the encoded float32 matrix.

    Per column, the matrix is compared with a lower and an upper bound (infinite where
    nothing is known), and its NaNs are looked at where they may mean something: categorical
    columns (an unknown category encodes as NaN) and features the spec marks not nullable.
    Only the cells these few comparisons flag are visited in Python, to write their warning.

    Args:
        spec: The dataset spec, with the features' real names (used in warnings and labels).
        limits: Learned limits by feature name (:func:`learned_limits`); others are open.
    """

    def __init__(
        self,
        spec: DatasetSpec,
        limits: Mapping[str, FeatureLimits],
    ) -> None:
        self.names = spec.feature_names
        self.nullable = [feature.nullable for feature in spec.features]
        self.categorical = [feature.kind == "categorical" for feature in spec.features]
        # Category codes are indexes, not quantities: a range on one would mean nothing.
        self.limits = [
            FeatureLimits() if categorical else limits.get(name, FeatureLimits())
            for name, categorical in zip(self.names, self.categorical, strict=True)
        ]
        # Bounds in float32, like the matrix: rounding is monotonic, so a value sent exactly at
        # a bound stays at it (against a float64 bound, 2.358 as float32 would be above 2.358).
        self.low = np.array([_floor(limit) for limit in self.limits], dtype=np.float32)
        self.high = np.array(
            [np.inf if limit.high is None else limit.high for limit in self.limits],
            dtype=np.float32,
        )
        self.watch_nan = np.array(
            [
                categorical or not nullable
                for categorical, nullable in zip(self.categorical, self.nullable, strict=True)
            ]
        )

    def review(
        self, matrix: np.ndarray, value: Callable[[int, int], Any]
    ) -> tuple[dict[int, list[str]], Counter[tuple[str, str]]]:
        """Warnings for the encoded ``matrix``, and their count per (feature, kind).

        ``value(row, feature)`` is the value sent, which the warnings quote.

        Returns:
            Each flagged row's warnings, in feature order, and how many warnings of each
            kind (``range``, ``null``, ``category``, ``sign``) each feature had.
        """
        flagged = (matrix < self.low) | (matrix > self.high)
        flagged |= np.isnan(matrix) & self.watch_nan
        warnings: dict[int, list[str]] = {}
        counts: Counter[tuple[str, str]] = Counter()
        if not flagged.any():
            return warnings, counts
        rows, columns = np.nonzero(flagged)
        for row, column in zip(rows.tolist(), columns.tolist(), strict=True):
            found = self._warning(column, value(row, column))
            if found is not None:
                kind, text = found
                warnings.setdefault(row, []).append(text)
                counts[self.names[column], kind] += 1
        return warnings, counts

    def _warning(self, column: int, value: Any) -> tuple[str, str] | None:
        """The kind and text of the warning for ``value`` flagged in ``column``, if it has one."""
        if value is None:
            # Flagged as NaN: a categorical null is only news where the spec forbids nulls.
            if self.nullable[column]:
                return None
            kind, problem, outcome = NULL, "null, but the feature is not nullable", "missing"
        elif self.categorical[column]:
            kind, problem, outcome = CATEGORY, f"unknown category {value!r}", "missing"
        else:
            limit, number, outcome = self.limits[column], _text(value), "sent"
            if limit.sign and value < 0:
                kind, problem = SIGN, f"{number} is negative, which the feature never is"
            elif limit.low is not None and value < limit.low:
                kind, problem = RANGE, f"{number} is below the learned minimum {_text(limit.low)}"
            else:
                # Flagged, and neither negative nor low: above a maximum the suite has.
                high = _text(cast(float, limit.high))
                kind, problem = RANGE, f"{number} is above the learned maximum {high}"
        return kind, f"feature {self.names[column]!r}: {problem}, scored as {outcome}"


def _floor(limit: FeatureLimits) -> float:
    """The lowest value a numeric column takes without a warning."""
    low = -np.inf if limit.low is None else limit.low
    return max(low, 0.0) if limit.sign else low


def _text(number: float) -> str:
    """A number as a client wrote it: requests arrive as floats, so ``3`` shows as ``3``."""
    text = repr(float(number))
    return text.removesuffix(".0")
