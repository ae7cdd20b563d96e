"""The methods as stage compositions, including the authors' known defects as tests."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from train_toy import QuadraticModel, context, paired_toy_splits, toy_frames, toy_splits

from harness.baselines import BASELINE_METHODS
from harness.errors import ConfigError
from harness.train import methods
from harness.train.bias import (
    absolute_reduction,
    bias_weights,
    effective_sample_fraction,
    ensemble_gap,
)
from harness.train.checkpoint import stage_checkpoint
from harness.train.config import Method
from harness.train.experiment import METHODS, convergence_warnings, run_method
from harness.train.methods import TRAINING_METHODS
from harness.train.prediction import predict
from harness.train.trainer import StageResult


class StageRecorder:
    """Wraps ``methods.run_stage`` and keeps each stage's weights and parameters at its ends."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.start: dict[str, dict[str, torch.Tensor]] = {}
        self.end: dict[str, dict[str, torch.Tensor]] = {}
        self.weights: dict[str, np.ndarray | None] = {}
        self.options: dict[str, dict[str, Any]] = {}
        original = methods.run_stage

        def recorded(context, name, model, schedule, objective, train_frames, validation_frames,
                     weights=None, **options):
            self.start[name] = snapshot(model)
            self.weights[name] = weights
            self.options[name] = options
            result = original(context, name, model, schedule, objective, train_frames,
                              validation_frames, weights, **options)
            self.end[name] = snapshot(model)
            return result

        monkeypatch.setattr(methods, "run_stage", recorded)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


@pytest.mark.parametrize(("estimator", "splits"), [("stage_one", toy_splits),
                                                   ("correction_model", paired_toy_splits)])
def test_asteroid_stage_three_starts_from_stage_two(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    estimator: str, splits: Any) -> None:
    """The authors' fine-tuning script never loaded the stage-2 model: here it must."""
    recorder = StageRecorder(monkeypatch)
    outcome = run_method(context(tmp_path, "asteroid", asteroid={
        "gammas": [0.5, 2.0], "bias_estimator": estimator}), splits())
    for gamma in ("0.5", "2"):
        end = recorder.end[f"stage2_gamma{gamma}"]
        for fine_tuning in (f"stage3_gamma{gamma}", f"stage3_gamma{gamma}_lr_x4"):
            start = recorder.start[fine_tuning]
            for name, value in end.items():
                if name != "atomic_energy_shift":  # only the energy zero is re-aligned
                    assert torch.equal(start[name], value), (fine_tuning, name)
        fresh = recorder.start[f"stage2_gamma{gamma}"]
        assert not torch.equal(fresh["atom_energy.2.weight"], end["atom_energy.2.weight"])
    assert [stage.name for stage in outcome.stages] == [
        "stage1", "stage2_gamma0.5", "stage3_gamma0.5", "stage3_gamma0.5_lr_x4",
        "stage2_gamma2", "stage3_gamma2", "stage3_gamma2_lr_x4"]


