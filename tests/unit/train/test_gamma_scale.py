"""A gamma grid value means gamma, gamma over B's median, or a share of the effective sample."""

from __future__ import annotations

import math

import numpy as np
import pytest
from train_toy import tiny_config

from harness.errors import ConfigError
from harness.train.bias import bias_weights, effective_sample_fraction
from harness.train.config import parse_config
from harness.train.gamma_scale import applied_gamma, bias_for_weights, gamma_keeping
from harness.train.methods import applied_gammas

# B of 200 frames on three scales: ethanol's xTB-like spread (5-8 kcal/mol/A), a hundred
# times smaller, and the ``sum`` reduction's (x 27 for ethanol)
RNG = np.random.default_rng(0)
BIASES = [RNG.uniform(5.0, 8.0, 200), RNG.uniform(0.01, 0.08, 200),
          27 * RNG.lognormal(1.8, 0.3, 200)]


@pytest.mark.parametrize("bias", BIASES)
@pytest.mark.parametrize("share", [0.05, 0.3, 0.7, 0.99])
def test_the_solved_gamma_keeps_the_share_asked_for(bias: np.ndarray, share: float) -> None:
    used = bias_for_weights(bias, "effective_sample_size")
    gamma = applied_gamma(used, share, "effective_sample_size")
    assert effective_sample_fraction(bias_weights(used, gamma)) == pytest.approx(share,
                                                                                 abs=1e-9)
    assert bias_weights(used, gamma).max() == 1.0  # the least biased frame keeps weight 1


@pytest.mark.parametrize("bias", BIASES)
def test_a_larger_share_needs_a_larger_gamma(bias: np.ndarray) -> None:
    gammas = [gamma_keeping(bias, share) for share in np.linspace(0.02, 0.98, 25)]
    assert np.all(np.diff(gammas) > 0)


def test_the_solved_gamma_scales_with_b_and_ignores_its_offset() -> None:
    bias = BIASES[0]
    assert gamma_keeping(1000 * bias, 0.4) == pytest.approx(1000 * gamma_keeping(bias, 0.4))
    assert gamma_keeping(bias + 50, 0.4) == pytest.approx(gamma_keeping(bias, 0.4))


def test_keeping_the_whole_sample_is_uniform_weights() -> None:
    used = bias_for_weights(BIASES[0], "effective_sample_size")
    assert gamma_keeping(used, 1.0) == math.inf
    assert np.all(bias_weights(used, math.inf) == 1.0)
    assert gamma_keeping(np.full(10, 3.0), 0.5) == math.inf  # no spread: nothing to select


def test_shares_outside_zero_one_are_refused() -> None:
    for share in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"in \(0, 1\]"):
            gamma_keeping(BIASES[0], share)
    with pytest.raises(ConfigError, match="effective sample size, in \\(0, 1\\]") as caught:
        parse_config(tiny_config("asteroid", asteroid={
            "gammas": [0.5, 2.0], "gamma_scale": "effective_sample_size"}), "x.yaml")
    assert caught.value.key_path == "asteroid"


def test_a_share_below_the_frames_tied_at_the_smallest_b_is_a_config_error() -> None:
    config = parse_config(tiny_config("asteroid", asteroid={
        "gammas": [0.1], "gamma_scale": "effective_sample_size"}), "x.yaml")
    tied = np.array([0.0, 0.0, 0.0, 1.0, 2.0])  # gamma -> 0 still keeps 3 of 5 frames
    with pytest.raises(ConfigError, match="3 of 5 biases .* share the smallest") as caught:
        applied_gammas(tied, config.asteroid)
    assert caught.value.key_path == "asteroid.gammas"


def test_absolute_and_median_scales_use_the_grid_value_itself() -> None:
    bias = BIASES[0]
    assert np.array_equal(bias_for_weights(bias, "absolute"), bias)
    assert np.median(bias_for_weights(bias, "median")) == pytest.approx(1.0)
    for scale in ("absolute", "median"):
        assert applied_gamma(bias_for_weights(bias, scale), 0.5, scale) == 0.5


def test_the_default_grid_spans_uniform_to_selective_on_each_scale() -> None:
    """Without a grid, the effective-sample scale gets shares (1 is uniform), and the other
    scales the paper's grid; a trial that never uses gamma is valid on any scale."""
    shares = parse_config(tiny_config("no_bat", asteroid={
        "gamma_scale": "effective_sample_size"}), "x.yaml")
    assert shares.asteroid.gammas == [1.0, 0.5, 0.2]
    paper = parse_config(tiny_config("asteroid", asteroid={"gamma_scale": "median"}), "x.yaml")
    assert paper.asteroid.gammas == [0.1, 0.5, 1.0, 2.0]
