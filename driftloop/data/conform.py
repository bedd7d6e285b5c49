"""Batches in the spec's form: categorical features and the target as the spec's labels."""

from __future__ import annotations

import pandas as pd

from driftloop.spec import DatasetSpec
from driftloop.spec.labels import as_labels


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
