"""Baseline Great Expectations suites in two tiers, learned from a sample that fits the spec.

Every expectation carries GX's ``severity``:

- ``critical``: the data is **broken** and the batch is quarantined (``main`` untouched): the
  column set, values that do not parse as the column's type, the id present and unique, the
  target present with its labels, a column whose null share jumps far beyond the learned one
  (:func:`critical_null_share`), a sign the sample never broke (never negative → negative);
- ``warning``: the data has **changed**; the batch is published with the warnings in its
  commit, and they count as drift evidence: values beyond the learned range, categories never
  seen, a null share a little above the learned one (:func:`warning_null_share`).

Each expectation's ``meta.driftloop`` names its rule and why it is in its tier. Users move a
rule between tiers by editing ``severity`` in the suite file (``critical`` or ``warning``); a
suite written by hand without ``severity`` counts every rule as critical, GX's default.

The suite is plain JSON (GX's own format), written to ``expectations/`` and committed with
the spec: users read and edit it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from driftloop.exceptions import ConfigError, SpecError
from driftloop.spec import DatasetSpec, Feature

# Type names as GX's pandas type check reads them: numpy/pandas dtype names for typed
# columns, Python type names for the values of object columns.
NUMERIC_TYPES = [
    *(f"{kind}{bits}" for kind in ("int", "uint") for bits in (8, 16, 32, 64)),
    "float32",
    "float64",
    *(f"{kind}{bits}Dtype" for kind in ("Int", "UInt") for bits in (8, 16, 32, 64)),
    "Float32Dtype",
    "Float64Dtype",
    "int",
    "float",
]
BOOL_TYPES = ["bool", "BooleanDtype"]
STRING_TYPES = ["str", "StringDtype"]


RANGE_MOSTLY = 0.99
"""Share of a batch's values that must lie in a numeric column's learned range."""

CRITICAL = "critical"
WARNING = "warning"
Severity = Literal["critical", "warning"]
SEVERITIES = ("critical", "warning", "info")
"""GX's severities; anything but critical publishes the batch with a warning."""


def critical_null_share(learned: float) -> float:
    """The null share of a column that makes a batch broken, given the share learned.

    Five times the learned share, and at least 10 points above it; never a whole column: a
    column that came in entirely null is always broken. A column without nulls in the sample
    (``learned == 0``) tolerates a tenth of its rows null before the batch is quarantined; one
    with 8% nulls, 40%.
    """
    return round(min(max(5 * learned, learned + 0.10), 0.99), 4)


def warning_null_share(learned: float) -> float:
    """The null share above which a batch is published with a warning.

    Twice the learned share, and at least one point above it: a few nulls in a column that
    had none are news, not breakage.
    """
    return round(min(max(2 * learned, learned + 0.01), critical_null_share(learned)), 4)


def _rule(kind: Any, severity: Severity, rule: str, why: str, **kwargs: Any) -> Any:
    """A GX expectation of class ``kind`` in its tier, its rule's name and reason in ``meta``."""
    return kind(**kwargs, severity=severity, meta={"driftloop": {"rule": rule, "why": why}})


