"""How the spec spells labels and categories: one canonical text for every place that compares them.

``3``, ``3.0`` and ``"3"`` are one category, bools are ``True``/``False``: learning a spec,
validation, training and serving all compare categories through :func:`canonical_text`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pdtypes

# Above 2**53 not every integer is a float, so such values keep their float spelling.
_EXACT_INT_LIMIT = 2.0**53


def as_text(values: pd.Series) -> pd.Series:
    """``values`` as canonical text (see :func:`text_or_none`), missing values as None."""
    if pdtypes.is_bool_dtype(values) or pdtypes.is_integer_dtype(values):
        text = values.astype(str).astype(object)
        text[values.isna()] = None
        return text
    if pdtypes.is_float_dtype(values):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        # numpy's float64-to-str is the shortest round-trip spelling, like ``repr``.
        text = numbers.astype(str).astype(object)
        whole = np.isfinite(numbers) & (np.floor(numbers) == numbers)
        whole &= np.abs(numbers) < _EXACT_INT_LIMIT
        text[whole] = numbers[whole].astype(np.int64).astype(str)
        text[np.isnan(numbers)] = None
        return pd.Series(text, index=values.index, dtype=object)
    # Object and string columns repeat few distinct values: convert each one once.
    distinct = pd.unique(values)
    mapping = {value: text_or_none(value) for value in distinct if not is_missing(value)}
    return values.map(mapping).astype(object).where(values.notna(), None)


def text_or_none(value: Any) -> str | None:
    """Canonical text of one value, or ``None`` when it is missing."""
    return None if is_missing(value) else canonical_text(value)


def canonical_text(value: Any) -> str:
    """How a label or category is written: whole floats drop ``.0``, bools are True/False.

    Inference, validation, training and serving all compare categories through this, so
    ``3``, ``3.0`` and ``"3"`` are one category everywhere.
    """
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, float | np.floating):
        number = float(value)
        whole = number.is_integer() and abs(number) < _EXACT_INT_LIMIT
        return str(int(number)) if whole else repr(number)
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def is_missing(value: Any) -> bool:
    """Whether a value is a null of any kind (None, pandas NA or NaT, NaN)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and math.isnan(value)


def as_labels(values: pd.Series) -> pd.Series:
    """Turn raw values into the string labels the spec uses for categories and targets.

    Integer-valued numbers lose their fraction (``1.0`` becomes ``"1"``, so an int column that
    picked up a NaN keeps its labels), bools become ``"True"``/``"False"``, text is unchanged,
    nulls stay null. The result has pandas' ``string`` dtype, which GX type-checks per column
    rather than per value.
    """
    # Columns repeat few distinct values: spell each one once.
    mapping = {value: canonical_text(value) for value in pd.unique(values.dropna())}
    return values.map(mapping).astype("string")
