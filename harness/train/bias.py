"""Stage 1 of ASTEROID: the bias B of each inaccurate frame and its weight exp(-B / gamma).

B(x) = reduction over atoms and components of |F(x; theta_0) - f(x)| (the paper), or of the
correction f_accurate - f_cheap a Delta-ML model predicts at x (``asteroid.bias_estimator``), in
kcal/mol/A with the ``mean`` reduction (the authors' code, the scale of the paper's gamma grid)
or summed over the 3k components with ``sum`` (the paper's L1 norm). What a gamma means, on
B, on B over its median or as a share of the effective sample size, is ``gamma_scale``'s.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def absolute_reduction(forces: np.ndarray, reduction: Literal["mean", "sum"]) -> np.ndarray:
    """Per-frame mean or sum of |forces| over atoms and components, (n_frames,)."""
    absolute = np.abs(np.asarray(forces))
    absolute = absolute.reshape(len(absolute), -1)
    return absolute.mean(axis=1) if reduction == "mean" else absolute.sum(axis=1)


def force_discrepancy(predicted_forces: np.ndarray, label_forces: np.ndarray,
                      reduction: Literal["mean", "sum"]) -> np.ndarray:
    """Per-frame reduction of |predicted - label| over atoms and components, (n_frames,)."""
    return absolute_reduction(np.asarray(predicted_forces) - np.asarray(label_forces),
                              reduction)


def normalise_by_median(bias: np.ndarray) -> np.ndarray:
    median = float(np.median(bias))
    return bias / median if median > 0 else bias


def bias_weights(bias: np.ndarray, gamma: float) -> np.ndarray:
    """w = exp(-B / gamma), in (0, 1]; gamma infinite gives uniform weights."""
    return np.exp(-np.asarray(bias, dtype=np.float64) / gamma)


def effective_sample_fraction(weights: np.ndarray) -> float:
    """(sum w)^2 / (n sum w^2): 1 for uniform weights, 1/n when one frame takes all."""
    weights = np.asarray(weights, dtype=np.float64)
    return float(weights.sum() ** 2 / (len(weights) * np.square(weights).sum()))
