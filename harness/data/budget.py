"""Budget arithmetic of multi-fidelity training (paper Sec. 4): costs counted in accurate labels.

One accurate label costs 1; one inaccurate label costs 1 / cost_ratio, where cost_ratio is how
many inaccurate labels cost as much as one accurate label. The ratio is either declared (the
paper assumes 20, 40 or 80) or measured from the CPU-seconds per label stored with the data.
"""

from __future__ import annotations

import math

from harness.data.frames import FrameSet
from harness.errors import ConfigError, DataError

MEASURED = "measured"


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
            raise ConfigError("<config>", "cost_ratio",
                              f"'{declared}' is neither a number nor '{MEASURED}'")
        return measured_cost_ratio(accurate, inaccurate)
    if not (math.isfinite(declared) and declared > 0):
        raise ConfigError("<config>", "cost_ratio", f"must be a positive number, got {declared}")
    return float(declared)


def budget_cost(n_accurate: int, n_inaccurate: int, cost_ratio: float) -> float:
    """Cost in accurate labels: n_accurate + n_inaccurate / cost_ratio."""
    _require_positive_ratio(cost_ratio)
    return n_accurate + n_inaccurate / cost_ratio


def inaccurate_frames_for_budget(budget: float, n_accurate: int, cost_ratio: float) -> int:
    """The most inaccurate labels that fit in ``budget`` beside ``n_accurate`` accurate ones."""
    _require_positive_ratio(cost_ratio)
    if budget < n_accurate:
        raise ConfigError("<config>", "budget",
                          f"{budget} is below the {n_accurate} accurate training frames it "
                          "must pay for")
    # The small slack keeps e.g. (1.1 - 1) * 10 = 0.9999999999999998 from flooring to 0.
    return int(math.floor((budget - n_accurate) * cost_ratio + 1e-9))


def _require_positive_ratio(cost_ratio: float) -> None:
    if not (math.isfinite(cost_ratio) and cost_ratio > 0):
        raise ConfigError("<config>", "cost_ratio", f"must be a positive number, got {cost_ratio}")
