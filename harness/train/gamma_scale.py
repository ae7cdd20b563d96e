"""What a value of the gamma grid means: gamma itself, gamma in units of B's median, or the
share of the effective sample size that the weights keep.

The paper's grid {0.1, 0.5, 1, 2} is absolute (kcal/mol/A with the mean reduction), so how
selective it is depends on the molecule, the cheap level and the bias estimator. On the embedded
ethanol data the true bias of xTB spans 5.0-7.9 kcal/mol/A, and B over its median with gamma
0.5-2 keeps 95-99.7% of the effective sample: uniform weights whatever gamma. With
``effective_sample_size`` a grid value g in (0, 1] is the fraction of the effective sample size
(sum w)^2 / (n sum w^2) that the weights keep, and gamma is solved for it on the frames' B:
g = 1 gives uniform weights and g = 0.1 weights as selective as keeping a tenth of the frames,
on any molecule and at any scale of B. Per-atom biases (``weight_resolution: atom``) are scaled
the same way, over every atom of every frame.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from harness.train.bias import bias_weights, effective_sample_fraction, normalise_by_median
from harness.train.config import GammaScale

# Bracket of the solve, in units of the smallest and largest B above the minimum: below it every
# frame but the least biased weighs under exp(-100), above it every weight exceeds exp(-1e-6).
SOLVE_LOW, SOLVE_HIGH = 1e-2, 1e6


def bias_for_weights(bias: np.ndarray, scale: GammaScale) -> np.ndarray:
    """B as the weights exp(-B_used / gamma) use it: B itself (absolute), B over its median
    (median), or B above its smallest value (effective_sample_size). The last gives the paper's
    weights times one constant, which leaves the effective sample size alone and keeps the
    largest weight at 1: the selective gammas the solve finds would otherwise make every
    exp(-B / gamma) vanish and with it, under the ``mean`` loss normalisation, the gradient."""
    bias = np.asarray(bias, dtype=np.float64)
    if scale == "median":
        return normalise_by_median(bias)
    if scale == "effective_sample_size":
        return bias - bias.min()
    return bias


def applied_gamma(bias_used: np.ndarray, grid_value: float, scale: GammaScale) -> float:
    """The gamma of exp(-B_used / gamma) that a value of the grid stands for."""
    if scale == "effective_sample_size":
        return gamma_keeping(bias_used, grid_value)
    return grid_value


def gamma_keeping(bias: np.ndarray, fraction: float) -> float:
    """The gamma whose weights exp(-B / gamma) keep ``fraction`` of the effective sample size.

    The effective sample fraction rises monotonically with gamma, from (frames tied at the
    smallest B) / n as gamma -> 0 to 1 as gamma -> infinity, so one root is bracketed and
    found to 1e-12 in log gamma. ``fraction`` 1, or a B without spread, gives infinity:
    uniform weights, the only ones that keep the whole sample.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"a fraction of the effective sample size is in (0, 1], got {fraction}")
    spread = np.asarray(bias, dtype=np.float64) - np.min(bias)
    if fraction == 1 or not spread.any():
        return math.inf

    def excess(log_gamma: float) -> float:
        return effective_sample_fraction(bias_weights(spread, math.exp(log_gamma))) - fraction

    low = math.log(SOLVE_LOW * spread[spread > 0].min())
    high = math.log(SOLVE_HIGH * spread.max())
    if excess(low) >= 0:
        tied = int((spread == 0).sum())
        raise ValueError(f"no gamma keeps as little as {fraction:g} of the effective sample: "
                         f"{tied} of {spread.size} biases (of frames, or of atoms with "
                         "per-atom weights) share the smallest")
    if excess(high) <= 0:
        return math.exp(high)
    return math.exp(brentq(excess, low, high, xtol=1e-12))
