"""Training, evaluation and model artifacts; XGBoost, scikit-learn and matplotlib load lazily."""

from __future__ import annotations

from driftloop.training.artifacts import (
    ArtifactFiles,
    check_schema_compatible,
    feature_schema,
    load_model,
    save_artifacts,
)
from driftloop.training.evaluation import Metrics, evaluate, holdout_rows, write_plots
from driftloop.training.model import TrainedModel, TrainingParams, train_model

__all__ = [
    "ArtifactFiles",
    "Metrics",
    "TrainedModel",
    "TrainingParams",
    "check_schema_compatible",
    "evaluate",
    "feature_schema",
    "holdout_rows",
    "load_model",
    "save_artifacts",
    "train_model",
    "write_plots",
]
