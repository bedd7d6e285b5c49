"""The request and response contract, generated from the dataset spec and its suite.

Values are typed strictly (a string is not a number, a missing field is an error), but a
``null`` in any feature is *missing*, and an unknown category is *missing* too, as in
training: XGBoost sends both down the branch it learned for missing values. What the data
contract knows beyond types is judged per row and answered with ``warnings``, never with
an error (:mod:`~driftloop.serving.limits`): an unknown category, a null in a feature that
is not nullable, a value beyond the suite's learned range or a negative one where the
suite says the feature never is.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    create_model,
)

from driftloop.serving.limits import FeatureLimits, InputChecks
from driftloop.spec import DatasetSpec

# Requests are encoded as float32: a finite float64 beyond this would become infinity.
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Probabilities at or above the threshold get the positive label (TrainingParams' default).
DEFAULT_THRESHOLD = 0.5


class RecordModel(BaseModel):
    """Base of the request record models that :func:`request_model` builds from a spec.

    Fields are named after the features (``alias``); a feature whose name is not a usable
    Python attribute gets a safe attribute name, and ``encoding_spec`` is the spec renamed
    to those attributes, so a record's ``__dict__`` encodes without copying; ``checks``
    turn an encoded request into its rows' warnings.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    encoding_spec: ClassVar[DatasetSpec]
    checks: ClassVar[InputChecks]
    id_attribute: ClassVar[str | None]


FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Number = Annotated[FiniteFloat, Field(ge=-FLOAT32_MAX, le=FLOAT32_MAX)] | None
# Categories are compared as canonical text, so a code may come as 3, 3.0 or "3".
Category = StrictStr | StrictInt | FiniteFloat | StrictBool | None
Identifier = StrictStr | StrictInt | None


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
    attributes: list[str] = []
    taken = set(spec.feature_names) | {spec.id_column}
    for index, feature in enumerate(spec.features):
        attribute = _attribute(feature.name, f"feature_{index}", taken)
        attributes.append(attribute)
        kind = Number if feature.kind == "numeric" else Category
        description = f"{feature.kind} ({feature.dtype})"
        if feature.categories:
            description += f"; known categories: {', '.join(feature.categories)}"
        fields[attribute] = (kind, Field(alias=feature.name, description=description))
    id_attribute = None
    if spec.id_column:
        id_attribute = _attribute(spec.id_column, "record_id", taken)
        fields[id_attribute] = (Identifier, Field(default=None, alias=spec.id_column))
    model = create_model(name, __base__=RecordModel, **fields)
    model.encoding_spec = spec.model_copy(
        update={
            "features": [
                feature.model_copy(update={"name": attribute})
                for feature, attribute in zip(spec.features, attributes, strict=True)
            ]
        }
    )
    model.id_attribute = id_attribute
    model.checks = InputChecks(spec, attributes, limits or {})
    return model


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
