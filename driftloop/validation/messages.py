"""GX's validation results told in words: each failed expectation, its column and examples.

Turns an ``ExpectationSuiteValidationResult`` into :class:`FailedExpectation` records whose
messages a person can act on ("column 'age' has 12 values below 0, e.g. -5").
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftloop.spec import DatasetSpec
from driftloop.validation.report import FailedExpectation
from driftloop.validation.suites import BOOL_TYPES, CRITICAL, NUMERIC_TYPES, STRING_TYPES

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
_TYPE_NAMES = {
    tuple(NUMERIC_TYPES): "numbers",
    tuple(BOOL_TYPES): "booleans",
    tuple(STRING_TYPES): "text",
}
_MAX_EXAMPLES = 5
_MAX_LISTED = 10


def describe_failures(
    result: ExpectationSuiteValidationResult,
    suite: ExpectationSuite,
    df: pd.DataFrame,
    spec: DatasetSpec,
) -> list[FailedExpectation]:
    """The failed expectations of ``result``, in suite order, each with a readable message."""
    order = {e.id: i for i, e in enumerate(suite.expectations)}
    failed = sorted(
        (r for r in result.results if not r.success),
        key=lambda r: order.get(r.expectation_config.id, len(order)),
    )
    wrong_type = {
        r.expectation_config.kwargs.get("column")
        for r in failed
        if r.expectation_config.type == "expect_column_values_to_be_in_type_list"
        and exception_message(r) is None
    }
    return [_describe(r, df, spec, wrong_type) for r in failed]


@dataclass(frozen=True)
class _Failed:
    """What a message about one failed expectation is made from."""

    subject: str
    column: str | None
    kwargs: dict[str, Any]
    details: dict[str, Any]
    examples: list[Any]
    frame: pd.DataFrame

    @property
    def count(self) -> Any:
        return self.details.get("unexpected_count")

    @property
    def observed(self) -> Any:
        return self.details.get("observed_value")


def _describe(
    evr: ExpectationValidationResult,
    df: pd.DataFrame,
    spec: DatasetSpec,
    wrong_type: set[str],
) -> FailedExpectation:
    config = evr.expectation_config
    column = config.kwargs.get("column")
    examples = _examples(evr.result or {})
    if (
        config.type == "expect_column_values_to_be_in_type_list"
        and config.kwargs.get("type_list") == NUMERIC_TYPES
        and column in df.columns
    ):
        # Numbers spelled as text are wrong too, but the junk ('?', 'n/a') is what to show.
        examples = _non_numbers(df[column]) or examples
    failed = _Failed(
        subject=f"target {column!r}" if column == spec.target else f"column {column!r}",
        column=column,
        kwargs=config.kwargs,
        details=evr.result or {},
        examples=examples,
        frame=df,
    )
    error = exception_message(evr)
    if error is None:
        message, observed = _MESSAGES.get(config.type, _generic_message)(failed)
    else:
        message, observed = _error_message(failed, error, wrong_type), None
    return FailedExpectation(
        expectation=config.type,
        column=column,
        kwargs={
            k: _abridge(v) for k, v in config.kwargs.items() if k not in {"batch_id", "column"}
        },
        unexpected_count=failed.count,
        unexpected_percent=failed.details.get("unexpected_percent"),
        examples=failed.examples,
        observed=_json_safe(observed),
        message=message,
        rule=(config.meta or {}).get("driftloop", {}).get("rule"),
        severity=severity_of(config),
    )


def severity_of(config: Any) -> str:
    """The expectation's tier; an expectation without one is critical, as in GX."""
    severity = getattr(config, "severity", None)
    return str(getattr(severity, "value", severity) or CRITICAL)


def _error_message(failed: _Failed, error: str, wrong_type: set[str]) -> str:
    if failed.column is not None and failed.column not in failed.frame.columns:
        return f"{failed.subject} is missing from the batch, so it was not checked"
    repeats = int((failed.frame.columns == failed.column).sum())
    if repeats > 1:
        return f"{failed.subject} appears {repeats} times in the batch, so it was not checked"
    if failed.column in wrong_type:
        return f"{failed.subject} has the wrong type, so its values were not checked"
    return f"{failed.subject} could not be checked: {error}"


def _columns_message(failed: _Failed) -> tuple[str, Any]:
    expected = list(failed.kwargs.get("column_set") or [])
    actual = list(failed.observed or [])
    observed = {
        "missing": [c for c in expected if c not in actual],
        "unexpected": [c for c in actual if c not in expected],
    }
    parts = [f"{label} columns: {observed[label]}" for label in observed if observed[label]]
    return "; ".join(parts) or f"columns {actual} do not match {expected}", observed


def _row_count_message(failed: _Failed) -> tuple[str, Any]:
    wanted = failed.kwargs.get("min_value")
    return f"batch has {failed.observed} rows, expected at least {wanted}", failed.observed


