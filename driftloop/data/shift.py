"""A shifted copy of a batch: data that changed, yet is still valid against what a sample taught.

One rule for every table, by the spec's feature kinds, so a demo (or a test) can show drift on
any table without knowing its columns:

* every numeric feature with more than two distinct values in the reference moves up by the
  reference's standard deviation, at most an eighth of the reference's range (for integer
  columns the whole number below, at least 1). That keeps the bulk inside the range a suite
  learns from the reference plus its slack (a quarter of the width). Then its largest
  ``share`` of values (at least one) moves a further two range widths up, beyond it: more
  than the suite's 1% of rows out of range, so the batch is published with range warnings,
  and the feature drifts;
* every categorical feature gives half the rows of its most frequent category to its second.

Moving up keeps the sign (a never-negative column stays so), nulls stay where they were and
no new ones appear, the columns and their types stay, and no category is invented: nothing a
suite's critical rules would call broken. Two-valued numbers (flags) are left alone: a flag
of 2 would be broken data, not changed data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from driftloop.spec import DatasetSpec

SHIFT_SHARE = 0.03
"""Share of a numeric feature's values moved beyond the range learned from the reference."""
SHIFT_SEED = 20261125
"""Seed of the rows a categorical feature gives away."""


def shifted(
    frame: pd.DataFrame,
    reference: pd.DataFrame,
    spec: DatasetSpec,
    *,
    share: float = SHIFT_SHARE,
    seed: int = SHIFT_SEED,
) -> pd.DataFrame:
    """A copy of ``frame`` that changed but stays valid against a suite learned from ``reference``.

    Args:
        frame: The batch to shift (columns of ``spec``).
        reference: The sample the suite was (or will be) learned from.
        spec: Which columns are numeric and categorical features.
        share: Share of each shifted numeric feature's present values moved beyond the range.
        seed: Seed of the rows each categorical feature gives away.

    Returns:
        The shifted copy, with ``frame``'s index, columns and dtypes.
    """
    out = frame.copy()
    rng = np.random.default_rng(seed)
    for feature in spec.features:
        column = feature.name
        if feature.kind == "numeric" and feature.dtype != "bool":
            _shift_numbers(out, column, reference[column].dropna(), share)
        elif feature.kind == "categorical":
            _move_rows(out, column, rng)
    return out


def _shift_numbers(out: pd.DataFrame, column: str, known: pd.Series, share: float) -> None:
    if known.nunique() <= 2:
        return
    dtype = out[column].dtype
    integer = pd.api.types.is_integer_dtype(dtype)
    # The same width the suite's range rule takes, so the far values land beyond its slack.
    width = float(known.max() - known.min()) or abs(float(known.max())) or 1.0
    step = min(float(known.std()), width / 8)
    if integer:
        step, width = max(1.0, float(np.floor(step))), float(np.ceil(width))
    values = out[column] + step
    present = values.dropna().sort_values(ascending=False, kind="stable")
    values.loc[present.index[: max(1, round(share * len(present)))]] += 2 * width
    out[column] = values.astype(dtype)


def _move_rows(out: pd.DataFrame, column: str, rng: np.random.Generator) -> None:
    counts = out[column].value_counts()
    if len(counts) < 2:
        return
    common = np.flatnonzero(out[column].to_numpy() == counts.index[0])
    moved = rng.choice(common, size=len(common) // 2, replace=False)
    out.iloc[moved, out.columns.get_loc(column)] = counts.index[1]