def test_asteroid_stage_two_trains_on_bias_weights(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The authors' stage 2 ran unweighted: here each gamma's weights reach the loss."""
    recorder = StageRecorder(monkeypatch)
    outcome = run_method(context(tmp_path, "asteroid"), toy_splits())
    bias = outcome.bias_table["bias"]
    assert bias.shape == (32,) and np.all(bias > 0)
    for gamma in (0.5, 2.0):
        weights = recorder.weights[f"stage2_gamma{gamma:g}"]
        assert np.allclose(weights, bias_weights(bias, gamma))
        assert np.allclose(outcome.bias_table[f"weight_gamma{gamma:g}"], weights)
    assert recorder.weights["stage1"] is None
    # stage 2's model has the inaccurate level's energy zero: it validates on forces only
    assert recorder.options["stage2_gamma0.5"] == {"validate_forces_only": True}
    assert recorder.options["stage3_gamma0.5"] == {}


def test_asteroid_records_stage_one_beside_the_chosen_fine_tuning(tmp_path: Path) -> None:
    outcome = run_method(context(tmp_path, "asteroid"), toy_splits())
    guard = outcome.details["fine_tuning"]
    stage_one = next(stage for stage in outcome.stages if stage.name == "stage1")
    assert guard["stage1_best_validation_loss"] == stage_one.best_validation_loss
    assert guard["stage1_name"] == "stage1"
    assert guard["stage3_best_validation_loss"] == min(
        outcome.details["validation_loss_by_gamma"].values())
    assert guard["worse_than_stage1"] == (guard["stage3_best_validation_loss"]
                                          > guard["stage1_best_validation_loss"])


def fine_tuning_reported(monkeypatch: pytest.MonkeyPatch, worse: bool
                         ) -> list[methods.BiasEstimate]:
    """Every stage-3 run reports a validation loss far above stage 1's (``worse``) or of 0;
    returns the bias estimates ASTEROID gets, to compare its model with stage 1's."""
    original_stage, original_bias = methods.run_stage, methods.stage_one_bias
    estimates: list[methods.BiasEstimate] = []

    def reported(context, name, *args, **options):
        result = original_stage(context, name, *args, **options)
        if name.startswith("stage3"):
            loss = result.best_validation_loss + 1e6 if worse else 0.0
            return dataclasses.replace(result, best_validation_loss=loss)
        return result

    def kept(context, splits):
        estimates.append(original_bias(context, splits))
        return estimates[-1]

    monkeypatch.setattr(methods, "run_stage", reported)
    monkeypatch.setattr(methods, "stage_one_bias", kept)
    return estimates


@pytest.mark.parametrize(("worse", "keep"), [(True, True), (True, False), (False, True)])
def test_stage_one_is_kept_only_when_fine_tuning_is_worse_and_when_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worse: bool, keep: bool) -> None:
    """The gamma -> 0 limit (no cheap data) is a candidate that costs no training: when
    validation says pre-training hurt, the trial's model is stage 1's, and says so."""
    estimates = fine_tuning_reported(monkeypatch, worse)
    outcome = run_method(context(tmp_path, "asteroid", asteroid={
        "gammas": [0.5, 2.0], "keep_stage_one_when_better": keep}), toy_splits())
    guard = outcome.details["fine_tuning"]
    stage_one = next(stage for stage in outcome.stages if stage.name == "stage1")
    kept = worse and keep
    assert guard["worse_than_stage1"] == worse and guard["kept_stage1"] == kept
    assert (outcome.model is estimates[0].accurate_network) == kept
    # gamma selection across a sweep's trials still compares the chosen fine-tuning
    assert outcome.kept_stage.startswith("stage3_gamma")
    assert outcome.validation_loss == guard["stage3_best_validation_loss"]
    assert outcome.validation_loss != stage_one.best_validation_loss
    assert outcome.details["chosen_gamma"] in (0.5, 2.0)  # the fine-tuned candidates' choice
    lines = convergence_warnings({"name": "toy", "details": outcome.details, "stages": []})
    if worse:
        assert lines[0].endswith("stage 1's model is kept" if keep
                                 else "the fine-tuned model is kept")
    else:
        assert lines == []


def test_a_fine_tuning_worse_than_stage_one_and_capped_stages_are_warned_about() -> None:
    results = {"name": "toy", "details": {"fine_tuning": methods.fine_tuning_guard(
        StageResult("stage1", 2.0, 0, 10, "converged"), 3.0)},
        "stages": [{"name": "stage2_gamma1", "steps": 600, "best_step": 600,
                    "stopped_by": "max_steps", "still_improving_at_cap": True},
                   {"name": "stage1", "steps": 900, "best_step": 100,
                    "stopped_by": "converged", "still_improving_at_cap": False}]}
    lines = convergence_warnings(results)
    assert len(lines) == 2
    assert "stage2_gamma1 NOT CONVERGED" in lines[0] and "max_steps" in lines[0]
    assert "fine-tuning ended worse than its own stage 1" in lines[1] and "3 against 2" in lines[1]


