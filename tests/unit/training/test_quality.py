"""The bootstrap around the holdout's metrics: the same numbers as the holdout, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from driftloop.monitoring.quality import METRICS
from driftloop.training.evaluation import score_probabilities
from driftloop.training.quality import bootstrap_metrics


def _scores(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.int8)
    probability = np.clip(0.3 + 0.3 * (y - 0.3) + 0.2 * rng.standard_normal(n), 0.01, 0.99)
    return y, probability


def _boot(y: np.ndarray, p: np.ndarray, seed: int = 0, resamples: int = 100):
    return bootstrap_metrics(y, p, threshold=0.5, resamples=resamples, confidence=0.95, seed=seed)


def test_points_are_the_holdout_metrics_and_intervals_surround_them() -> None:
    y, p = _scores(2000)
    holdout = score_probabilities(y, p, threshold=0.5)

    estimates = _boot(y, p)

    assert list(estimates) == list(METRICS)
    for name, estimate in estimates.items():
        assert estimate.value == getattr(holdout, name)
        assert estimate.low <= estimate.value <= estimate.high
        assert estimate.low < estimate.high


def test_the_same_seed_gives_the_same_intervals_and_another_seed_others() -> None:
    y, p = _scores(500)

    assert _boot(y, p, seed=3) == _boot(y, p, seed=3)
    assert _boot(y, p, seed=3)["roc_auc"] != _boot(y, p, seed=4)["roc_auc"]


def test_small_samples_get_wide_intervals() -> None:
    small, large = _boot(*_scores(100)), _boot(*_scores(5000))

    width = {k: e.high - e.low for k, e in small.items()}
    assert all(width[k] > large[k].high - large[k].low for k in METRICS)


def test_a_single_class_cannot_be_scored() -> None:
    with pytest.raises(ValueError, match="single class"):
        _boot(np.zeros(50, dtype=np.int8), np.full(50, 0.2))
