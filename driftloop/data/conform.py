"""How raw values become the spec's labels and categories, and batches the spec's shape.

:func:`canonical_text` is the one spelling of a label or category (``3``, ``3.0`` and ``"3"``
are one category), shared by learning a spec, validation, training and serving;
:func:`conform_frame` puts a batch's categorical features and target into that form.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pdtypes

from driftloop.spec import DatasetSpec

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


def conform_frame(df: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """Return a copy of ``df`` with categorical features and the target as string labels.

    Apply it to a batch before publishing and validating it: the spec stores categoricals and
    target labels as strings, while CSV readers hand back int codes and 0/1 targets. Numeric,
    id and event-time columns are left alone so that validation still sees their raw types,
    and columns the batch lacks are skipped (validation reports them).
    """
    labelled = {f.name for f in spec.features if f.kind == "categorical"} | {spec.target}
    # Built anew rather than assigned column by column: a fragmented frame makes every later
    # pandas operation (and GX runs many) consolidate it again, twice as slow at 1M rows.
    # Keyed by position and built from arrays, so repeated column names and index labels
    # survive as they are for validation to see.
    arrays = {
        position: (as_labels(values) if name in labelled else values).array
        for position, (name, values) in enumerate(df.items())
    }
    out = pd.DataFrame(arrays, index=df.index)
    out.columns = df.columns
    return out
