"""Turning rows into model inputs, the same way for training and for serving.

Categorical values are compared as canonical text (``"3"`` for ``3``, ``3.0`` and ``"3"``;
``"True"`` for ``True``), so a column read from CSV, Parquet or JSON maps to the same codes.
A category that is not in the spec becomes *missing*: XGBoost then sends it down the
default branch it learned for missing values, the same as a null, instead of failing the
request or guessing the nearest known category. Drift monitoring is where new categories
are noticed.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from driftloop.exceptions import SchemaMismatch, TrainingError
from driftloop.spec import DatasetSpec, Feature
from driftloop.spec.labels import as_text, is_missing, text_or_none

_FIELD_SEPARATOR = "\x1f"
_MISSING_MARK = "\x00"


def model_frame(df: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """Return the feature columns of ``df`` in spec order, typed for the model.

    Numeric features become float64; categorical features become ``pd.Categorical`` with
    exactly the spec's categories in spec order, so the codes the model learns are the
    indexes ``encode_records`` produces. Unknown categories and nulls become missing.

    Raises:
        SchemaMismatch: a feature column is absent, or a numeric one holds non-numbers.
    """
    _require_columns(df, spec.feature_names, what="feature")
    columns: dict[str, Any] = {}
    for feature in spec.features:
        values = df[feature.name]
        if feature.kind == "numeric":
            columns[feature.name] = _as_float(values, feature.name)
        else:
            columns[feature.name] = pd.Categorical(as_text(values), categories=feature.categories)
    return pd.DataFrame(columns, index=df.index)


def labels(df: pd.DataFrame, spec: DatasetSpec) -> np.ndarray:
    """Return the target as 0/1: 1 for ``spec.positive_label``, 0 for any other label.

    Raises:
        TrainingError: the target column is absent, has nulls, or holds labels outside
            ``spec.target_values`` (the message names them).
    """
    if spec.target not in df.columns:
        raise TrainingError(
            f"target column {spec.target!r} is missing; columns are {list(df.columns)}"
        )
    text = as_text(df[spec.target])
    missing = int(text.isna().sum())
    if missing:
        raise TrainingError(f"{missing} rows have no label in target column {spec.target!r}")
    unknown = sorted(set(text.unique()) - set(spec.target_values))
    if unknown:
        raise TrainingError(
            f"target column {spec.target!r} holds labels {unknown[:10]} outside "
            f"target_values {spec.target_values}"
        )
    return (text == spec.positive_label).to_numpy(dtype=np.int8)


def encode_records(records: Sequence[Mapping[str, Any]], spec: DatasetSpec) -> np.ndarray:
    """Encode request records into the float32 matrix the model predicts on.

    The fast serving path: numerics as floats, categoricals as their index in the spec's
    categories, ``None`` and unknown categories as NaN. ``Booster.inplace_predict`` gives
    the same predictions on it as on ``model_frame`` of the same rows, because the
    booster's categorical splits are stored against those same indexes.

    Raises:
        SchemaMismatch: a record lacks a feature, or a numeric feature is not a number.
    """
    matrix = np.empty((len(records), len(spec.features)), dtype=np.float32)
    for index, feature in enumerate(spec.features):
        try:
            values = [record[feature.name] for record in records]
        except KeyError as exc:
            row = next(row for row, record in enumerate(records) if feature.name not in record)
            missing = [name for name in spec.feature_names if name not in records[row]]
            raise SchemaMismatch(f"record {row} lacks features {missing}") from exc
        if feature.categories is None:
            matrix[:, index] = encode_numbers(values, feature.name)
        else:
            matrix[:, index] = encode_categories(values, repeat(category_codes(feature)))
    return matrix


def encode_numbers(values: Sequence[Any], name: str) -> np.ndarray:
    """Numbers as the model's float64 values, ``None`` (or another null) as NaN.

    Raises:
        SchemaMismatch: a value is not a number (the message names ``name`` and the value).
    """
    try:
        # None becomes NaN; anything else float() takes, float64 takes the same way.
        column = np.array(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        column = None
    if column is None or column.shape != (len(values),):
        # Another kind of null, or no number: value by value, naming the first bad one.
        column = np.array([_number(name, value) for value in values], dtype=np.float64)
    return column


def category_codes(feature: Feature) -> dict[str, float]:
    """Each of a categorical feature's categories and its code: its index in the spec."""
    return {category: float(code) for code, category in enumerate(feature.categories or ())}


