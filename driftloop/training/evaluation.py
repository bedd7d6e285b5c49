"""Scoring a booster on rows of a dataset, and the plots that go with a model version."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from driftloop.exceptions import SchemaMismatch, TrainingError
from driftloop.spec import DatasetSpec
from driftloop.training.features import labels, model_frame, split_assignment

if TYPE_CHECKING:
    import xgboost

_CALIBRATION_BINS = 10


class Metrics(BaseModel):
    """How well a model scores on a set of rows.

    Attributes:
        roc_auc: area under the ROC curve.
        pr_auc: average precision (area under the precision-recall curve).
        log_loss: mean negative log-likelihood.
        accuracy: share of rows classified right at the threshold.
        brier: mean squared error of the probabilities.
        ece: expected calibration error over 10 equal-width probability bins.
        positive_rate: share of rows *predicted* positive at the threshold.
        rows: number of rows scored.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    roc_auc: float
    pr_auc: float
    log_loss: float
    accuracy: float
    brier: float
    ece: float
    positive_rate: float
    rows: int


def evaluate(
    booster: xgboost.Booster, df: pd.DataFrame, spec: DatasetSpec, *, threshold: float
) -> Metrics:
    """Score ``booster`` on the rows of ``df``.

    Raises:
        TrainingError: ``df`` has no rows, unknown labels, or a single class (AUC is then
            undefined).
        SchemaMismatch: feature columns are missing, a numeric one is not numeric, or
            the model was trained on other features.
    """
    y = labels(df, spec)
    if len(y) == 0 or y.min() == y.max():
        raise TrainingError(
            f"cannot evaluate on {len(y)} rows with classes {sorted(set(y.tolist()))}: "
            "both classes are needed"
        )
    return score_probabilities(y, predict_probability(booster, df, spec), threshold=threshold)


def score_probabilities(y: np.ndarray, probability: np.ndarray, *, threshold: float) -> Metrics:
    """The metrics of predicted ``probability`` against 0/1 labels ``y`` (both classes present).

    The one place the holdout's metrics are computed: the monitor's quality scores go
    through it too, and their bootstrap resamples through :func:`score_resamples`, which is
    tested to give the same values.
    """
    from sklearn import metrics

    predicted = probability >= threshold
    return Metrics(
        roc_auc=float(metrics.roc_auc_score(y, probability)),
        pr_auc=float(metrics.average_precision_score(y, probability)),
        log_loss=float(metrics.log_loss(y, probability, labels=[0, 1])),
        accuracy=float(np.mean(predicted == y)),
        brier=float(metrics.brier_score_loss(y, probability)),
        ece=_expected_calibration_error(y, probability),
        positive_rate=float(predicted.mean()),
        rows=len(y),
    )


