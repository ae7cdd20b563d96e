"""How far each cheap level's labels are from the accurate ones, on the same geometries.

ASTEROID can only gain from cheap frames that are informative: if every cheap frame is off by
about the same amount (a narrow spread of the per-frame error), the weights exp(-B/gamma)
cannot single out good frames, and if the cheap error exceeds what standard training already
reaches, pre-training on it mostly teaches the shape of the surface. These numbers, on frames
paired by geometry (``pair_frames``), say which case a dataset is in. Units: kcal/mol/A for
forces, kcal/mol for energies.
"""

from __future__ import annotations

import numpy as np

from harness.data.atom_order import check_atom_order
from harness.data.frames import FrameSet
from harness.data.pairing import pair_frames


def level_discrepancy(accurate: FrameSet, cheap: FrameSet) -> dict[str, float]:
    """Force MAE of the cheap labels against the accurate ones and the spread of its
    per-frame value (the true bias, mean over atoms and components), on paired frames;
    energy MAE after removing the mean offset (the levels' energy zeros differ). A cheap file
    with its atoms reordered pairs with nothing, so it is refused rather than reported empty."""
    check_atom_order(accurate, cheap)
    ia, ib = pair_frames(accurate, cheap)
    if len(ia) == 0:
        return {"n_paired": 0}
    difference = cheap.forces[ib] - accurate.forces[ia]
    per_frame = np.abs(difference).mean(axis=(1, 2))
    energy_difference = cheap.energies[ib] - accurate.energies[ia]
    energy_difference = energy_difference - energy_difference.mean()
    return {
        "n_paired": int(len(ia)),
        "force_mae": float(np.abs(difference).mean()),
        "force_rmse": float(np.sqrt(np.mean(difference**2))),
        "true_bias_p10": float(np.percentile(per_frame, 10)),
        "true_bias_median": float(np.median(per_frame)),
        "true_bias_p90": float(np.percentile(per_frame, 90)),
        "energy_mae_offset_removed": float(np.abs(energy_difference).mean()),
        "accurate_mean_abs_force": float(np.abs(accurate.forces[ia]).mean()),
    }


def discrepancy_report(levels: dict[str, FrameSet], accurate: str) -> dict[str, dict]:
    """``level_discrepancy`` of every other labelled level against ``accurate``."""
    reference = levels[accurate]
    return {name: level_discrepancy(reference, frames) for name, frames in levels.items()
            if name != accurate and frames.is_labelled}


def default_reference_level(levels: dict[str, FrameSet]) -> str | None:
    """The accurate level by default: the only level; else the one labelled level whose cost is
    unknown beside measured ones (the labels ``harness data label`` took from the source file,
    MD17@CCSD(T) say, and labelled the same geometries against); else the labelled level whose
    labels cost the most CPU-seconds (None when no cost is known)."""
    if len(levels) == 1:
        return next(iter(levels))
    labelled = {name: frames for name, frames in levels.items() if frames.is_labelled}
    costed = {name: frames.seconds_per_label for name, frames in labelled.items()
              if frames.seconds_per_label is not None}
    brought = [name for name in labelled if name not in costed]
    if costed and len(brought) == 1:
        return brought[0]
    return max(costed, key=costed.get) if costed else None
