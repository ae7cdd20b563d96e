"""Cell summaries over the selected trials of a sweep."""

from __future__ import annotations

import math

from harness.sweeps.finalize import mean_and_std


def test_mean_and_sample_standard_deviation() -> None:
    assert mean_and_std([1.0, 3.0]) == (2.0, math.sqrt(2.0))
    assert mean_and_std([5.0]) == (5.0, 0.0)
