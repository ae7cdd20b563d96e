"""Does stage 1's bias B find the frames whose cheap labels are really wrong?

B(x) = mean |F(x; theta_0) - f_cheap(x)| mixes the cheap level's true error with theta_0's own
error. On the frames that carry both labels, the true bias is mean |f_accurate - f_cheap|; its
rank correlation with B says how much the weights exp(-B / gamma) can know. With few accurate
frames theta_0 is poor, B is mostly theta_0's error, and bias-aware training has little to use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from harness.data.frames import FrameSet


def true_bias(accurate: FrameSet, cheap: FrameSet) -> dict[int, float]:
    """Mean |f_accurate - f_cheap| (kcal/mol/A) per frame id labelled at both levels."""
    cheap_index = {int(frame_id): row for row, frame_id in enumerate(cheap.frame_ids)}
    shared = [(row, cheap_index[int(frame_id)]) for row, frame_id in enumerate(accurate.frame_ids)
              if int(frame_id) in cheap_index]
    return {int(accurate.frame_ids[a]): float(np.abs(accurate.forces[a] - cheap.forces[c]).mean())
            for a, c in shared}


def bias_quality(bias_table: Path, accurate: FrameSet, cheap: FrameSet) -> dict[str, float]:
    """Spearman correlation of B with the true bias on the frames that have both, and sizes."""
    table = np.load(bias_table)
    truth = true_bias(accurate, cheap)
    pairs = [(float(b), truth[int(i)]) for i, b in zip(table["frame_id"], table["bias"],
                                                       strict=True) if int(i) in truth]
    if len(pairs) < 3:
        return {"n_frames_with_truth": float(len(pairs))}
    estimated, actual = np.array(pairs).T
    return {"n_frames_with_truth": float(len(pairs)),
            "spearman_bias_vs_true": float(spearmanr(estimated, actual).statistic),
            "median_bias": float(np.median(table["bias"])),
            "median_true_bias": float(np.median(actual))}
