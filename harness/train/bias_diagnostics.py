"""Does the bias estimate B find the cheap frames whose labels are really wrong?

B(x) = |F(x; theta_0) - f_cheap(x)| mixes the cheap level's true error with theta_0's own
error. Where a cheap frame also carries an accurate label (same frame id: the same geometry),
its true bias is mean |f_accurate - f_cheap|, and the rank correlation of B with it says how
much the weights exp(-B / gamma) can know. Whatever B is worth, the effective sample size
(sum w)^2 / sum w^2 of the weights says how selective each gamma is: near the number of frames,
bias-aware training is plain pre-training.

The accurate labels used here are read for this diagnosis only and never trained on.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import pearsonr, spearmanr

from harness.data.frames import FrameSet
from harness.train.bias import effective_sample_fraction

MIN_FRAMES_WITH_TRUTH = 10  # fewer: no correlation is reported
WORST_SHARE = 0.1  # the decile of frames with the largest true bias


def true_bias(accurate: FrameSet, cheap: FrameSet) -> np.ndarray:
    """Mean |f_accurate - f_cheap| (kcal/mol/A) per cheap frame; NaN where no accurate frame
    has its id."""
    accurate_row = {int(frame_id): row for row, frame_id in enumerate(accurate.frame_ids)
                    if frame_id >= 0}
    truth = np.full(len(cheap), np.nan)
    for row, frame_id in enumerate(cheap.frame_ids):
        match = accurate_row.get(int(frame_id))
        if match is not None:
            truth[row] = float(np.abs(accurate.forces[match] - cheap.forces[row]).mean())
    return truth


def worst_frames_found(bias: np.ndarray, truth: np.ndarray) -> float:
    """Share of the frames with the largest true bias (top decile) that are also among the
    decile with the largest B, i.e. the lowest weights at any gamma (0.1 by chance)."""
    count = max(1, int(round(WORST_SHARE * len(bias))))
    largest_true = set(np.argsort(truth)[-count:].tolist())
    largest_estimated = set(np.argsort(bias)[-count:].tolist())
    return len(largest_true & largest_estimated) / count


def bias_diagnostics(bias: np.ndarray, weights_by_gamma: dict[float, np.ndarray],
                     truth: np.ndarray | None, chosen_gamma: float | None = None
                     ) -> dict[str, float]:
    """Effective sample fraction per gamma (and at the chosen one), and where enough frames
    have a true bias, the Spearman and Pearson correlation of B with it and the share of the
    worst frames found."""
    found = {f"ess_fraction_gamma{gamma:g}": effective_sample_fraction(weights)
             for gamma, weights in weights_by_gamma.items()}
    if chosen_gamma in weights_by_gamma:
        found["ess_fraction_at_chosen_gamma"] = found[f"ess_fraction_gamma{chosen_gamma:g}"]
    if truth is None:
        return found
    known = np.isfinite(truth)
    found["n_frames_with_true_bias"] = float(known.sum())
    if known.sum() >= MIN_FRAMES_WITH_TRUTH:
        estimated, actual = np.asarray(bias)[known], truth[known]
        found.update(spearman_vs_true_bias=float(spearmanr(estimated, actual).statistic),
                     pearson_vs_true_bias=float(pearsonr(estimated, actual).statistic),
                     worst_decile_found=worst_frames_found(estimated, actual),
                     true_bias_median=float(np.median(actual)))
    return found
