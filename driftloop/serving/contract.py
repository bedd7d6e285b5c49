"""The request and response contract, generated from the dataset spec and its suite.

Values are typed strictly (a string is not a number, a missing field is an error), but a
``null`` in any feature is *missing*, and an unknown category is *missing* too, as in
training: XGBoost sends both down the branch it learned for missing values. What the data
contract knows beyond types is judged per row and answered with ``warnings``, never with
an error (:mod:`~driftloop.serving.limits`): an unknown category, a null in a feature that
is not nullable, a value beyond the suite's learned range or a negative one where the
suite says the feature never is.

A request body (:func:`request_body`) sends its rows as ``records`` (one object per row,
:func:`request_model`) or as ``columns`` (one list per feature, :func:`columns_model`).
Both are checked by :class:`~driftloop.serving.batch.RequestCodec` a block of values at a
time; what it refuses, the pydantic model validates, so a bad value gets pydantic's error
naming the row and the field (``records.3.age``, ``columns.age.3``).
"""

from __future__ import annotations

import keyword
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Self

import pydantic_core
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    create_model,
    model_validator,
)
from pydantic_core import core_schema

from driftloop.serving.batch import Batch, Refused, RequestCodec
from driftloop.serving.fields import Category, Identifier, Number
from driftloop.serving.limits import FeatureLimits
from driftloop.spec import DatasetSpec

# Probabilities at or above the threshold get the positive label (TrainingParams' default).
DEFAULT_THRESHOLD = 0.5


class RecordModel(BaseModel):
    """Base of the request record models that :func:`request_model` builds from a spec.

    Fields are named after the features (``alias``); a feature whose name is not a usable
    Python attribute gets a safe attribute name. ``codec`` checks and encodes requests of
    the spec (records, columns, or validated records of this model).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    codec: ClassVar[RequestCodec]


def request_model(
    spec: DatasetSpec,
    *,
    name: str = "Record",
    limits: Mapping[str, FeatureLimits] | None = None,
) -> type[RecordModel]:
    """Build the pydantic model of one request record from ``spec``.

    Every feature is required and accepts ``null``: numeric ones take JSON numbers,
    categorical ones strings (or numbers and booleans, compared as canonical text like
    training does). The id column, if the spec has one, is optional and echoed in the
    response. Other keys are ignored, so a client may send whole rows (with the target or
    event time).

    Args:
        spec: The dataset spec.
        name: The model's name (in the OpenAPI schema).
        limits: Learned limits by feature name, from the dataset's suite
            (:func:`~driftloop.serving.limits.learned_limits`); without them, only nulls and
            unknown categories are warned about.
    """
    fields: dict[str, Any] = {}
    attributes = _attributes(spec)
    for feature, attribute in zip(spec.features, attributes, strict=True):
        description = f"{feature.kind} ({feature.dtype})"
        if feature.categories:
            description += f"; known categories: {', '.join(feature.categories)}"
        fields[attribute] = (
            _kind(feature.kind),
            Field(alias=feature.name, description=description),
        )
    id_attribute = _id_attribute(spec)
    if id_attribute:
        fields[id_attribute] = (Identifier, Field(default=None, alias=spec.id_column))
    model = create_model(name, __base__=RecordModel, **fields)
    model.codec = RequestCodec(
        spec, attributes=attributes, id_attribute=id_attribute, limits=limits or {}
    )
    return model


class ColumnsModel(BaseModel):
    """Base of the columnar request models that :func:`columns_model` builds."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    @model_validator(mode="after")
    def _same_length(self) -> ColumnsModel:
        lengths = {
            field.alias or attribute: len(self.__dict__[attribute])
            for attribute, field in type(self).model_fields.items()
            if self.__dict__[attribute] is not None
        }
        usual = Counter(lengths.values()).most_common(1)[0][0]
        odd = [f"{name!r} has {length}" for name, length in lengths.items() if length != usual]
        if odd:
            raise ValueError(
                f"every column needs one value per row: {', '.join(odd)}, the others {usual}"
            )
        return self


def columns_model(spec: DatasetSpec, *, max_rows: int, name: str = "Columns") -> type[ColumnsModel]:
    """Build the pydantic model of a columnar request: one list of values per feature.

    The lists take the values a record's fields take, one per row, all of one length
    (1 to ``max_rows``); the id column is optional, other keys are ignored.
    """
    fields: dict[str, Any] = {}
    rows = Field(min_length=1, max_length=max_rows)
    for feature, attribute in zip(spec.features, _attributes(spec), strict=True):
        kind = Annotated[list[_kind(feature.kind)], rows]
        fields[attribute] = (kind, Field(alias=feature.name, description=f"{feature.kind} values"))
    id_attribute = _id_attribute(spec)
    if id_attribute:
        ids = Annotated[list[Identifier], rows] | None
        fields[id_attribute] = (ids, Field(default=None, alias=spec.id_column))
    return create_model(name, __base__=ColumnsModel, **fields)


