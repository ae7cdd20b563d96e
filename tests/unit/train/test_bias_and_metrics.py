from __future__ import annotations

import numpy as np
import pytest

from harness.train.bias import (
    absolute_reduction,
    atom_bias,
    bias_weights,
    effective_sample_fraction,
    ensemble_gap,
    normalise_by_median,
)
from harness.train.metrics import force_energy_metrics


def test_bias_mean_is_the_sum_divided_by_three_k() -> None:
    rng = np.random.default_rng(0)
    predicted, label = rng.normal(size=(5, 9, 3)), rng.normal(size=(5, 9, 3))
    mean = absolute_reduction(predicted - label, "mean")
    summed = absolute_reduction(predicted - label, "sum")
    assert np.allclose(summed, mean * 27)
    assert np.allclose(mean, np.abs(predicted - label).mean(axis=(1, 2)))


def test_an_atoms_bias_is_the_mean_over_its_components_and_atom_weights_count_one_by_one(
        ) -> None:
    gap = np.array([[[0.0, 0.0, 3.0], [1.0, 1.0, 1.0]]])
    assert np.allclose(atom_bias(gap), [[1.0, 1.0]])
    weights = np.array([[1.0, 0.0], [1.0, 0.0]])  # two of four atoms take all
    assert effective_sample_fraction(weights) == pytest.approx(0.5)


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


def test_the_spread_discount_lowers_the_gap_where_members_disagree_and_never_below_zero() -> None:
    """Two frames of one atom, the same ensemble mean (1, 0, 0) and cheap label (0, 0, 0):
    the members agree on frame 0 and disagree by +-0.5 on frame 1's x component."""
    agree = np.array([[[1.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]]])
    disagree = np.array([[[0.5, 0.0, 0.0]], [[1.5, 0.0, 0.0]]])
    members = np.stack([agree, disagree], axis=1)  # (member, frame, atom, component)
    labels = np.zeros((2, 1, 3))
    undiscounted = ensemble_gap(members, labels, 0.0)
    assert np.allclose(undiscounted[:, 0, 0], [1.0, 1.0])  # the gap of the mean
    discounted = ensemble_gap(members, labels, 1.0)
    spread = np.std([0.5, 1.5], ddof=1)
    assert discounted[0, 0, 0] == 1.0 and discounted[1, 0, 0] == pytest.approx(1.0 - spread)
    assert np.all(ensemble_gap(members, labels, 10.0) >= 0)
    assert ensemble_gap(members, labels, 10.0)[1, 0, 0] == 0.0


def test_an_ensemble_gives_the_frame_with_the_larger_true_bias_the_smaller_weight() -> None:
    """Members scatter around the accurate forces; the cheap labels are off by 1 on frame 0
    and by 3 on frame 1. Frame 1's members disagree more, yet its B stays the larger."""
    accurate = np.zeros((2, 2, 3))
    cheap = accurate + np.array([1.0, 3.0])[:, None, None]
    scatter = np.array([0.1, 0.4])[:, None, None]
    members = np.stack([accurate + scatter, accurate - scatter, accurate + 2 * scatter])
    bias = absolute_reduction(ensemble_gap(members, cheap, 1.0), "mean")
    weights = bias_weights(bias, 1.0)
    assert bias[1] > bias[0] > 0 and weights[1] < weights[0]
