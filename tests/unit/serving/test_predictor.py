"""The service's predictor gives XGBoost's own in-place predictions, bit for bit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import xgboost

from driftloop.serving.contract import request_model
from driftloop.serving.handle import ModelHandle
from driftloop.serving.predictor import DensePredictor


def _matrix(rows: int, columns: int, seed: int) -> np.ndarray:
    """Normal values with a fifth of them missing (NaN), float32."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(rows, columns)).astype(np.float32)
    matrix[rng.random(matrix.shape) < 0.2] = np.nan
    return matrix


def test_the_champion_answers_as_inplace_predict(champion: ModelHandle, rows: list[dict]) -> None:
    encoded = request_model(champion.spec).codec.records(rows, max_rows=len(rows)).matrix
    for size in (1, 7, len(rows)):
        expected = champion.booster.inplace_predict(encoded[:size])
        assert np.array_equal(champion.probabilities(encoded[:size]), expected)


@pytest.mark.parametrize("objective", ["binary:logistic", "reg:squarederror", "multi:softprob"])
def test_any_layout_and_dtype_answers_as_inplace_predict(objective: str) -> None:
    train = _matrix(300, 5, seed=1)
    labels = np.arange(300) % 3 if objective.startswith("multi") else np.arange(300) % 2
    params = {"objective": objective, "nthread": 1, "max_depth": 3}
    if objective.startswith("multi"):
        params["num_class"] = 3
    booster = xgboost.train(params, xgboost.DMatrix(train, label=labels), num_boost_round=5)
    predict = DensePredictor(booster)
    matrix = _matrix(40, 5, seed=2)
    for given in (matrix, matrix.astype(np.float64), np.asfortranarray(matrix), matrix[::2]):
        answers = predict(given)
        assert answers.dtype == np.float32
        assert np.array_equal(answers, booster.inplace_predict(given))
    assert predict(matrix[:0]).shape == booster.inplace_predict(matrix[:0]).shape


def test_threads_each_get_their_own_answers(champion: ModelHandle) -> None:
    matrices = [_matrix(50, champion.booster.num_features(), seed) for seed in range(16)]
    expected = [champion.booster.inplace_predict(matrix) for matrix in matrices]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(20):
            answers = list(pool.map(champion.probabilities, matrices))
            assert all(map(np.array_equal, answers, expected))


def test_a_matrix_of_other_features_is_refused_by_name(champion: ModelHandle) -> None:
    features = champion.booster.num_features()
    with pytest.raises(ValueError, match=f"{features} feature columns, got shape \\(3, 2\\)"):
        champion.probabilities(np.zeros((3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="feature columns"):
        champion.probabilities(np.zeros(features, dtype=np.float32))