class RequestBody(BaseModel):
    """Base of the request bodies that :func:`request_body` builds: ``records`` or ``columns``.

    Both fields are :class:`~driftloop.serving.batch.Batch` once validated; exactly one is set.
    """

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        """Parse with ``pydantic_core.from_json``, then validate what it made.

        Pydantic would parse the JSON into its own tree and then turn that into the Python
        objects the codec checks: parsing straight to Python objects takes a fifth less
        time for 100 records. Malformed JSON, or JSON that is not an object, gets pydantic's
        own error.
        """
        try:
            data = pydantic_core.from_json(json_data)
        except ValueError:
            data = None
        if type(data) is not dict:
            return super().model_validate_json(json_data, **options)
        return cls.model_validate(data, **options)

    @model_validator(mode="after")
    def _one_form(self) -> RequestBody:
        if (self.__dict__["records"] is None) == (self.__dict__["columns"] is None):
            raise ValueError(
                "send the rows in one form: 'records' (a list of objects, one per row) or "
                "'columns' (an object of one list per feature)"
            )
        return self

    @property
    def batch(self) -> Batch:
        """The request's rows, whichever form they came in."""
        records = self.__dict__["records"]
        return records if records is not None else self.__dict__["columns"]


def request_body(
    record: type[RecordModel], *, max_rows: int, name: str = "PredictRequest"
) -> type[RequestBody]:
    """Build the model of a prediction request: ``records`` or ``columns`` of ``record``'s spec.

    Each form is checked and encoded into a :class:`~driftloop.serving.batch.Batch` by the
    record model's codec; where the codec refuses, :func:`request_model` (a list of 1 to
    ``max_rows`` records) or :func:`columns_model` validates, and its errors name the row
    and the field.
    """
    codec = record.codec
    columns = columns_model(codec.spec, max_rows=max_rows, name=f"{name}Columns")
    records = Annotated[list[record], Field(min_length=1, max_length=max_rows)]

    def from_columns(model: ColumnsModel) -> Batch:
        return codec.columns(model.model_dump(by_alias=True), max_rows=max_rows)

    checked_records = _Checked(
        records, lambda rows: codec.records(rows, max_rows=max_rows), codec.models
    )
    checked_columns = _Checked(
        columns, lambda data: codec.columns(data, max_rows=max_rows), from_columns
    )
    return create_model(
        name,
        __base__=RequestBody,
        records=(
            Annotated[Batch, checked_records] | None,
            Field(default=None, description=f"Rows to score, one object per row (1 to {max_rows})"),
        ),
        columns=(
            Annotated[Batch, checked_columns] | None,
            Field(
                default=None,
                description=f"Rows to score, one list per feature (1 to {max_rows} rows)",
            ),
        ),
    )


@dataclass(frozen=True)
class _Checked:
    """Pydantic metadata: ``fast`` checks and encodes; what it refuses, ``schema`` validates.

    ``schema`` is also what the JSON schema shows; ``slow`` encodes what it validated.
    """

    schema: Any
    fast: Callable[[Any], Batch]
    slow: Callable[[Any], Batch]

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_wrap_validator_function(
            self._validate, handler.generate_schema(self.schema)
        )

    def _validate(self, value: Any, handler: core_schema.ValidatorFunctionWrapHandler) -> Batch:
        try:
            return self.fast(value)
        except Refused:
            # Raises pydantic's errors naming each bad row and field (or the input is fine).
            return self.slow(handler(value))


def _kind(kind: str) -> Any:
    return Number if kind == "numeric" else Category


def _attributes(spec: DatasetSpec) -> list[str]:
    """Each feature's attribute name in the generated models, in spec order."""
    taken = set(spec.feature_names) | {spec.id_column}
    return [
        _attribute(feature.name, f"feature_{index}", taken)
        for index, feature in enumerate(spec.features)
    ]


def _id_attribute(spec: DatasetSpec) -> str | None:
    if not spec.id_column:
        return None
    taken = set(spec.feature_names) | set(_attributes(spec))
    return _attribute(spec.id_column, "record_id", taken)


def _attribute(name: str, fallback: str, taken: set[str | None]) -> str:
    """``name`` if pydantic can use it as a field name, else an unused ``fallback``."""
    usable = (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith(("_", "model_"))
        and not hasattr(BaseModel, name)
    )
    if usable:
        return name
    while fallback in taken:
        fallback += "_"
    taken.add(fallback)
    return fallback


class Prediction(BaseModel):
    """The prediction for one record."""

    id: str | int | None = Field(default=None, description="The record's id, if it sent one")
    probability: float = Field(description="Probability of the positive label")
    label: str = Field(description="The positive label if probability >= threshold")
    warnings: list[str] = Field(
        default_factory=list,
        description=(
            "Inputs scored despite breaking the data contract, one per field: an unknown "
            "category or a null where not nullable (scored as missing), a value beyond the "
            "learned range or negative where never (scored as sent)"
        ),
    )


class VersionedPrediction(Prediction):
    """A prediction of the batch endpoint, which names its model version on every row."""

    model_version: int
    data_commit: str


class PredictResponse(BaseModel):
    """Predictions, in request order, and the model version that made all of them."""

    model: str
    model_version: int
    data_commit: str
    predictions: list[Prediction]
