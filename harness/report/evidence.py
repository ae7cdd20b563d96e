"""How strong a difference is: tests over seeds and intervals for fractions (scipy).

A claim that one method has a lower force MAE than another is only as good as the seeds behind
it. Means over seeds are compared by Welch's t-test (no equal-variance assumption), with the
95% confidence interval of the difference of means; a stable fraction of MD trajectories gets
a Wilson 95% interval, and two fractions Fisher's exact test. Below ``THIN_SEEDS`` seeds per
method, or ``THIN_TRAJECTORIES`` trajectories or one training seed in MD, the report says that
the evidence is thin.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
THIN_SEEDS = 5  # fewer seeds per method than this: a spread estimated from very few values
THIN_TRAJECTORIES = 16


@dataclass(frozen=True)
class Difference:
    """mean(a) - mean(b) and its Welch 95% interval and p-value (NaN: no test possible)."""

    estimate: float
    low: float
    high: float
    p_value: float

    @property
    def tested(self) -> bool:
        return math.isfinite(self.p_value)

    @property
    def established(self) -> bool:
        """The interval excludes zero (equivalently p < 1 - CONFIDENCE)."""
        return self.tested and (self.low > 0 or self.high < 0)


def welch(a: Sequence[float], b: Sequence[float]) -> Difference:
    """Welch's t-test of mean(a) - mean(b); untestable with one value on a side or no spread."""
    a_values, b_values = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    estimate = float(a_values.mean() - b_values.mean())
    if min(len(a_values), len(b_values)) < 2 or (np.ptp(a_values) == 0 == np.ptp(b_values)):
        return Difference(estimate, math.nan, math.nan, math.nan)
    with warnings.catch_warnings():  # one side without spread: exact, not imprecise
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        result = stats.ttest_ind(a_values, b_values, equal_var=False)
    interval = result.confidence_interval(CONFIDENCE)
    return Difference(estimate, float(interval.low), float(interval.high), float(result.pvalue))


def wilson(stable: int, total: int) -> tuple[float, float]:
    """The Wilson 95% interval of a fraction ``stable``/``total`` (sensible at 0/n and n/n)."""
    interval = stats.binomtest(stable, total).proportion_ci(CONFIDENCE, method="wilson")
    return float(interval.low), float(interval.high)


def fisher(stable_a: int, total_a: int, stable_b: int, total_b: int) -> float:
    """Two-sided p-value of Fisher's exact test that two stable fractions differ."""
    table = [[stable_a, total_a - stable_a], [stable_b, total_b - stable_b]]
    return float(stats.fisher_exact(table).pvalue)


def p_text(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"