def encode_categories(
    values: Iterable[Any], codes: Iterable[dict[str, float]], *, text: bool = False
) -> np.ndarray:
    """Categories as the model's float64 codes, a missing or unknown one as NaN.

    Args:
        values: The values, compared as canonical text (``3``, ``3.0`` and ``"3"`` alike).
        codes: Each value's table (:func:`category_codes` of its feature), in step with them.
        text: The values are all ``str`` or ``None``: their own canonical text.
    """
    texts = values if text else map(text_or_none, values)
    return np.array(list(map(dict.get, codes, texts)), dtype=np.float64)


def split_assignment(
    df: pd.DataFrame,
    spec: DatasetSpec,
    *,
    holdout_fraction: float = 0.2,
    validation_fraction: float = 0.1,
    salt: str = "driftloop",
) -> np.ndarray:
    """Assign every row to "train", "valid" or "holdout", the same way in every run.

    A row's split depends only on a BLAKE2b hash of ``salt`` and its id (or, with no id
    column, of its canonical content: numeric features as float64, every other spec
    column as canonical text), never on its position or on which other rows are present.
    A row therefore stays in the holdout across retrains and processes, so no model is
    scored on rows an earlier one trained on.

    Raises:
        ValueError: the fractions are not in (0, 1) or sum to 1 or more.
        SchemaMismatch: the id column (or, without one, a spec column) is absent.
    """
    if not (0 < holdout_fraction < 1 and 0 < validation_fraction < 1):
        raise ValueError("holdout_fraction and validation_fraction must be between 0 and 1")
    if holdout_fraction + validation_fraction >= 1:
        raise ValueError("holdout_fraction + validation_fraction must leave rows to train on")
    if spec.id_column:
        _require_columns(df, [spec.id_column], what="id")
        keys = [key.encode() for key in as_text(df[spec.id_column]).fillna(_MISSING_MARK)]
    else:
        _require_columns(df, spec.columns, what="spec")
        keys = _row_content(df, spec)
    prefix = f"{salt}{_FIELD_SEPARATOR}".encode()
    positions = np.fromiter(
        (_unit_interval(prefix + key) for key in keys),
        dtype=np.float64,
        count=len(keys),
    )
    return np.where(
        positions < holdout_fraction,
        "holdout",
        np.where(positions < holdout_fraction + validation_fraction, "valid", "train"),
    )


def _require_columns(df: pd.DataFrame, names: Sequence[str], *, what: str) -> None:
    missing = [name for name in names if name not in df.columns]
    if missing:
        raise SchemaMismatch(
            f"{what} columns {missing} are missing; columns are {list(df.columns)}"
        )


def _as_float(values: pd.Series, name: str) -> np.ndarray:
    try:
        return pd.to_numeric(values).to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise SchemaMismatch(f"numeric feature {name!r} holds non-numeric values: {exc}") from exc


def _number(name: str, value: Any) -> float:
    if is_missing(value):
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SchemaMismatch(
            f"numeric feature {name!r} got {value!r}, which is not a number"
        ) from exc


def _row_content(df: pd.DataFrame, spec: DatasetSpec) -> list[bytes]:
    """Each row's bytes: numeric features as float64, then the other columns as text.

    Numbers are hashed as values, not spelled out: formatting millions of floats as text
    costs more than the hashing itself. An int column that turned float keeps its bytes.
    """
    numeric = [f.name for f in spec.features if f.kind == "numeric"]
    numbers = np.column_stack(
        [_as_float(df[name], name) for name in numeric] or [np.empty((len(df), 0))]
    )
    numbers += 0.0  # -0.0 and 0.0 are the same value
    numbers[np.isnan(numbers)] = np.nan  # one NaN bit pattern
    packed = np.ascontiguousarray(numbers, dtype="<f8").view(np.uint8).reshape(len(df), -1)
    texts = [
        as_text(df[column]).fillna(_MISSING_MARK).tolist()
        for column in spec.columns
        if column not in numeric
    ]
    return [
        row.tobytes() + _FIELD_SEPARATOR.join(parts).encode()
        for row, parts in zip(packed, zip(*texts, strict=True), strict=True)
    ]


def _unit_interval(data: bytes) -> float:
    digest = hashlib.blake2b(data, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64
