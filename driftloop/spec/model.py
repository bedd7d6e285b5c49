"""The dataset spec: one file that defines the source, the target, and the feature schema.

Training, the GX suite and the serving request model are all derived from it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from driftloop.exceptions import SpecError

FeatureKind = Literal["numeric", "categorical"]
# A dataset name is part of its ingest branches' names, which lakeFS restricts to this.
_DATASET_NAME = re.compile(r"\w[-\w]*", re.ASCII)


class Feature(BaseModel):
    """One input column."""

    name: str
    kind: FeatureKind
    dtype: Literal["float64", "int64", "bool", "string"] = Field(
        description="Type of the column as stored in the published Parquet"
    )
    nullable: bool = True
    categories: list[str] | None = Field(
        default=None, description="Known categories, in encoding order (categorical only)"
    )

    @model_validator(mode="after")
    def _categories_only_for_categorical(self) -> Feature:
        if self.kind == "categorical" and not self.categories:
            raise ValueError(f"feature {self.name!r}: a categorical feature needs 'categories'")
        if self.kind == "numeric" and self.categories:
            raise ValueError(f"feature {self.name!r}: a numeric feature has no 'categories'")
        return self


class SourceSpec(BaseModel):
    """Where batches come from: files (CSV/Parquet path or glob) or SQL (table or query)."""

    kind: Literal["file", "sql"]
    path: str | None = Field(default=None, description="File path or glob (kind=file)")
    format: Literal["csv", "parquet"] | None = Field(
        default=None, description="Defaults to the file suffix"
    )
    url: str | None = Field(default=None, description="SQLAlchemy URL (kind=sql)")
    table: str | None = None
    query: str | None = Field(
        default=None,
        description="SQL with optional :start and :end parameters bound to the data interval",
    )
    connect_timeout_seconds: float | None = Field(
        default=None, gt=0, description="How long connecting may take (kind=sql; unset: 10)"
    )
    query_timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        description="How long a read may take, waiting for locks included (kind=sql; unset: 600)",
    )

    @model_validator(mode="after")
    def _complete(self) -> SourceSpec:
        if self.kind == "file":
            if not self.path:
                raise ValueError("source.path is required when source.kind is 'file'")
            for name in ("connect_timeout_seconds", "query_timeout_seconds"):
                if getattr(self, name) is not None:
                    raise ValueError(f"source.{name} applies to kind 'sql' only")
        if self.kind == "sql":
            if not self.url:
                raise ValueError("source.url is required when source.kind is 'sql'")
            if bool(self.table) == bool(self.query):
                raise ValueError("source needs exactly one of 'table' or 'query' for kind 'sql'")
        return self


class DatasetSpec(BaseModel):
    """A dataset: its source, target, optional id and event-time columns, and features.

    A spec without features is a labels-only dataset: late labels (the id and the target)
    for the rows of a model's dataset, joined onto them by id. It is ingested and validated
    like any dataset, but has nothing to profile for drift and nothing to train on.
    """

    name: str = Field(
        description="ASCII letters, digits, '_' and '-' (not first): it names the data folder "
        "and the ingest branches"
    )
    source: SourceSpec
    target: str
    target_values: list[str] = Field(description="Allowed target labels, as strings")
    positive_label: str = Field(description="The label predicted as probability 1")
    id_column: str | None = None
    event_time_column: str | None = None
    features: list[Feature] = Field(
        description="The model's inputs; empty for a labels-only dataset (see the class)"
    )
    late_labels: bool = Field(
        default=False,
        description="Rows may arrive without their label, which lands later by id in the "
        "labels dataset: such rows are published with a warning, and training and the "
        "quality check use them once labelled; needs an id_column",
    )

    @field_validator("name")
    @classmethod
    def _name_fits_a_branch(cls, name: str) -> str:
        if not _DATASET_NAME.fullmatch(name):
            raise ValueError(
                f"dataset name {name!r} may hold only ASCII letters, digits, '_' and '-' (not "
                "first): it is part of the ingest branches' names, which lakeFS restricts so"
            )
        return name

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        if self.positive_label not in self.target_values:
            raise ValueError(
                f"positive_label {self.positive_label!r} is not one of target_values "
                f"{self.target_values}"
            )
        names = [f.name for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"features listed twice: {duplicates}")
        reserved = {self.target, self.id_column, self.event_time_column} - {None}
        clash = sorted(reserved & set(names))
        if clash:
            raise ValueError(f"columns {clash} are the target, id or event time, not features")
        if self.late_labels and (self.id_column is None or self.labels_only):
            raise ValueError(
                "late_labels needs an 'id_column' (late labels are joined by id) and features "
                "(a labels-only dataset is where the late labels land)"
            )
        if self.labels_only and self.id_column is None:
            raise ValueError(
                "a spec without features is a labels-only dataset, whose labels are joined "
                "by id onto another dataset's rows: it needs an 'id_column'"
            )
        return self

    @property
    def labels_only(self) -> bool:
        """Whether the dataset carries only labels (no features): no drift, no model."""
        return not self.features

    @property
    def feature_names(self) -> list[str]:
        """Feature columns, in model order."""
        return [f.name for f in self.features]

    @property
    def columns(self) -> list[str]:
        """Every column a batch must have: id, event time, features, target."""
        extra = [c for c in (self.id_column, self.event_time_column) if c]
        return [*extra, *self.feature_names, self.target]

    def feature(self, name: str) -> Feature:
        """The feature called ``name``.

        Raises:
            SpecError: no such feature.
        """
        for feature in self.features:
            if feature.name == name:
                return feature
        raise SpecError(f"dataset {self.name!r} has no feature {name!r}")


def load_spec(path: Path) -> DatasetSpec:
    """Read and validate a dataset spec file.

    Raises:
        SpecError: the file is missing, not YAML, or not a valid spec (the message names the field).
    """
    if not path.exists():
        raise SpecError(f"dataset spec {path} does not exist (run `driftloop init` to create one)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return DatasetSpec.model_validate(raw)
    except yaml.YAMLError as exc:
        raise SpecError(f"dataset spec {path} is not valid YAML: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SpecError(f"dataset spec {path} is invalid: {problems}") from exc


def save_spec(spec: DatasetSpec, path: Path) -> None:
    """Write ``spec`` as readable YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = spec.model_dump(mode="json", exclude_none=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