def test_fine_tuning_runs_each_learning_rate_factor_and_keeps_the_best_on_validation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One fine-tuning rate does not suit every data size: each factor's run starts from the
    same pre-trained model, and the lowest validation loss is kept, weights included."""
    recorder = StageRecorder(monkeypatch)
    rates: dict[str, float] = {}
    recording = methods.run_stage

    def with_rates(context, name, model, schedule, *arguments, **options):
        rates[name] = schedule.learning_rate
        return recording(context, name, model, schedule, *arguments, **options)

    monkeypatch.setattr(methods, "run_stage", with_rates)
    outcome = run_method(context(tmp_path, "no_bat", fine_tune={
        "learning_rate_factors": [1.0, 4.0, 0.25]}), toy_splits())
    runs = {stage.name: stage for stage in outcome.stages if stage.name.startswith("stage3")}
    assert list(runs) == ["stage3", "stage3_lr_x4", "stage3_lr_x0.25"]
    assert rates["stage3_lr_x4"] == pytest.approx(4 * rates["stage3"])
    assert rates["stage3_lr_x0.25"] == pytest.approx(rates["stage3"] / 4)
    for name in runs:
        assert all(torch.equal(recorder.start[name][key], recorder.start["stage3"][key])
                   for key in recorder.start["stage3"])
    best = min(runs.values(), key=lambda stage: stage.best_validation_loss)
    kept = snapshot(outcome.model)
    assert all(torch.equal(kept[key], recorder.end[best.name][key]) for key in kept)
    assert outcome.validation_loss == best.best_validation_loss  # what a sweep compares


def test_median_normalised_bias_has_median_one(tmp_path: Path) -> None:
    outcome = run_method(context(tmp_path, "asteroid", asteroid={
        "gammas": [1.0], "gamma_scale": "median"}), toy_splits())
    assert np.median(outcome.bias_table["bias_used"]) == pytest.approx(1.0)
    assert not np.allclose(outcome.bias_table["bias"], outcome.bias_table["bias_used"])


def test_effective_sample_scale_solves_the_gamma_that_keeps_each_share(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = StageRecorder(monkeypatch)
    outcome = run_method(context(tmp_path, "asteroid", asteroid={
        "gammas": [0.3, 1.0], "gamma_scale": "effective_sample_size"}), toy_splits())
    table, details = outcome.bias_table, outcome.details
    assert np.allclose(table["bias_used"], table["bias"] - table["bias"].min())
    solved = details["applied_gamma_by_gamma"]
    assert 0 < solved["0.3"] < np.inf and solved["1"] is None  # uniform: no finite gamma
    assert np.allclose(recorder.weights["stage2_gamma0.3"],
                       bias_weights(table["bias_used"], solved["0.3"]))
    assert np.all(recorder.weights["stage2_gamma1"] == 1.0)  # the whole sample: uniform
    assert effective_sample_fraction(table["weight_gamma0.3"]) == pytest.approx(0.3)
    assert details["bias_diagnostics"]["ess_fraction_gamma0.3"] == pytest.approx(0.3)
    assert details["applied_gamma"] == solved[f"{details['chosen_gamma']:g}"]


def test_a_correction_model_gives_the_more_wrong_cheap_frame_the_smaller_weight(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stage 1 learns accurate - cheap on the accurate frames' pairs; B is the mean size of the
    correction it predicts on each cheap frame. The quadratic model can represent the
    constructed corruption exactly, so B must rank the frames as their true bias does."""
    monkeypatch.setattr(methods, "build_model", lambda name, hyperparameters: QuadraticModel())
    recorder = StageRecorder(monkeypatch)
    splits = paired_toy_splits()
    truth = splits.true_bias  # mean |f_accurate - f_cheap| per cheap frame
    outcome = run_method(context(tmp_path, "asteroid", asteroid={
        "gammas": [1.0], "bias_estimator": "correction_model", "gamma_scale": "median"}),
        splits)
    weights = outcome.bias_table["weight_gamma1"]
    assert np.argmin(weights) == np.argmax(truth) and np.argmax(weights) == np.argmin(truth)
    assert spearmanr(outcome.bias_table["bias"], truth).statistic == pytest.approx(1.0)
    assert outcome.details["bias_diagnostics"]["spearman_vs_true_bias"] == pytest.approx(1.0)
    assert recorder.weights["stage1"] is None
    assert outcome.details["n_correction_pairs_train"] == 16
    assert outcome.details["n_cheap_labels_beyond_inaccurate_train"] == 16
    assert "fine_tuning" not in outcome.details  # its stage 1 is no model of the accurate level


ENSEMBLE = {"gammas": [1.0], "bias_estimator": "ensemble", "ensemble_size": 2,
            "spread_discount": 0.5}


