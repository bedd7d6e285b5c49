"""The bootstrap around the holdout's metrics: the same numbers as the holdout, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from driftloop.monitoring.quality import METRICS
from driftloop.training.evaluation import score_probabilities, score_resamples
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


@pytest.mark.parametrize("decimals", [None, 2, 1])  # ties: distinct, some, and many
def test_resamples_score_as_the_holdout_scores_the_rows_they_drew(decimals: int | None) -> None:
    y, p = _scores(400, seed=decimals or 0)
    if decimals is not None:
        p = np.round(p, decimals)
    p[:6] = [0.0, 1.0, 0.5, 0.0, 1.0, 0.5]  # the clipped log loss and the threshold itself
    counts = np.random.default_rng(5).multinomial(len(y), np.full(len(y), 1 / len(y)), size=25)

    scored = score_resamples(y, p, counts, threshold=0.5)

    for resample, drawn in enumerate(counts):
        rows = np.repeat(np.arange(len(y)), drawn)
        holdout = score_probabilities(y[rows], p[rows], threshold=0.5)
        for name, values in scored.items():
            assert values[resample] == pytest.approx(getattr(holdout, name), abs=1e-12), name


def test_a_resample_of_one_class_has_no_auc() -> None:
    y, p = np.array([0, 1, 0, 1]), np.array([0.1, 0.8, 0.3, 0.6])

    scored = score_resamples(y, p, np.array([[2, 0, 2, 0], [1, 1, 1, 1]]), threshold=0.5)

    assert np.isnan(scored["roc_auc"][0]) and np.isnan(scored["pr_auc"][0])
    assert scored["roc_auc"][1] == 1.0 and scored["accuracy"][0] == 1.0
