from __future__ import annotations

import numpy as np
import pytest

from harness.train.bias import bias_weights, force_discrepancy, normalise_by_median
from harness.train.metrics import force_energy_metrics


def test_bias_mean_is_the_sum_divided_by_three_k() -> None:
    rng = np.random.default_rng(0)
    predicted, label = rng.normal(size=(5, 9, 3)), rng.normal(size=(5, 9, 3))
    mean = force_discrepancy(predicted, label, "mean")
    summed = force_discrepancy(predicted, label, "sum")
    assert np.allclose(summed, mean * 27)
    assert np.allclose(mean, np.abs(predicted - label).mean(axis=(1, 2)))


def test_weights_are_exp_minus_bias_over_gamma() -> None:
    bias = np.array([0.0, 0.5, 1.0, 4.0])
    assert np.allclose(bias_weights(bias, 0.5), np.exp(-bias / 0.5))
    assert bias_weights(bias, 0.1)[0] == 1.0
    assert np.all(np.diff(bias_weights(bias, 1.0)) < 0)


def test_median_normalisation_makes_the_median_one() -> None:
    bias = np.array([0.2, 1.0, 3.0, 7.0, 9.0])
    assert np.median(normalise_by_median(bias)) == pytest.approx(1.0)


def test_metrics_average_over_atoms_and_components_in_input_units() -> None:
    true_forces = np.zeros((2, 3, 3))
    predicted_forces = np.zeros((2, 3, 3))
    predicted_forces[0, 0, 0] = 3.0  # one of 18 components off by 3 kcal/mol/A
    predicted_forces[1, 2, 1] = -3.0
    metrics = force_energy_metrics(np.array([1.0, 2.0]), predicted_forces,
                                   np.array([0.0, 4.0]), true_forces)
    assert metrics["force_mae"] == pytest.approx(6.0 / 18)
    assert metrics["force_rmse"] == pytest.approx(np.sqrt(18.0 / 18))
    assert metrics["energy_mae"] == pytest.approx(1.5)