def test_an_ensemble_trains_each_member_as_its_own_stage_and_discounts_their_spread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two members from different seeds, each with its own checkpoint; B is the reduced
    ``ensemble_gap`` of their forces on the cheap frames; fine-tuning is compared with the best
    member; a second run in the same folder resumes every stage to the same B."""
    recorder = StageRecorder(monkeypatch)
    member_forces: list[np.ndarray] = []
    original = methods.predicted_forces

    def recorded(*arguments: Any) -> np.ndarray:
        member_forces.append(original(*arguments))
        return member_forces[-1]

    monkeypatch.setattr(methods, "predicted_forces", recorded)
    splits = toy_splits()
    outcome = run_method(context(tmp_path, "asteroid", asteroid=ENSEMBLE), splits)
    members = ["stage1_m0", "stage1_m1"]
    assert [stage.name for stage in outcome.stages] == [*members, "stage2_gamma1",
                                                        "stage3_gamma1", "stage3_gamma1_lr_x4"]
    assert all(stage_checkpoint(tmp_path, name).exists() for name in members)
    assert not torch.equal(recorder.start["stage1_m0"]["atom_energy.2.weight"],
                           recorder.start["stage1_m1"]["atom_energy.2.weight"])
    expected = absolute_reduction(ensemble_gap(np.stack(member_forces),
                                               splits.inaccurate_train.forces, 0.5), "mean")
    assert np.allclose(outcome.bias_table["bias"], expected) and np.all(expected >= 0)
    details = outcome.details
    losses = {stage.name: stage.best_validation_loss for stage in outcome.stages[:2]}
    assert details["ensemble_member_validation_losses"] == losses
    assert details["ensemble_spread_mean"] > 0
    assert details["fine_tuning"]["stage1_name"] == min(losses, key=losses.get)
    assert details["fine_tuning"]["stage1_best_validation_loss"] == min(losses.values())
    resumed = run_method(context(tmp_path, "asteroid", asteroid=ENSEMBLE), splits)
    assert np.array_equal(resumed.bias_table["bias"], outcome.bias_table["bias"])


def test_per_atom_weights_give_the_more_wrong_cheap_atom_the_smaller_weight(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The constructed corruption of ``paired_toy_splits`` is wrong by 2 c |x_i| on atom i, and
    the quadratic correction model predicts a multiple of it: with ``weight_resolution: atom``
    the atoms' weights rank inversely to their true bias, stage 2 gets them per atom, and the
    bias table keeps per frame the mean of its atoms' weights."""
    monkeypatch.setattr(methods, "build_model", lambda name, hyperparameters: QuadraticModel())
    recorder = StageRecorder(monkeypatch)
    splits = paired_toy_splits()
    outcome = run_method(context(tmp_path, "asteroid", asteroid={
        "gammas": [1.0], "bias_estimator": "correction_model", "gamma_scale": "median",
        "weight_resolution": "atom"}), splits)
    true_atom_bias = np.abs(2 * 3.0 * splits.inaccurate_train.positions).mean(axis=-1)
    weights = recorder.weights["stage2_gamma1"]
    assert weights.shape == (32, 4)
    assert spearmanr(weights.ravel(), true_atom_bias.ravel()).statistic == pytest.approx(-1.0)
    assert np.allclose(outcome.bias_table["weight_gamma1"], weights.mean(axis=1))
    assert outcome.details["bias_diagnostics"]["ess_fraction_gamma1"] == pytest.approx(
        effective_sample_fraction(weights))


def test_a_correction_model_without_paired_cheap_labels_is_a_config_error(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="asteroid.bias_estimator") as caught:
        run_method(context(tmp_path, "asteroid", asteroid={
            "bias_estimator": "correction_model"}), toy_splits())
    assert "\n" not in str(caught.value) and "'inaccurate' labels" in str(caught.value)


