"""Learn a dataset spec from a sample table: each column's kind, dtype, categories and labels.

Values are spelled as the spec stores them through :func:`driftloop.data.conform.as_labels`,
the same rule every batch is conformed with.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as ptypes
from pydantic import ValidationError

from driftloop.exceptions import SpecError
from driftloop.spec import DatasetSpec, Feature, SourceSpec
from driftloop.spec.labels import as_labels

#: Most distinct values a text column may have and still be inferred as categorical.
MAX_CATEGORIES = 100
#: Most distinct values an integer column may have to be read as a category code.
MAX_CODE_VALUES = 20
#: Name words that mark an integer column as a code rather than a quantity.
CODE_NAME_WORDS = frozenset(
    {
        "bucket",
        "cat",
        "category",
        "class",
        "code",
        "grade",
        "group",
        "id",
        "kind",
        "level",
        "postcode",
        "rating",
        "region",
        "segment",
        "status",
        "tier",
        "type",
        "zip",
    }
)
POSITIVE_WORDS = frozenset(
    {
        "bad",
        "churn",
        "churned",
        "default",
        "defaulted",
        "fail",
        "failed",
        "failure",
        "fraud",
        "pos",
        "positive",
        "spam",
        "t",
        "true",
        "y",
        "yes",
    }
)
NEGATIVE_WORDS = frozenset(
    {"0", "f", "false", "good", "n", "neg", "negative", "no", "normal", "ok", "paid", "pass"}
)
# A text column whose values are all distinct, beyond this many, is an identifier or free text.
_ALL_DISTINCT_LIMIT = 20
# Share of parseable numbers above which a text column is taken for a numeric one with junk.
_MOSTLY_NUMERIC = 0.9
_ISO_DATETIME = (
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)


def infer_spec(
    df: pd.DataFrame,
    *,
    name: str,
    source: SourceSpec,
    target: str,
    id_column: str | None = None,
    event_time_column: str | None = None,
    categorical: Collection[str] = (),
    exclude: Collection[str] = (),
) -> DatasetSpec:
    """Infer a spec for a binary classifier from a sample of the data.

    Rules, applied to every column except the target, id, event-time and ``exclude`` columns
    (features keep the sample's column order):

    * bool columns (numpy, nullable, or objects holding only bools) are numeric ``bool``;
    * integer-valued numeric columns are categorical when their name holds a code word
      (``CODE_NAME_WORDS``: type, code, level, grade, region, ...) and they have at most
      ``MAX_CODE_VALUES`` distinct values; counts without such a name stay numeric, because a
      range check with slack tolerates new values and a category check does not;
    * other numeric columns are numeric: ``int64`` when integer-typed without nulls, else
      ``float64``;
    * text columns are categorical with at most ``MAX_CATEGORIES`` distinct values; more, or
      more than 20 values that are all distinct (an identifier or free text), raise, as does
      text that is mostly numbers (a numeric column with junk such as ``'?'``);
    * date/time columns (datetime dtypes or ISO-8601 text) are only allowed as the event time;
    * ``categorical`` forces columns to categorical and lifts the limits.

    Categories are the sample's values as strings (:func:`as_labels`), sorted as strings.
    ``nullable`` is whether the sample has nulls. The target must have exactly two labels and
    no nulls. The positive label is the one that reads as positive (yes, y, true, bad, default,
    churn, fraud, ...), else the other of one that reads as negative (no, n, false, 0, good,
    ...), else the minority class (on a tie, the last label in sorted order).

    Raises:
        SpecError: a named column is missing or unfit for its role, a column cannot be used
            as a feature (the message says whether to drop, exclude or mark it), or the target
            is not binary.

    """
    _check_names(df, [target, id_column, event_time_column, *categorical, *exclude])
    target_values, positive = _infer_target(df, target)
    if id_column is not None:
        _check_id(df[id_column], id_column)
    if event_time_column is not None and not _is_datetime_like(df[event_time_column]):
        raise SpecError(
            f"event time column {event_time_column!r} does not hold dates or times "
            f"(dtype {df[event_time_column].dtype})"
        )
    roles = {target, id_column, event_time_column, *exclude} - {None}
    forced = set(categorical)
    features = [
        _infer_feature(df[column], column, forced=column in forced)
        for column in df.columns
        if column not in roles
    ]
    if not features:
        raise SpecError("the sample has no feature columns besides the target, id and event time")
    try:
        return DatasetSpec(
            name=name,
            source=source,
            target=target,
            target_values=target_values,
            positive_label=positive,
            id_column=id_column,
            event_time_column=event_time_column,
            features=features,
        )
    except ValidationError as exc:
        problems = "; ".join(err["msg"] for err in exc.errors())
        raise SpecError(f"cannot build a spec for {name!r}: {problems}") from exc


def _check_names(df: pd.DataFrame, wanted: list[str | None]) -> None:
    bad = [c for c in df.columns if not isinstance(c, str)]
    if bad:
        raise SpecError(f"column names must be text, got {bad[:5]} (does the file have a header?)")
    if df.columns.has_duplicates:
        raise SpecError(f"columns appear twice: {sorted(set(df.columns[df.columns.duplicated()]))}")
    missing = [c for c in wanted if c is not None and c not in df.columns]
    if missing:
        raise SpecError(
            f"column {missing[0]!r} is not in the sample; its columns are {list(df.columns)}"
        )


def _infer_target(df: pd.DataFrame, target: str) -> tuple[list[str], str]:
    values = df[target]
    nulls = int(values.isna().sum())
    if nulls:
        raise SpecError(
            f"target {target!r} is missing in {nulls} of {len(values)} rows; "
            "drop unlabelled rows before inferring a spec"
        )
    counts = as_labels(values).value_counts()
    labels = sorted(counts.index)
    if len(labels) != 2:
        shown = ", ".join(repr(v) for v in labels[:10])
        raise SpecError(
            f"target {target!r} has {len(labels)} distinct value(s) ({shown}); "
            "a binary classifier needs exactly two labels"
        )
    return labels, _positive_label(counts)


def _positive_label(counts: pd.Series) -> str:
    labels = sorted(counts.index)
    positive = [v for v in labels if v.strip().lower() in POSITIVE_WORDS]
    if len(positive) == 1:
        return positive[0]
    negative = [v for v in labels if v.strip().lower() in NEGATIVE_WORDS]
    if len(negative) == 1:
        return next(v for v in labels if v != negative[0])
    return min(reversed(labels), key=lambda v: counts[v])


def _check_id(values: pd.Series, column: str) -> None:
    if values.isna().any():
        raise SpecError(f"id column {column!r} has {int(values.isna().sum())} null values")
    duplicated = values[values.duplicated()]
    if not duplicated.empty:
        raise SpecError(
            f"id column {column!r} is not unique: {len(duplicated)} repeats, "
            f"e.g. {duplicated.iloc[:3].tolist()}"
        )


def _infer_feature(values: pd.Series, column: str, *, forced: bool) -> Feature:
    nullable = bool(values.isna().any())
    present = values.dropna()
    if present.empty:
        raise SpecError(f"column {column!r} has no values in the sample; exclude it")
    dates = SpecError(
        f"column {column!r} holds dates or times, which a model cannot use as they are; "
        "pass it as event_time_column, or exclude it (and derive numeric features upstream)"
    )
    if ptypes.is_datetime64_any_dtype(values) or ptypes.is_timedelta64_dtype(values):
        raise dates
    if ptypes.is_bool_dtype(values):
        return Feature(name=column, kind="numeric", dtype="bool", nullable=nullable)
    if ptypes.is_numeric_dtype(values):
        return _numeric_or_code(values, column, forced=forced, nullable=nullable)
    if not ptypes.is_object_dtype(values) and not isinstance(
        values.dtype, pd.StringDtype | pd.CategoricalDtype
    ):
        raise SpecError(f"column {column!r} has unsupported dtype {values.dtype}; exclude it")
    distinct = _distinct(present, column)
    if distinct.map(lambda v: isinstance(v, bool | np.bool_)).all():
        return Feature(name=column, kind="numeric", dtype="bool", nullable=nullable)
    if _holds_dates(distinct):
        raise dates
    if distinct.map(_is_number).all():
        return _numeric_or_code(pd.to_numeric(values), column, forced=forced, nullable=nullable)
    if not forced:
        _check_text(distinct, rows=len(present), column=column)
    return _categorical(distinct, column, nullable)


def _numeric_or_code(values: pd.Series, column: str, *, forced: bool, nullable: bool) -> Feature:
    distinct = pd.Series(pd.unique(values.dropna()))
    if forced or _looks_like_code(distinct, column):
        return _categorical(distinct, column, nullable)
    integer = ptypes.is_integer_dtype(values) and not nullable
    return Feature(
        name=column, kind="numeric", dtype="int64" if integer else "float64", nullable=nullable
    )


def _categorical(distinct: pd.Series, column: str, nullable: bool) -> Feature:
    categories = sorted(set(as_labels(distinct)))
    return Feature(
        name=column, kind="categorical", dtype="string", nullable=nullable, categories=categories
    )


def _looks_like_code(distinct: pd.Series, column: str) -> bool:
    if len(distinct) > MAX_CODE_VALUES or not (distinct % 1 == 0).all():
        return False
    words = set(re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", column).lower()))
    return bool(words & CODE_NAME_WORDS)


def _check_text(distinct: pd.Series, *, rows: int, column: str) -> None:
    numbers = pd.to_numeric(distinct.astype(str), errors="coerce")
    parsed = float(numbers.notna().mean())
    if _MOSTLY_NUMERIC <= parsed < 1:
        junk = distinct[numbers.isna()].astype(str).tolist()[:5]
        raise SpecError(
            f"column {column!r} is text but {parsed:.0%} of its distinct values are numbers; "
            f"non-numeric values e.g. {junk}: clean them (or read them as missing), "
            "or force the column with categorical=[...]"
        )
    count = len(distinct)
    if count > MAX_CATEGORIES or (count == rows and count > _ALL_DISTINCT_LIMIT):
        raise SpecError(
            f"column {column!r} has {count} distinct text values in {rows} rows, "
            f"too many for a category (limit {MAX_CATEGORIES}); exclude it, pass it as "
            "id_column, or force it with categorical=[...]"
        )


def _distinct(present: pd.Series, column: str) -> pd.Series:
    try:
        return pd.Series(pd.unique(present), dtype=object)
    except TypeError as exc:
        raise SpecError(
            f"column {column!r} holds values that are not plain data ({exc}); exclude it"
        ) from exc


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_)


def _holds_dates(distinct: pd.Series) -> bool:
    if distinct.map(lambda v: isinstance(v, datetime.date | np.datetime64)).all():
        return True
    if not distinct.map(lambda v: isinstance(v, str)).all():
        return False
    return bool(distinct.str.fullmatch(_ISO_DATETIME).all())


def _is_datetime_like(values: pd.Series) -> bool:
    if ptypes.is_datetime64_any_dtype(values) or ptypes.is_timedelta64_dtype(values):
        return True
    present = values.dropna()
    if present.empty or ptypes.is_numeric_dtype(values) or ptypes.is_bool_dtype(values):
        return False
    return _holds_dates(_distinct(present, str(values.name)))
