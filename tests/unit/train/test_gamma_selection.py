"""Gamma selection: one protocol for ``harness train`` with a gamma grid and for a sweep."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from train_toy import context, toy_splits

from harness.train.experiment import run_method
from harness.train.gamma_selection import GammaCandidate, choose_gamma


def test_lowest_validation_loss_wins_and_every_gamma_is_recorded() -> None:
    choice = choose_gamma([GammaCandidate("a", 0.5, 2.0), GammaCandidate("b", 1.0, 1.0),
                           GammaCandidate("c", 2.0, 3.0)])
    assert (choice.chosen_key, choice.chosen_gamma) == ("b", 1.0)
    assert choice.validation_loss_by_gamma == {0.5: 2.0, 1.0: 1.0, 2.0: 3.0}


def test_failed_and_non_finite_trials_are_never_chosen() -> None:
    choice = choose_gamma([GammaCandidate("a", 0.5, None), GammaCandidate("b", 1.0, math.nan),
                           GammaCandidate("c", 2.0, 9.0)])
    assert choice.chosen_key == "c"
    assert choice.validation_loss_by_gamma == {2.0: 9.0}
    assert choose_gamma([GammaCandidate("a", 0.5, None)]).chosen_key is None


def test_ties_go_to_the_smaller_gamma() -> None:
    choice = choose_gamma([GammaCandidate("big", 2.0, 1.0), GammaCandidate("small", 0.1, 1.0)])
    assert choice.chosen_gamma == 0.1


def test_a_trial_without_gamma_is_its_own_choice() -> None:
    choice = choose_gamma([GammaCandidate("standard", None, 4.0)])
    assert choice.chosen_key == "standard" and choice.validation_loss_by_gamma == {}


def test_the_gamma_of_lowest_validation_loss_among_real_trials_is_chosen(tmp_path: Path
                                                                         ) -> None:
    """A sweep trains one trial per gamma and chooses among them; ``harness train`` with the
    same gammas as a grid must see the same losses and keep the same model."""
    trials, models, kept_stage_one = [], {}, {}
    for gamma in (0.5, 2.0):
        outcome = run_method(context(tmp_path / f"g{gamma:g}", "asteroid",
                                     asteroid={"gammas": [gamma]}), toy_splits())
        trials.append(GammaCandidate(f"g{gamma:g}", gamma, outcome.validation_loss))
        models[gamma] = outcome.model
        kept_stage_one[gamma] = outcome.details["fine_tuning"]["kept_stage1"]
    losses = [trial.validation_loss for trial in trials]
    assert len(set(losses)) == 2  # the trials differ, so the choice is not vacuous
    choice = choose_gamma(trials)
    assert choice.validation_loss_by_gamma[choice.chosen_gamma] == min(losses)

    grid = run_method(context(tmp_path / "grid", "asteroid", asteroid={"gammas": [0.5, 2.0]}),
                      toy_splits())
    assert grid.details["chosen_gamma"] == choice.chosen_gamma
    assert grid.details["validation_loss_by_gamma"] == {
        f"{trial.gamma:g}": trial.validation_loss for trial in trials}
    # keeping stage 1's model, when the chosen fine-tuning is worse, is decided alike
    assert grid.details["fine_tuning"]["kept_stage1"] == kept_stage_one[choice.chosen_gamma]
    chosen_model = models[choice.chosen_gamma].state_dict()
    assert all(torch.equal(value, chosen_model[key])
               for key, value in grid.model.state_dict().items())
