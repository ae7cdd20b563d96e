"""Stage 1 of ASTEROID: the bias B of each inaccurate frame and its weight exp(-B / gamma).

B(x) = reduction over atoms and components of |F(x; theta_0) - f(x)| (the paper), of the
correction f_accurate - f_cheap a Delta-ML model predicts at x, or of an ensemble's gap beyond
its own spread (``ensemble_gap``; ``asteroid.bias_estimator``), in kcal/mol/A with the ``mean``
reduction (the authors' code, the scale of the paper's gamma grid)
or summed over the 3k components with ``sum`` (the paper's L1 norm). With
``asteroid.weight_resolution: atom`` each atom has its own bias b_i (the mean of the same gap
over its three components) and weight exp(-b_i / gamma). What a gamma means, on B, on B over
its median or as a share of the effective sample size, is ``gamma_scale``'s.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def absolute_reduction(forces: np.ndarray, reduction: Literal["mean", "sum"]) -> np.ndarray:
    """Per-frame mean or sum of |forces| over atoms and components, (n_frames,)."""
    absolute = np.abs(np.asarray(forces))
    absolute = absolute.reshape(len(absolute), -1)
    return absolute.mean(axis=1) if reduction == "mean" else absolute.sum(axis=1)


def atom_bias(gap: np.ndarray) -> np.ndarray:
    """Per-atom bias, the mean of |gap| over the three components, (n_frames, n_atoms) in
    kcal/mol/A whatever ``bias_reduction``: the scale of the paper's gamma grid."""
    return np.abs(np.asarray(gap)).mean(axis=-1)


def ensemble_gap(member_forces: np.ndarray, label_forces: np.ndarray,
                 spread_discount: float) -> np.ndarray:
    """Per force component, max(0, |mean_k F_k - f| - discount * std_k F_k), (n_frames, n_atoms,
    3) in kcal/mol/A, from ``member_forces`` (n_members, n_frames, n_atoms, 3).

    Where the members disagree, the ensemble mean's own error is of the size of their spread
    (std with ddof 1, the unbiased estimate from few members), and that much of the gap says
    nothing about the cheap label. The discount acts per component before any reduction, a soft
    threshold: a frame's confident gaps are not cancelled by uncertainty on other atoms, the
    result is never negative, and the same array gives per-atom biases. Discount 0: the gap of
    the ensemble mean."""
    member_forces = np.asarray(member_forces, dtype=np.float64)
    gap = np.abs(member_forces.mean(axis=0) - np.asarray(label_forces))
    return np.maximum(gap - spread_discount * member_spread(member_forces), 0.0)


def member_spread(member_forces: np.ndarray) -> np.ndarray:
    """Std over members (axis 0, ddof 1) of each force component."""
    return np.asarray(member_forces, dtype=np.float64).std(axis=0, ddof=1)


def normalise_by_median(bias: np.ndarray) -> np.ndarray:
    median = float(np.median(bias))
    return bias / median if median > 0 else bias


def bias_weights(bias: np.ndarray, gamma: float) -> np.ndarray:
    """w = exp(-B / gamma), in (0, 1]; gamma infinite gives uniform weights."""
    return np.exp(-np.asarray(bias, dtype=np.float64) / gamma)


def effective_sample_fraction(weights: np.ndarray) -> float:
    """(sum w)^2 / (n sum w^2) over every weight (per frame, or per atom): 1 for uniform
    weights, 1/n when one frame (or atom) takes all."""
    weights = np.asarray(weights, dtype=np.float64).ravel()
    return float(weights.sum() ** 2 / (len(weights) * np.square(weights).sum()))