def _type_message(failed: _Failed) -> tuple[str, Any]:
    frame, column = failed.frame, failed.column
    observed = str(frame[column].dtype) if column in frame.columns else failed.observed
    type_list = tuple(failed.kwargs.get("type_list") or ())
    expected = _TYPE_NAMES.get(type_list, f"one of {list(type_list)}")
    message = f"{failed.subject} has type {observed}, expected {expected}"
    if failed.examples:
        message += f"; {_values(failed.count)} of another type, e.g. {_listing(failed.examples)}"
    return message, observed


def _null_message(failed: _Failed) -> tuple[str, Any]:
    percent = failed.details.get("unexpected_percent") or 0.0
    mostly = failed.kwargs.get("mostly")
    allowed = (
        "none allowed" if mostly is None else f"more than the {100 * (1 - mostly):.1f}% allowed"
    )
    message = f"{failed.subject} has {_values(failed.count, 'null ')} ({percent:.1f}%), {allowed}"
    rows = failed.details.get("partial_unexpected_index_list") or []
    if rows:
        message += f", e.g. in rows {_listing(rows[:_MAX_EXAMPLES])}"
    return message, None


def _range_message(failed: _Failed) -> tuple[str, Any]:
    low, high = failed.kwargs.get("min_value"), failed.kwargs.get("max_value")
    if high is None:
        where = f"below {_number(low)}"
    elif low is None:
        where = f"above {_number(high)}"
    else:
        where = f"outside [{_number(low)}, {_number(high)}]"
    message = f"{failed.subject}: {_values(failed.count)} {where}"
    mostly = failed.kwargs.get("mostly")
    if mostly is not None:
        percent = failed.details.get("unexpected_percent") or 0.0
        message += f" ({percent:.1f}% of rows, more than the {100 * (1 - mostly):.0f}% allowed)"
    return f"{message}, e.g. {_listing(failed.examples)}", None


def _set_message(failed: _Failed) -> tuple[str, Any]:
    allowed = list(failed.kwargs.get("value_set") or [])
    known = allowed if len(allowed) <= _MAX_LISTED else f"the {len(allowed)} known values"
    return (
        f"{failed.subject}: {_values(failed.count)} not in {known}, "
        f"e.g. {_listing(failed.examples)}",
        None,
    )


def _unique_message(failed: _Failed) -> tuple[str, Any]:
    return (
        f"{failed.subject}: {failed.count} rows repeat a value, e.g. {_listing(failed.examples)}",
        None,
    )


def _generic_message(failed: _Failed) -> tuple[str, Any]:
    message = f"{failed.subject if failed.column else 'the batch'} failed"
    if failed.observed is not None:
        message += f": observed {failed.observed}"
    if failed.examples:
        message += f", e.g. {_listing(failed.examples)}"
    return message, failed.observed


_MESSAGES = {
    "expect_table_columns_to_match_set": _columns_message,
    "expect_table_row_count_to_be_between": _row_count_message,
    "expect_column_values_to_be_in_type_list": _type_message,
    "expect_column_values_to_not_be_null": _null_message,
    "expect_column_values_to_be_between": _range_message,
    "expect_column_values_to_be_in_set": _set_message,
    "expect_column_values_to_be_unique": _unique_message,
}


def exception_message(evr: ExpectationValidationResult) -> str | None:
    """Why GX could not check the expectation, or ``None`` when it could.

    GX keeps one flat record, or one record per metric that failed to compute.
    """
    info = evr.exception_info or {}
    records = [info] if "raised_exception" in info else list(info.values())
    for record in records:
        if isinstance(record, dict) and record.get("raised_exception"):
            return str(record.get("exception_message") or "an unknown error")
    return None


def _examples(details: dict[str, Any]) -> list[Any]:
    counts = details.get("partial_unexpected_counts")
    values = [c["value"] for c in counts] if counts else details.get("partial_unexpected_list", [])
    unique: list[Any] = []
    for value in map(_json_safe, values or []):
        if value is not None and value not in unique:
            unique.append(value)
    return unique[:_MAX_EXAMPLES]


def _non_numbers(values: pd.Series) -> list[Any]:
    try:
        distinct = pd.Series(pd.unique(values.dropna()), dtype=object)
    except TypeError:  # unhashable values such as lists: GX's own examples will do
        return []
    text = distinct[distinct.map(lambda v: isinstance(v, str))]
    junk = text[pd.to_numeric(text, errors="coerce").isna()]
    return junk.tolist()[:_MAX_EXAMPLES]


def _json_safe(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else (None if math.isnan(value) else str(value))
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return str(value)


def _abridge(value: Any) -> Any:
    if isinstance(value, list) and len(value) > _MAX_LISTED:
        return [*value[:_MAX_LISTED], f"... {len(value) - _MAX_LISTED} more"]
    return _json_safe(value)


def _listing(values: list[Any]) -> str:
    return ", ".join(_number(v) if isinstance(v, float) else repr(v) for v in values)


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _values(count: Any, kind: str = "") -> str:
    return f"{count} {kind}value" if count == 1 else f"{count} {kind}values"
