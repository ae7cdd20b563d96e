"""Budget = N_accurate + N_inaccurate / cost_ratio, with a declared or a measured ratio."""

from __future__ import annotations

import pytest

from harness.data.budget import (
    Allocation,
    accurate_frames,
    allocate,
    measured_cost_ratio,
    resolve_cost_ratio,
)
from harness.errors import ConfigError, DataError


def test_budget_cost_counts_inaccurate_labels_at_their_relative_price():
    assert Allocation(50, 800, 40).spent == 70.0
    assert Allocation(100, 0, 20).spent == 100.0


def test_a_run_without_inaccurate_labels_spends_its_accurate_frames():
    assert Allocation(25).spent == 25.0
    assert isinstance(Allocation(25).spent, float)


def test_inaccurate_labels_without_a_ratio_are_an_error():
    with pytest.raises(ConfigError, match="cost_ratio"):
        Allocation(10, 5)


@pytest.mark.parametrize(("budget", "n_accurate", "ratio", "expected"), [
    (70, 50, 40, 800), (100, 100, 20, 0), (1.1, 1, 10, 1), (60.5, 50, 80, 840), (51, 50, 2.5, 2),
])
def test_inaccurate_frames_fill_the_rest_of_the_budget(budget, n_accurate, ratio, expected):
    allocation = allocate(budget, n_accurate, ratio)
    assert (allocation.n_accurate, allocation.n_inaccurate) == (n_accurate, expected)
    assert allocation.spent <= budget + 1e-9
    assert Allocation(n_accurate, expected + 1, ratio).spent > budget


def test_budget_below_the_accurate_frames_is_an_error():
    with pytest.raises(ConfigError, match="budget"):
        allocate(40, 50, 20)


@pytest.mark.parametrize("ratio", [0, -5, float("nan"), float("inf")])
def test_cost_ratio_must_be_positive(ratio):
    with pytest.raises(ConfigError, match="cost_ratio"):
        Allocation(10, 10, ratio)
    with pytest.raises(ConfigError, match="cost_ratio"):
        allocate(20, 10, ratio)


@pytest.mark.parametrize(("budget", "share", "expected"), [
    (25, 0, 25), (25, 1, 24), (250, 50, 200), (25.5, 1, 24), (6, 1, 5), (1.3, 0.3, 1),
])
def test_the_share_set_aside_for_inaccurate_labels_leaves_whole_accurate_frames(
        budget, share, expected):
    assert accurate_frames(budget, share) == expected


def test_the_share_and_the_fill_spend_the_whole_budget_at_most():
    """A sweep's two steps: accurate frames at planning, inaccurate labels at training."""
    budget, share, ratio = 25.5, 1, 40
    allocation = allocate(budget, accurate_frames(budget, share), ratio)
    assert (allocation.n_accurate, allocation.n_inaccurate) == (24, 60)  # 1.5 labels' worth
    assert allocation.spent == pytest.approx(budget)


@pytest.mark.parametrize(("budget", "share"), [(1, 1), (0.5, 0), (10, 9.5)])
def test_a_budget_that_leaves_no_accurate_frame_is_an_error(budget, share):
    with pytest.raises(ConfigError, match="leaves .* accurate frames"):
        accurate_frames(budget, share)


def test_measured_ratio_is_the_ratio_of_label_costs(make_frames):
    accurate = make_frames(seconds_per_label=7.0)
    inaccurate = make_frames(seconds_per_label=0.01)
    assert measured_cost_ratio(accurate, inaccurate) == pytest.approx(700.0)
    assert resolve_cost_ratio("measured", accurate, inaccurate) == pytest.approx(700.0)
    assert resolve_cost_ratio(40, accurate, inaccurate) == 40.0


def test_a_measured_ratio_sizes_the_inaccurate_labels(make_frames):
    accurate = make_frames(seconds_per_label=7.0)
    inaccurate = make_frames(seconds_per_label=0.01)
    allocation = allocate(25.2, 25, resolve_cost_ratio("measured", accurate, inaccurate))
    assert allocation.n_inaccurate == 140  # 0.2 CCSD labels buy 0.2 * 700 xTB ones
    assert allocation.spent == pytest.approx(25.2)


@pytest.mark.parametrize("seconds", [None, 0.0])
def test_measured_ratio_needs_known_costs(make_frames, seconds):
    accurate = make_frames(seconds_per_label=7.0)
    inaccurate = make_frames(seconds_per_label=seconds, source="xtb.npz")
    with pytest.raises(DataError, match=r"xtb\.npz: field 'seconds_per_label'"):
        measured_cost_ratio(accurate, inaccurate)


@pytest.mark.parametrize("declared", ["cheap", -1.0])
def test_declared_ratio_is_a_positive_number_or_measured(make_frames, declared):
    frames = make_frames(seconds_per_label=1.0)
    with pytest.raises(ConfigError, match="cost_ratio"):
        resolve_cost_ratio(declared, frames, frames)
