"""Claims rest on tests over seeds: Welch's interval, Wilson's interval, Fisher's test."""

from __future__ import annotations

import math

import pytest

from harness.report.evidence import fisher, welch, wilson


def test_welch_gives_the_interval_of_the_difference_of_means() -> None:
    difference = welch([1.0, 1.1], [0.6, 0.7])
    assert difference.estimate == pytest.approx(0.4)
    assert (difference.low, difference.high) == pytest.approx((0.096, 0.704), abs=1e-3)
    assert difference.established


def test_one_seed_or_no_spread_cannot_be_tested() -> None:
    assert not welch([1.0], [0.5, 0.6]).tested
    assert math.isnan(welch([1.0, 1.0], [0.5, 0.5]).p_value)


def test_wilson_interval_is_sensible_at_none_and_all_stable() -> None:
    low, high = wilson(0, 8)
    assert low == pytest.approx(0.0) and 0.2 < high < 0.4
    low, high = wilson(8, 8)
    assert 0.6 < low < 0.8 and high == pytest.approx(1.0)


def test_fisher_tells_clear_from_unclear_differences() -> None:
    assert fisher(16, 16, 0, 16) < 0.001
    assert fisher(4, 4, 3, 4) == pytest.approx(1.0)
