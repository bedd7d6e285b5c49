"""Baseline Great Expectations suites, learned from a sample that fits the dataset spec.

The suite is plain JSON (GX's own format), written to ``expectations/`` and committed with
the spec: users read and edit it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

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


def build_suite(df: pd.DataFrame, spec: DatasetSpec, *, slack: float = 0.25) -> dict[str, Any]:
    """Build the baseline expectation suite for ``spec`` from a sample that fits it.

    Expectations: the exact column set, at least one row, and per column (in ``spec.columns``
    order) its type, non-null when the sample had no nulls (always for the id and target), the
    sample's range widened by ``slack`` times its width for numbers, met by ``RANGE_MOSTLY`` of
    the rows (plus a strict ``>= 0`` when the sample has no negatives), the known categories
    or target labels, and unique ids. The id
    column's type follows the sample; the event-time column only gets the null check, as its
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
        gxe.ExpectTableColumnsToMatchSet(column_set=spec.columns, exact_match=True),
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
    ]
    for column in spec.columns:
        values = df[column]
        if column == spec.event_time_column:
            if not values.isna().any():
                expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
            continue
        if column == spec.id_column:
            numeric = pd.api.types.is_numeric_dtype(values)
            expectations += [
                gxe.ExpectColumnValuesToBeInTypeList(
                    column=column, type_list=NUMERIC_TYPES if numeric else STRING_TYPES
                ),
                gxe.ExpectColumnValuesToNotBeNull(column=column),
                gxe.ExpectColumnValuesToBeUnique(column=column),
            ]
            continue
        if column == spec.target:
            expectations += [
                gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=STRING_TYPES),
                gxe.ExpectColumnValuesToNotBeNull(column=column),
                gxe.ExpectColumnValuesToBeInSet(column=column, value_set=spec.target_values),
            ]
            continue
        expectations += _feature_expectations(gxe, spec.feature(column), values, slack=slack)

    suite = gx.ExpectationSuite(
        name=spec.name,
        expectations=expectations,
        meta={"driftloop": {"dataset": spec.name, "generated_from_rows": len(df)}},
    )
    return suite.to_json_dict()


def _feature_expectations(
    gxe: Any, feature: Feature, values: pd.Series, *, slack: float
) -> list[Any]:
    """A feature's type, null, range (numbers) or category (categoricals) expectations."""
    column = feature.name
    expectations: list[Any] = []
    if feature.kind == "categorical":
        type_list = STRING_TYPES
    else:
        type_list = BOOL_TYPES if feature.dtype == "bool" else NUMERIC_TYPES
    expectations.append(gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=type_list))
    if not feature.nullable:
        expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column))
    if feature.kind == "categorical":
        expectations.append(
            gxe.ExpectColumnValuesToBeInSet(column=column, value_set=feature.categories)
        )
    elif feature.dtype != "bool":
        low, high = _bounds(values, column, slack=slack, integer=feature.dtype == "int64")
        if low >= 0:
            # A sign is a hard fact of the column (amounts, counts): no row may break it.
            expectations.append(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=0))
        # The learned range is a soft one: heavy tails put a few honest rows past any
        # sample's extremes, so it only fails when more than RANGE_MOSTLY's share are out.
        expectations.append(
            gxe.ExpectColumnValuesToBeBetween(
                column=column, min_value=low, max_value=high, mostly=RANGE_MOSTLY
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
