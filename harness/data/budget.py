"""Budget arithmetic of multi-fidelity training (paper Sec. 4): costs counted in accurate labels.

One accurate label costs 1; one inaccurate label costs 1 / cost_ratio, where cost_ratio is how
many inaccurate labels cost as much as one accurate label. The ratio is either declared (the
paper assumes 20, 40 or 80) or measured from the CPU-seconds per label stored with the data.

This module is the one owner of that arithmetic. A budget is split in two steps, because a
measured ratio is known only once the data are loaded:

1. ``accurate_frames`` (a sweep's plan): the budget less the share set aside for
   inaccurate labels buys accurate frames, rounded down;
2. ``allocate`` (training): what those accurate frames leave of the budget buys as many
   inaccurate labels as it affords at the ratio, rounded down.

A run records what it actually paid as an ``Allocation`` (``spent``): fewer inaccurate labels
when the level holds fewer than the budget affords, Delta-ML's one cheap label per paired
accurate frame. Unlabeled frames are free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.data.frames import FrameSet
from harness.errors import UNKNOWN_CONFIG, ConfigError, DataError

MEASURED = "measured"
# Keeps e.g. (1.1 - 1) * 10 = 0.9999999999999998 from rounding down to 0.
ROUNDING_SLACK = 1e-9


@dataclass(frozen=True)
class Allocation:
    """Labels a run pays for: accurate frames, and inaccurate labels at ``cost_ratio`` (None
    when it pays for none)."""

    n_accurate: int
    n_inaccurate: int = 0
    cost_ratio: float | None = None

    def __post_init__(self) -> None:
        if self.cost_ratio is not None:
            _require_positive_ratio(self.cost_ratio)
        elif self.n_inaccurate:
            raise ConfigError(UNKNOWN_CONFIG, "cost_ratio",
                              f"{self.n_inaccurate} inaccurate labels need a cost ratio")

    @property
    def spent(self) -> float:
        """Cost in accurate labels: n_accurate + n_inaccurate / cost_ratio."""
        if self.cost_ratio is None:
            return float(self.n_accurate)
        return self.n_accurate + self.n_inaccurate / self.cost_ratio


def accurate_frames(budget: float, inaccurate_share: float = 0.0) -> int:
    """Accurate frames ``budget`` buys once ``inaccurate_share`` of it (accurate-label
    equivalents) is set aside for inaccurate labels; at least one."""
    available = budget - inaccurate_share
    frames = math.floor(available + ROUNDING_SLACK)
    if frames < 1:
        raise ConfigError(UNKNOWN_CONFIG, "budget",
                          f"budget {budget:g} leaves {available:g} accurate frames after an "
                          f"inaccurate share of {inaccurate_share:g}")
    return frames


def allocate(budget: float, n_accurate: int, cost_ratio: float) -> Allocation:
    """``n_accurate`` accurate frames and the most inaccurate labels the rest of ``budget``
    buys at ``cost_ratio``."""
    _require_positive_ratio(cost_ratio)
    if budget < n_accurate:
        raise ConfigError(UNKNOWN_CONFIG, "budget",
                          f"{budget} is below the {n_accurate} accurate training frames it "
                          "must pay for")
    n_inaccurate = math.floor((budget - n_accurate) * cost_ratio + ROUNDING_SLACK)
    return Allocation(n_accurate, n_inaccurate, cost_ratio)


def measured_cost_ratio(accurate: FrameSet, inaccurate: FrameSet) -> float:
    """CPU-seconds of one accurate label over CPU-seconds of one inaccurate label."""
    for frames in (accurate, inaccurate):
        if not frames.seconds_per_label:
            raise DataError(frames.source, "seconds_per_label",
                            f"level '{frames.level}' has no measured label cost "
                            f"({frames.seconds_per_label}); declare a numeric cost ratio instead")
    return accurate.seconds_per_label / inaccurate.seconds_per_label


def resolve_cost_ratio(declared: float | str, accurate: FrameSet, inaccurate: FrameSet) -> float:
    """A declared ratio (a positive number) or, for the string 'measured', the measured one."""
    if isinstance(declared, str):
        if declared.strip().lower() != MEASURED:
            raise ConfigError(UNKNOWN_CONFIG, "cost_ratio",
                              f"'{declared}' is neither a number nor '{MEASURED}'")
        return measured_cost_ratio(accurate, inaccurate)
    if not (math.isfinite(declared) and declared > 0):
        raise ConfigError(UNKNOWN_CONFIG, "cost_ratio",
                          f"must be a positive number, got {declared}")
    return float(declared)


def _require_positive_ratio(cost_ratio: float) -> None:
    if not (math.isfinite(cost_ratio) and cost_ratio > 0):
        raise ConfigError(UNKNOWN_CONFIG, "cost_ratio",
                          f"must be a positive number, got {cost_ratio}")