def build_suite(df: pd.DataFrame, spec: DatasetSpec, *, slack: float = 0.25) -> dict[str, Any]:
    """Build the baseline two-tier expectation suite for ``spec`` from a sample that fits it.

    Critical: the exact column set, at least one row, and per column (in ``spec.columns``
    order) its type; the id not null and unique; the target not null (a warning with
    ``late_labels``) with its labels; for features and the event time, a null share beyond
    :func:`critical_null_share` of the sample's; ``>= 0`` when the sample has no negatives.
    Warning: a null share beyond :func:`warning_null_share`; the sample's range widened by
    ``slack`` times its width, met by ``RANGE_MOSTLY`` of the rows; the known categories.
    The id column's type follows the sample; the event-time column has no type rule, as its
    type depends on the source (datetime with or without zone, or ISO text).

    Returns:
        The suite as ``ExpectationSuite.to_json_dict()`` gives it, without ids, so the same
        sample always gives the same file.

    Raises:
        SpecError: the sample lacks a spec column, or a numeric column has no numbers.
        ConfigError: ``slack`` is negative.

    """
    import great_expectations as gx
    import great_expectations.expectations as gxe

    if slack < 0:
        raise ConfigError(f"slack must be 0 or more, got {slack}")
    missing = [c for c in spec.columns if c not in df.columns]
    if missing:
        raise SpecError(f"the sample lacks columns of dataset {spec.name!r}: {missing}")

    expectations: list[Any] = [
        _rule(
            gxe.ExpectTableColumnsToMatchSet,
            CRITICAL,
            "columns",
            "every batch has exactly the spec's columns",
            column_set=spec.columns,
            exact_match=True,
        ),
        _rule(
            gxe.ExpectTableRowCountToBeBetween,
            CRITICAL,
            "rows",
            "an empty batch is no batch",
            min_value=1,
        ),
    ]
    for column in spec.columns:
        values = df[column]
        if column == spec.id_column:
            numeric = pd.api.types.is_numeric_dtype(values)
            why = "rows are told apart, and split for training, by their id"
            expectations += [
                _type_rule(gxe, column, NUMERIC_TYPES if numeric else STRING_TYPES),
                _rule(gxe.ExpectColumnValuesToNotBeNull, CRITICAL, "id", why, column=column),
                _rule(gxe.ExpectColumnValuesToBeUnique, CRITICAL, "id", why, column=column),
            ]
        elif column == spec.target:
            why = "a row without a known label cannot train or score a model"
            waits = (
                "a row without its label waits for it (late_labels): training and the "
                "quality check use the row once its label lands"
            )
            expectations += [
                _type_rule(gxe, column, STRING_TYPES),
                _rule(
                    gxe.ExpectColumnValuesToNotBeNull,
                    WARNING if spec.late_labels else CRITICAL,
                    "target",
                    waits if spec.late_labels else why,
                    column=column,
                ),
                _rule(
                    gxe.ExpectColumnValuesToBeInSet,
                    CRITICAL,
                    "target",
                    why,
                    column=column,
                    value_set=spec.target_values,
                ),
            ]
        elif column == spec.event_time_column:
            expectations += _null_rules(gxe, column, values)
        else:
            expectations += _feature_expectations(gxe, spec.feature(column), values, slack=slack)

    suite = gx.ExpectationSuite(
        name=spec.name,
        expectations=expectations,
        meta={
            "driftloop": {
                "dataset": spec.name,
                "generated_from_rows": len(df),
                "tiers": (
                    "severity 'critical' quarantines a batch; 'warning' publishes it with the "
                    "warning, which counts as drift evidence. Edit a rule's severity to move it."
                ),
            }
        },
    )
    return suite.to_json_dict()


def _type_rule(gxe: Any, column: str, type_list: list[str]) -> Any:
    return _rule(
        gxe.ExpectColumnValuesToBeInTypeList,
        CRITICAL,
        "type",
        "a value that does not parse as the column's type is broken data",
        column=column,
        type_list=type_list,
    )


def _null_rules(gxe: Any, column: str, values: pd.Series) -> list[Any]:
    """Two null-share rules from the sample's share: a warning, and a critical one far above."""
    learned = float(values.isna().mean()) if len(values) else 0.0
    warning, critical = warning_null_share(learned), critical_null_share(learned)
    return [
        _rule(
            gxe.ExpectColumnValuesToNotBeNull,
            WARNING,
            "nulls",
            "more nulls than twice the sample's share (and 1 point more) is a change worth a look",
            column=column,
            mostly=round(1 - warning, 4),
        ),
        _rule(
            gxe.ExpectColumnValuesToNotBeNull,
            CRITICAL,
            "nulls",
            "more nulls than five times the sample's share (and 10 points more) means the "
            "column broke upstream",
            column=column,
            mostly=round(1 - critical, 4),
        ),
    ]


