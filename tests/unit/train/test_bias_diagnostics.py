"""The bias diagnosis joins frames by id and ranks B against the true cheap-level error."""

from __future__ import annotations

import numpy as np
import pytest

from harness.train.bias import bias_weights, effective_sample_fraction
from harness.train.bias_diagnostics import bias_diagnostics, true_bias, worst_frames_found


def test_true_bias_is_the_mean_force_difference_on_shared_frames(make_frames) -> None:
    cheap = make_frames(n_frames=6, level="xtb", source="xtb", seed=1)
    accurate = make_frames(level="ccsd", source="ccsd", positions=cheap.positions[[1, 4]],
                           frame_ids=np.array([1, 4]), seed=2)
    truth = true_bias(accurate, cheap)
    assert np.isfinite(truth).tolist() == [False, True, False, False, True, False]
    assert truth[4] == pytest.approx(np.abs(accurate.forces[1] - cheap.forces[4]).mean())


def test_a_bias_that_ranks_like_the_truth_has_correlation_one(make_frames) -> None:
    cheap = make_frames(n_frames=12, level="xtb", source="xtb", seed=1)
    accurate = make_frames(n_frames=12, level="ccsd", source="ccsd", positions=cheap.positions,
                           frame_ids=cheap.frame_ids, seed=2)
    truth = true_bias(accurate, cheap)
    found = bias_diagnostics(2 * truth, {2.0: bias_weights(2 * truth, 2.0)}, truth)
    assert found["spearman_vs_true_bias"] == pytest.approx(1.0)
    assert found["pearson_vs_true_bias"] == pytest.approx(1.0)
    assert found["n_frames_with_true_bias"] == 12
    assert found["worst_decile_found"] == 1.0


def test_the_frame_with_the_larger_true_bias_gets_the_smaller_weight() -> None:
    truth = np.array([0.5, 3.0, 1.0, 6.0])
    weights = bias_weights(truth, gamma=1.0)
    assert np.argmin(weights) == np.argmax(truth)
    assert list(np.argsort(weights)) == list(np.argsort(-truth))


def test_effective_sample_fraction_runs_from_uniform_to_one_frame() -> None:
    assert effective_sample_fraction(np.ones(50)) == pytest.approx(1.0)
    assert effective_sample_fraction(np.r_[1.0, np.zeros(49)]) == pytest.approx(1 / 50)
    bias = np.linspace(0.5, 2.0, 100)
    fractions = [effective_sample_fraction(bias_weights(bias, gamma)) for gamma in (0.1, 2.0)]
    assert fractions[0] < fractions[1] < 1.0


def test_a_random_b_finds_the_worst_frames_about_as_often_as_chance() -> None:
    rng = np.random.default_rng(0)
    shares = [worst_frames_found(rng.random(1000), rng.random(1000)) for _ in range(20)]
    assert 0.05 < float(np.mean(shares)) < 0.15


def test_without_truth_only_the_effective_sample_sizes_are_reported() -> None:
    bias = np.array([1.0, 2.0, 3.0])
    found = bias_diagnostics(bias, {0.5: bias_weights(bias, 0.5)}, None)
    assert list(found) == ["ess_fraction_gamma0.5"]
    few = bias_diagnostics(bias, {}, np.array([1.0, np.nan, 2.0]))
    assert few == {"n_frames_with_true_bias": 2.0}