def score_resamples(
    y: np.ndarray, probability: np.ndarray, counts: np.ndarray, *, threshold: float
) -> dict[str, np.ndarray]:
    """:func:`score_probabilities`' metrics on many bootstrap resamples of the same rows at once.

    A resample is given by how many times it drew each row: ``counts`` has a row per resample
    and a column per row. As the probabilities do not change between resamples, the rows are
    sorted once and each metric is a weighted sum over them, vectorised over the resamples;
    the values equal ``score_probabilities(y[drawn], probability[drawn])`` for the drawn rows
    (tested), ties included. A resample holding a single class has no AUC: its ``roc_auc``
    and ``pr_auc`` are NaN.

    Returns:
        ``roc_auc``, ``pr_auc``, ``log_loss``, ``accuracy``, ``brier``, ``ece``: one value
        per resample each.
    """
    weights = counts.astype(np.float64)
    rows = weights.sum(axis=1)
    if not rows.all():
        raise ValueError("every resample must draw at least one row")
    order = np.argsort(-probability, kind="stable")
    ranked, labels = probability[order], y[order].astype(np.float64)
    # The last row of each group of tied probabilities: a point of the ROC and PR curves.
    ends = np.append(np.flatnonzero(np.diff(ranked)), len(ranked) - 1)
    sorted_weights = weights[:, order]
    tp = np.cumsum(sorted_weights * labels, axis=1)[:, ends]
    fp = np.cumsum(sorted_weights * (1 - labels), axis=1)[:, ends]
    positives, negatives = tp[:, -1], fp[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        tp_before = np.hstack([np.zeros((len(tp), 1)), tp[:, :-1]])
        fp_before = np.hstack([np.zeros((len(fp), 1)), fp[:, :-1]])
        area = ((fp - fp_before) * (tp + tp_before)).sum(axis=1) / 2
        roc_auc = area / (positives * negatives)
        precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
        pr_auc = ((tp - tp_before) * precision).sum(axis=1) / positives
    single = (positives == 0) | (negatives == 0)
    roc_auc[single], pr_auc[single] = np.nan, np.nan
    eps = np.finfo(np.float64).eps
    clipped = np.clip(probability, eps, 1 - eps)
    losses = -np.where(y == 1, np.log(clipped), np.log(1 - clipped))
    predicted = probability >= threshold
    bins = np.minimum((probability * _CALIBRATION_BINS).astype(int), _CALIBRATION_BINS - 1)
    in_bin = np.eye(_CALIBRATION_BINS)[bins]
    gaps = weights @ (in_bin * (y - probability)[:, None])
    return {
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
        "log_loss": weights @ losses / rows,
        "accuracy": weights @ (predicted == y) / rows,
        "brier": weights @ (probability - y) ** 2 / rows,
        "ece": np.abs(gaps).sum(axis=1) / rows,
    }


def predict_probability(
    booster: xgboost.Booster, df: pd.DataFrame, spec: DatasetSpec
) -> np.ndarray:
    """The booster's probability of the positive label for each row of ``df``.

    Raises:
        SchemaMismatch: the model was trained on other features.
    """
    try:
        return booster.inplace_predict(model_frame(df, spec)).astype(np.float64)
    except ValueError as exc:
        # XGBoost checks feature names and count against those the model was trained on.
        raise SchemaMismatch(
            f"the model does not take the features of {spec.name!r}: {exc}"
        ) from exc


def _expected_calibration_error(y: np.ndarray, probability: np.ndarray) -> float:
    """Return the row-weighted mean gap between predicted and observed rates, over 10 bins."""
    bins = np.minimum((probability * _CALIBRATION_BINS).astype(int), _CALIBRATION_BINS - 1)
    counts = np.bincount(bins, minlength=_CALIBRATION_BINS)
    predicted = np.bincount(bins, weights=probability, minlength=_CALIBRATION_BINS)
    observed = np.bincount(bins, weights=y, minlength=_CALIBRATION_BINS)
    return float(np.abs(observed - predicted).sum() / counts.sum())


def holdout_rows(
    df: pd.DataFrame, spec: DatasetSpec, *, split: np.ndarray | None = None
) -> pd.DataFrame:
    """Return the rows of ``df`` in the "holdout" split.

    Scoring a champion and a challenger on the holdout of the same pinned data commit
    compares them on exactly the same rows, none of which either trained on. Pass ``split``
    (``split_assignment`` of ``df``) when it is computed already.

    Raises:
        SchemaMismatch: the id column (or, without one, a spec column) is absent.
    """
    return df[(split_assignment(df, spec) if split is None else split) == "holdout"]


def write_plots(
    booster: xgboost.Booster, holdout_df: pd.DataFrame, spec: DatasetSpec, out_dir: Path
) -> dict[str, Path]:
    """Write the ROC curve on ``holdout_df`` and the gain importance of each feature as PNGs.

    Returns:
        ``{"roc_curve": path, "feature_importance": path}``.

    Raises:
        TrainingError: ``holdout_df`` has a single class.
    """
    from matplotlib.figure import Figure
    from sklearn import metrics

    y = labels(holdout_df, spec)
    if len(y) == 0 or y.min() == y.max():
        raise TrainingError(f"cannot draw a ROC curve on {len(y)} rows with a single class")
    probability = predict_probability(booster, holdout_df, spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "roc_curve": out_dir / "roc_curve.png",
        "feature_importance": out_dir / "feature_importance.png",
    }

    # Figure without pyplot renders with Agg and keeps no global state between calls.
    fpr, tpr, _ = metrics.roc_curve(y, probability)
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.plot(fpr, tpr, label=f"AUC {metrics.roc_auc_score(y, probability):.3f}")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC (holdout)")
    axes.legend(loc="lower right")
    figure.savefig(paths["roc_curve"], dpi=100)

    gain = booster.get_score(importance_type="gain")
    names = sorted(spec.feature_names, key=lambda name: gain.get(name, 0.0))
    figure = Figure(figsize=(6, max(2.5, 0.3 * len(names) + 1)))
    axes = figure.subplots()
    axes.barh(names, [gain.get(name, 0.0) for name in names])
    axes.set(xlabel="Mean gain per split", title="Feature importance")
    figure.tight_layout()
    figure.savefig(paths["feature_importance"], dpi=100)
    return paths