def test_ablations_drop_weights_or_fine_tuning(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = StageRecorder(monkeypatch)
    no_bat = run_method(context(tmp_path / "no_bat", "no_bat"), toy_splits())
    assert [stage.name for stage in no_bat.stages] == ["stage2", "stage3", "stage3_lr_x4"]
    assert recorder.weights["stage2"] is None and no_bat.bias_table is None
    no_ft = run_method(context(tmp_path / "no_ft", "no_ft"), toy_splits())
    assert [stage.name for stage in no_ft.stages] == ["stage1", "stage2_gamma0.5",
                                                      "stage2_gamma2"]
    only = run_method(context(tmp_path / "only", "inaccurate_only"), toy_splits())
    assert [stage.name for stage in only.stages] == ["stage2"]
    assert recorder.weights["stage2"] is None and only.bias_table is None


def test_score_matching_pretrains_on_unlabeled_frames_then_fine_tunes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = StageRecorder(monkeypatch)
    outcome = run_method(context(tmp_path, "score_matching"), toy_splits(False))
    assert [stage.name for stage in outcome.stages] == ["score_matching", "fine_tune",
                                                        "fine_tune_lr_x4"]
    start, end = recorder.start["fine_tune"], recorder.end["score_matching"]
    assert torch.equal(start["atom_energy.2.weight"], end["atom_energy.2.weight"])
    assert outcome.details["temperature_K"] == 300.0
    assert all(np.isfinite(r["train_loss"]) for s in outcome.stages for r in s.history)


def test_every_method_a_config_may_name_has_exactly_one_runner() -> None:
    assert sorted(METHODS) == sorted(get_args(Method))
    assert not set(TRAINING_METHODS) & set(BASELINE_METHODS)


def test_standard_trains_one_stage_and_tests_on_accurate_frames(tmp_path: Path) -> None:
    splits = toy_splits()
    outcome = run_method(context(tmp_path, "standard"), splits)
    assert [stage.name for stage in outcome.stages] == ["standard"]
    assert len(outcome.test_graphs) == len(splits.test)


def test_a_hyperparameter_the_backbone_refuses_is_a_config_error(tmp_path: Path) -> None:
    refused = context(tmp_path, "standard",
                      model={"name": "egnn", "hyperparameters": {"n_hidden": 64}})
    with pytest.raises(ConfigError, match="model.n_hidden"):
        methods.fresh_model(refused, "standard", toy_frames(4))


def test_fresh_models_with_fit_scaling_get_training_batches(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    from train_toy import QuadraticModel

    seen: list[int] = []

    class ScaledModel(QuadraticModel):
        def fit_scaling(self, batches: list) -> None:
            seen.append(sum(batch.num_graphs for batch in batches))

    monkeypatch.setattr(methods, "build_model", lambda name, hyperparameters: ScaledModel())
    model = methods.fresh_model(context(tmp_path, "standard"), "standard",
                                toy_frames(20))
    assert seen == [20]
    assert float(model.energy_scale) > 1.0  # fit_scale_shift ran too


@pytest.mark.parametrize("method", ["no_ft", "inaccurate_only"])
def test_a_model_not_fine_tuned_gives_energies_on_the_accurate_levels_zero(
        tmp_path: Path, method: str) -> None:
    splits = toy_splits()
    shifted = dataclasses.replace(splits.inaccurate_train,
                                  energies=splits.inaccurate_train.energies + 5000.0)
    splits = dataclasses.replace(splits, inaccurate_train=shifted, inaccurate_level=shifted)
    method_context = context(tmp_path, method)
    outcome = run_method(method_context, splits)
    predicted, _ = predict(outcome.model, methods.graphs(method_context, splits.accurate_train),
                           100, method_context.device)
    assert abs(float(np.mean(splits.accurate_train.energies - predicted))) < 1e-6
    assert outcome.details["energy_zero_aligned"]


def test_a_bias_aware_run_diagnoses_its_bias_against_the_true_one(tmp_path: Path) -> None:
    splits = toy_splits()
    truth = np.abs(0.1 * splits.inaccurate_train.forces).reshape(len(splits.inaccurate_train),
                                                                   -1).mean(axis=1)
    splits = dataclasses.replace(splits, true_bias=truth)
    outcome = run_method(context(tmp_path, "asteroid"), splits)
    found = outcome.details["bias_diagnostics"]
    assert set(found) >= {"ess_fraction_gamma0.5", "ess_fraction_gamma2",
                          "spearman_vs_true_bias", "worst_decile_found"}
    assert found["n_frames_with_true_bias"] == len(splits.inaccurate_train)
    assert 0 < found["ess_fraction_gamma0.5"] < found["ess_fraction_gamma2"] <= 1


def test_delta_ml_without_paired_geometries_is_a_config_error(tmp_path: Path) -> None:
    """Delta-ML learns and is tested on label differences: cheap labels of other geometries
    (rMD17 beside MD17@CCSD(T) malonaldehyde) give none, which must say so, not crash."""
    with pytest.raises(ConfigError, match="delta_ml needs accurate training frames") as error:
        run_method(context(tmp_path, "delta_ml"), toy_splits())
    assert error.value.key_path == "data.inaccurate"
