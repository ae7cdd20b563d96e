"""Budget = N_accurate + N_inaccurate / cost_ratio, with a declared or a measured ratio."""

from __future__ import annotations

import pytest

from harness.data.budget import (
    budget_cost,
    inaccurate_frames_for_budget,
    measured_cost_ratio,
    resolve_cost_ratio,
)
from harness.errors import ConfigError, DataError


def test_budget_cost_counts_inaccurate_labels_at_their_relative_price():
    assert budget_cost(50, 800, 40) == 70.0
    assert budget_cost(100, 0, 20) == 100.0


@pytest.mark.parametrize(("budget", "n_accurate", "ratio", "expected"), [
    (70, 50, 40, 800), (100, 100, 20, 0), (1.1, 1, 10, 1), (60.5, 50, 80, 840), (51, 50, 2.5, 2),
])
def test_inaccurate_frames_fill_the_rest_of_the_budget(budget, n_accurate, ratio, expected):
    n_inaccurate = inaccurate_frames_for_budget(budget, n_accurate, ratio)
    assert n_inaccurate == expected
    assert budget_cost(n_accurate, n_inaccurate, ratio) <= budget + 1e-9
    assert budget_cost(n_accurate, n_inaccurate + 1, ratio) > budget


def test_budget_below_the_accurate_frames_is_an_error():
    with pytest.raises(ConfigError, match="budget"):
        inaccurate_frames_for_budget(40, 50, 20)


@pytest.mark.parametrize("ratio", [0, -5, float("nan"), float("inf")])
def test_cost_ratio_must_be_positive(ratio):
    with pytest.raises(ConfigError, match="cost_ratio"):
        budget_cost(10, 10, ratio)


def test_measured_ratio_is_the_ratio_of_label_costs(make_frames):
    accurate = make_frames(seconds_per_label=7.0)
    inaccurate = make_frames(seconds_per_label=0.01)
    assert measured_cost_ratio(accurate, inaccurate) == pytest.approx(700.0)
    assert resolve_cost_ratio("measured", accurate, inaccurate) == pytest.approx(700.0)
    assert resolve_cost_ratio(40, accurate, inaccurate) == 40.0


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
