from __future__ import annotations

import math

from harness.sweeps.selection import TrialOutcome, choose_gamma, mean_and_std


def test_lowest_validation_loss_wins_and_every_gamma_is_recorded() -> None:
    choice = choose_gamma([TrialOutcome("a", 0.5, 2.0), TrialOutcome("b", 1.0, 1.0),
                           TrialOutcome("c", 2.0, 3.0)])
    assert (choice.chosen_key, choice.chosen_gamma) == ("b", 1.0)
    assert choice.validation_loss_by_gamma == {0.5: 2.0, 1.0: 1.0, 2.0: 3.0}


def test_failed_and_non_finite_trials_are_never_chosen() -> None:
    choice = choose_gamma([TrialOutcome("a", 0.5, None), TrialOutcome("b", 1.0, math.nan),
                           TrialOutcome("c", 2.0, 9.0)])
    assert choice.chosen_key == "c"
    assert choice.validation_loss_by_gamma == {2.0: 9.0}
    assert choose_gamma([TrialOutcome("a", 0.5, None)]).chosen_key is None


def test_ties_go_to_the_smaller_gamma() -> None:
    choice = choose_gamma([TrialOutcome("big", 2.0, 1.0), TrialOutcome("small", 0.1, 1.0)])
    assert choice.chosen_gamma == 0.1


def test_a_trial_without_gamma_is_its_own_choice() -> None:
    choice = choose_gamma([TrialOutcome("standard", None, 4.0)])
    assert choice.chosen_key == "standard" and choice.validation_loss_by_gamma == {}


def test_mean_and_sample_standard_deviation() -> None:
    assert mean_and_std([1.0, 3.0]) == (2.0, math.sqrt(2.0))
    assert mean_and_std([5.0]) == (5.0, 0.0)
