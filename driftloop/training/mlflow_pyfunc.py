"""The pyfunc flavour of an exported MLflow model: raw feature values in, probabilities out.

:mod:`driftloop.training.export` ships this file inside every MLflow model it writes (as
``code/driftloop_mlflow_pyfunc.py``) and names it the pyfunc flavour's loader module, so
``mlflow.pyfunc.load_model`` imports it there on its own: it needs MLflow, XGBoost, pandas
and NumPy, never driftloop.

It scores a frame the way the service scores requests: numerics as floats, each category as
its index in the categories the model was trained with, nulls and unknown categories as NaN
(missing), all in one float32 matrix handed to ``Booster.inplace_predict``. The categories
and the model file's checksum come from the model's ``driftloop`` metadata in ``MLmodel``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import xgboost

#: Key of driftloop's lineage in the MLflow model's ``metadata``.
METADATA_KEY = "driftloop"
#: Name of the prediction: the probability of the positive label.
OUTPUT = "probability"


class PositiveProbability:
    """The pyfunc model: ``predict(frame)`` is each row's probability of the positive label."""

    def __init__(self, booster: xgboost.Booster, features: list[dict[str, Any]]) -> None:
        """Wrap ``booster``, trained on ``features`` (the recorded feature schema's list)."""
        self.booster = booster
        self.features = features

    def get_raw_model(self) -> xgboost.Booster:
        """The XGBoost booster, as ``mlflow.xgboost.load_model`` also returns it."""
        return self.booster

    def predict(self, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.Series:
        """Probability of the positive label for each row (float32, named ``probability``).

        ``model_input`` has a column per feature (others are ignored): numbers for numeric
        features, text spelled as the model's categories for categorical ones (other values
        are compared by their ``str``); nulls and unknown categories are scored as missing.
        """
        matrix = np.empty((len(model_input), len(self.features)), dtype=np.float32)
        for column, feature in enumerate(self.features):
            values = model_input[feature["name"]]
            if feature.get("categories") is None:
                matrix[:, column] = pd.to_numeric(values).to_numpy(np.float64, na_value=np.nan)
            else:
                codes = pd.Categorical(values.astype("string"), categories=feature["categories"])
                matrix[:, column] = np.where(codes.codes < 0, np.nan, codes.codes)
        probabilities = self.booster.inplace_predict(matrix)
        return pd.Series(probabilities, index=model_input.index, name=OUTPUT)


def _load_pyfunc(path: str) -> PositiveProbability:
    """Load the model file at ``path`` after checking it against the recorded checksum.

    MLflow calls this with the path of the pyfunc flavour's ``data`` (``model.ubj``).

    Raises:
        ValueError: the model file's SHA-256 is not the one the registry recorded.
    """
    import xgboost
    from mlflow.models import Model

    model_file = Path(path)
    lineage = Model.load(str(model_file.parent)).metadata[METADATA_KEY]
    data = model_file.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != lineage["artifact_sha256"]:
        raise ValueError(
            f"{model_file} checksum mismatch: expected sha256 {lineage['artifact_sha256']}, "
            f"got {actual}"
        )
    booster = xgboost.Booster()
    booster.load_model(bytearray(data))
    return PositiveProbability(booster, lineage["feature_schema"]["features"])