def _feature_expectations(
    gxe: Any, feature: Feature, values: pd.Series, *, slack: float
) -> list[Any]:
    """A feature's type and null rules, and its range (numbers) or categories."""
    column = feature.name
    if feature.kind == "categorical":
        type_list = STRING_TYPES
    else:
        type_list = BOOL_TYPES if feature.dtype == "bool" else NUMERIC_TYPES
    expectations = [_type_rule(gxe, column, type_list), *_null_rules(gxe, column, values)]
    if feature.kind == "categorical":
        expectations.append(
            _rule(
                gxe.ExpectColumnValuesToBeInSet,
                WARNING,
                "categories",
                "a category the sample never had is new, not broken; it scores as missing",
                column=column,
                value_set=feature.categories,
            )
        )
    elif feature.dtype != "bool":
        low, high = _bounds(values, column, slack=slack, integer=feature.dtype == "int64")
        if low >= 0:
            expectations.append(
                _rule(
                    gxe.ExpectColumnValuesToBeBetween,
                    CRITICAL,
                    "sign",
                    "the sample was never negative: a sign is a fact of the column "
                    "(amounts, counts), so no row may break it",
                    column=column,
                    min_value=0,
                )
            )
        expectations.append(
            _rule(
                gxe.ExpectColumnValuesToBeBetween,
                WARNING,
                "range",
                f"the sample's range widened by {slack:.0%} of its width; heavy tails put a "
                f"few honest rows beyond it, so only more than {1 - RANGE_MOSTLY:.0%} counts",
                column=column,
                min_value=low,
                max_value=high,
                mostly=RANGE_MOSTLY,
            )
        )
    return expectations


def write_suite(suite: dict[str, Any], path: Path) -> None:
    """Write ``suite`` as pretty JSON with sorted keys and a trailing newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(suite, indent=2, sort_keys=True, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def load_suite(path: Path) -> dict[str, Any]:
    """Read a suite file written by :func:`write_suite` (or by GX).

    Raises:
        ConfigError: the file is missing, not JSON, or not shaped like a suite.

    """
    if not path.exists():
        raise ConfigError(f"expectation suite {path} does not exist (run `driftloop init`)")
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"expectation suite {path} is not readable JSON: {exc}") from exc
    if not isinstance(suite, dict) or not isinstance(suite.get("name"), str):
        raise ConfigError(f"expectation suite {path} has no 'name'")
    expectations = suite.get("expectations")
    if not isinstance(expectations, list) or not all(
        isinstance(e, dict) and isinstance(e.get("type"), str) and isinstance(e.get("kwargs"), dict)
        for e in expectations
    ):
        raise ConfigError(
            f"expectation suite {path}: 'expectations' must be a list of objects "
            "with 'type' and 'kwargs'"
        )
    return suite


def _bounds(values: pd.Series, column: str, *, slack: float, integer: bool) -> tuple[float, float]:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    numbers = numbers[np.isfinite(numbers)]
    if numbers.size == 0:
        raise SpecError(f"column {column!r} has no numbers in the sample to take a range from")
    low, high = float(numbers.min()), float(numbers.max())
    # A constant column still gets room to move, in proportion to its value.
    width = (high - low) or abs(high) or 1.0
    lower, upper = low - slack * width, high + slack * width
    if low >= 0:
        lower = max(lower, 0.0)
    if integer:
        return float(math.floor(lower)), float(math.ceil(upper))
    # Round outwards to four significant digits of the span, so the file reads well.
    exponent = math.floor(math.log10(upper - lower)) - 3 if upper > lower else 0
    step, digits = 10.0**exponent, max(0, -exponent)
    return (
        round(math.floor(lower / step) * step, digits),
        round(math.ceil(upper / step) * step, digits),
    )
