"""The methods as compositions of stages, each one configuration key away.

- standard: Eq. 1 on the accurate training frames.
- asteroid: stage 1 (theta_0 on accurate frames; with ``asteroid.bias_estimator:
  correction_model`` a model of accurate - inaccurate labels on the accurate frames' pairs;
  with ``ensemble`` several theta_0 from different seeds, ``stage1_m0``, ``stage1_m1``, ...),
  bias of every inaccurate training frame, then per gamma stage 2 (fresh model, Eq. 2 with
  weights exp(-B/gamma), per atom with ``asteroid.weight_resolution: atom``, gamma as
  ``asteroid.gamma_scale`` says) and stage 3 (fine-tune stage 2's model on the accurate
  frames); gamma chosen by validation loss (``gamma_selection``).
- asteroid_multi: as asteroid, with stage 1 and stage 2 trained on the frames of several
  molecules (``data.pretraining_molecules``, the paper's Table 5); fine-tuning and testing on
  the configured one.
- no_bat: as asteroid with uniform weights; no_ft: as asteroid, stopping after stage 2.
- inaccurate_only: stage 2 with uniform weights and no fine-tuning, the model a user gets from
  cheap labels alone (the MD stability comparison's third arm).
- score_matching: sliced score matching on unlabeled frames, then fine-tuning.
- delta_ml: learn accurate - inaccurate labels on paired frames; prediction = inaccurate
  label + model, so it needs the inaccurate label at inference.
- sgdml, ani1ccx, ani1ccx_finetuned: the baselines, in ``harness.baselines`` (a layer above
  this one: they run on this engine, which knows nothing of them).

Nothing here touches MLflow or writes results: side effects stay in ``experiment``.
"""

from __future__ import annotations

import copy
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch_geometric.data import Data

from harness.data.frames import FrameSet
from harness.data.pairing import DEFAULT_TOLERANCE, matches_any, pair_frames
from harness.errors import UNKNOWN_CONFIG, ConfigError
from harness.mlflow_record import number_tag, stage_name, weight_column
from harness.train.batching import frames_to_graphs, make_loader
from harness.train.bias import (
    absolute_reduction,
    atom_bias,
    bias_weights,
    ensemble_gap,
    member_spread,
)
from harness.train.bias_diagnostics import bias_diagnostics
from harness.train.checkpoint import seed_everything, stage_checkpoint
from harness.train.config import AsteroidSettings, Schedule, TrainConfig
from harness.train.gamma_scale import applied_gamma, bias_for_weights
from harness.train.gamma_selection import GammaCandidate, choose_gamma
from harness.train.losses import SlicedScoreMatchingLoss, SupervisedLoss
from harness.train.prediction import predict
from harness.train.trainer import StageResult, Trainer, ValidationCallback, best_on_validation
from models import ForceField, HyperparameterError, build_model

STAGE_ONE = "stage1"  # the stage name (and checkpoint) of the bias estimator's model, shared
# across gammas: theta_0, or the correction model; an ensemble's members add ``_m<k>``
# Frames shown to a backbone's ``fit_scaling`` (GemNet-style activation scales) before training.
SCALING_BATCH_SIZE, SCALING_BATCHES = 16, 16
# The details key of the cheap labels a correction model paid for beyond the inaccurate
# training frames: those of accurate training geometries that the cheap pool did not draw.
CHEAP_LABELS_BEYOND_POOL = "n_cheap_labels_beyond_inaccurate_train"


# Frames of one or several molecules, trained on together (one FrameSet per molecule).
Frames = FrameSet | tuple[FrameSet, ...]


def as_pool(frames: Frames) -> tuple[FrameSet, ...]:
    return frames if isinstance(frames, tuple) else (frames,)


@dataclass(frozen=True)
class MoleculeFrames:
    """Another molecule's share of a multi-molecule pre-training (``asteroid_multi``): its
    accurate training and validation frames join stage 1, its cheap frames stage 2."""

    accurate_train: FrameSet
    validation: FrameSet
    inaccurate_train: FrameSet
    true_bias: np.ndarray | None = None


@dataclass(frozen=True)
class Splits:
    """Accurate training, validation and test frames; inaccurate (or unlabeled) training frames.

    ``inaccurate_level`` is the whole inaccurate level, used by Delta-ML to pair any accurate
    frame (test frames included) with its inaccurate label. ``other_molecules``: the molecules
    pre-trained on beside this one (``asteroid_multi``); tests and fine-tuning stay on this one.
    """

    accurate_train: FrameSet
    validation: FrameSet
    test: FrameSet
    inaccurate_train: FrameSet | None = None
    # Diagnosis only, never trained on: per inaccurate training frame, mean |f_accurate -
    # f_cheap| where the dataset has both labels for its geometry (NaN elsewhere).
    true_bias: np.ndarray | None = None
    inaccurate_level: FrameSet | None = None
    other_molecules: tuple[MoleculeFrames, ...] = ()

    def by_molecule(self) -> list[MoleculeFrames]:
        """This molecule's and the other molecules' frames, ordered by molecule name, so that
        a multi-molecule pre-training is the same whichever of its molecules is tested."""
        own = MoleculeFrames(self.accurate_train, self.validation, self.inaccurate_train,
                             self.true_bias)
        if not self.other_molecules:
            return [own]
        return sorted([own, *self.other_molecules],
                      key=lambda molecule: molecule.accurate_train.molecule)

    @property
    def accurate_pool(self) -> tuple[FrameSet, ...]:
        return tuple(molecule.accurate_train for molecule in self.by_molecule())

    @property
    def validation_pool(self) -> tuple[FrameSet, ...]:
        return tuple(molecule.validation for molecule in self.by_molecule())

    @property
    def inaccurate_pool(self) -> tuple[FrameSet, ...]:
        return tuple(molecule.inaccurate_train for molecule in self.by_molecule())

    @property
    def pooled_true_bias(self) -> np.ndarray | None:
        """The true bias over ``inaccurate_pool``'s frames (NaN where unknown), or None."""
        molecules = self.by_molecule()
        if all(molecule.true_bias is None for molecule in molecules):
            return None
        return np.concatenate([np.full(len(molecule.inaccurate_train), np.nan)
                               if molecule.true_bias is None else molecule.true_bias
                               for molecule in molecules])


@dataclass
class MethodContext:
    config: TrainConfig
    device: torch.device
    dtype: torch.dtype
    checkpoint_dir: Path
    on_validation: ValidationCallback | None = None
    after_stage: Callable[[], None] | None = None  # e.g. flush buffered metrics


@dataclass
class MethodOutcome:
    """The final model, the frames to test it on, every stage's result and method details.

    A model outside torch (sGDML) has ``model`` None and brings ``test_predictions``: energies
    (n_frames,) in kcal/mol and forces (n_frames, n_atoms, 3) in kcal/mol/A on the frames of
    ``test_graphs``, in their order; ``model_files`` are its saved model, to log as artifacts.
    ``model_name``: what was trained when it is not the configured backbone. ``kept_stage``:
    the stage whose weights ``model`` holds (of several gammas or fine-tuning rates, the one
    chosen on validation); None: the last. ASTEROID may then keep stage 1's model instead
    (``details["fine_tuning"]["kept_stage1"]``); ``kept_stage`` still names the chosen
    fine-tuning, whose loss gamma selection compares: a sweep's trials, one per gamma, then
    choose the gamma a grid in one run does, and the chosen trial keeps stage 1 exactly when
    the grid's run does.
    """

    model: ForceField | None
    test_graphs: list[Data]
    stages: list[StageResult]
    details: dict[str, Any] = field(default_factory=dict)
    bias_table: dict[str, np.ndarray] | None = None
    test_predictions: tuple[np.ndarray, np.ndarray] | None = None
    model_files: list[Path] = field(default_factory=list)
    model_name: str | None = None
    kept_stage: str | None = None

    @property
    def validation_loss(self) -> float:
        """The kept stage's best validation loss: what gamma selection across trials compares."""
        kept = next((stage for stage in self.stages if stage.name == self.kept_stage),
                    self.stages[-1])
        return kept.best_validation_loss


MethodRunner = Callable[[MethodContext, Splits], MethodOutcome]


def stage_seed(seed: int, name: str) -> int:
    """A seed per stage name, so that stages do not share shuffling order by accident."""
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % 2**31


def supervised_loss(config: TrainConfig) -> SupervisedLoss:
    loss = config.loss
    return SupervisedLoss(rho=loss.rho, force_loss=loss.force_loss,
                          energy_loss=loss.energy_loss,
                          weight_normalisation=loss.weight_normalisation)


def validation_loss(config: TrainConfig, forces_only: bool = False) -> SupervisedLoss:
    """Eq. 1 without weights on the accurate validation frames: what stages and gamma
    selection measure. ``forces_only`` (rho = 0) for models trained on another level (stage 2,
    score matching): their energy zero is that level's, thousands of kcal/mol away, and would
    swamp the force term until fine-tuning realigns it."""
    loss = replace(supervised_loss(config), weight_normalisation="mean")
    return replace(loss, rho=0.0) if forces_only else loss


def fresh_model(context: MethodContext, name: str, scale_frames: Frames) -> ForceField:
    """A new model seeded by stage name, with scale and shift fitted on ``scale_frames``
    (per-element energy shifts, so that several molecules share one fit).

    A backbone with ``fit_scaling(batches)`` also gets up to 16 batches of those frames.
    """
    config = context.config
    seed_everything(stage_seed(config.seed, name))
    try:
        model = build_model(config.model.name, config.model.hyperparameters)
    except HyperparameterError as error:
        raise ConfigError(UNKNOWN_CONFIG, error.key_path, error.problem) from None
    pool = as_pool(scale_frames)
    model.fit_scale_shift([frames.atomic_numbers for frames in pool for _ in range(len(frames))],
                          np.concatenate([frames.energies for frames in pool]),
                          [force for frames in pool for force in frames.forces])
    model = model.to(device=context.device, dtype=context.dtype)
    fit_scaling = getattr(model, "fit_scaling", None)  # backbones with activation scaling
    if callable(fit_scaling):
        loader = make_loader(graphs(context, scale_frames), SCALING_BATCH_SIZE, shuffle=False)
        fit_scaling([batch.to(context.device) for batch, _ in zip(loader, range(SCALING_BATCHES),
                                                                  strict=False)])
    return model


@torch.no_grad()
def align_energy_zero(model: ForceField, frames: FrameSet, context: MethodContext) -> None:
    """Shift the per-element energy offsets by the least-squares mean residual on ``frames``.

    Leaves forces and learned parameters unchanged; only the energy zero moves.
    """
    with torch.enable_grad():
        predicted, _ = predict(model, graphs(context, frames), 100, context.device)
    residual = frames.energies - predicted
    counts = np.tile(np.bincount(frames.atomic_numbers,
                                 minlength=model.max_atomic_number + 1), (len(frames), 1))
    shift, *_ = np.linalg.lstsq(counts.astype(np.float64), residual, rcond=None)
    model.atomic_energy_shift.add_(torch.as_tensor(shift, dtype=model.atomic_energy_shift.dtype,
                                                   device=model.atomic_energy_shift.device))


def graphs(context: MethodContext, frames: Frames,
           weights: np.ndarray | None = None) -> list[Data]:
    """One graph per frame, molecule after molecule; ``weights`` run over all of them."""
    pool = as_pool(frames)
    if weights is None:
        return [graph for part in pool for graph in frames_to_graphs(part, dtype=context.dtype)]
    sizes = [len(part) for part in pool]
    if len(weights) != sum(sizes):
        raise ValueError(f"{len(weights)} weights for {sum(sizes)} frames")
    shares = np.split(np.asarray(weights), np.cumsum(sizes)[:-1])
    return [graph for part, share in zip(pool, shares, strict=True)
            for graph in frames_to_graphs(part, share, dtype=context.dtype)]


def run_stage(context: MethodContext, name: str, model: ForceField, schedule: Schedule,
              objective: Any, train_frames: Frames, validation_frames: Frames,
              weights: np.ndarray | None = None, validate_forces_only: bool = False
              ) -> StageResult:
    config = context.config
    trainer = Trainer(schedule, context.device, stage_seed(config.seed, name),
                      progress=config.progress, on_validation=context.on_validation,
                      checkpoint_interval_s=config.checkpoint_interval_s)
    result = trainer.fit(name, model, objective, graphs(context, train_frames, weights),
                         graphs(context, validation_frames),
                         validation_loss(config, validate_forces_only),
                         stage_checkpoint(context.checkpoint_dir, name))
    if context.after_stage is not None:
        context.after_stage()
    return result


@dataclass(frozen=True)
class FineTuning:
    """Stage 3's runs, one per learning-rate factor, and the one kept (lowest validation loss;
    ``model`` then holds its weights)."""

    runs: list[StageResult]
    chosen: StageResult


def fine_tuning_name(name: str, factor: float) -> str:
    """The stage (and checkpoint) name of one learning-rate factor; factor 1 keeps ``name``."""
    return name if factor == 1 else f"{name}_lr_x{factor:g}"


def fine_tune(context: MethodContext, name: str, model: ForceField, splits: Splits
              ) -> FineTuning:
    """Stage 3: Eq. 1 on the accurate frames, starting from ``model``'s parameters, once per
    learning-rate factor (``fine_tune.learning_rate_factors``)."""
    settings, schedule = context.config.fine_tune, context.config.schedules.fine_tune
    if settings.align_energy_zero:
        align_energy_zero(model, splits.accurate_train, context)
    pretrained = copy.deepcopy(model.state_dict())
    runs, weights = [], {}
    for factor in settings.learning_rate_factors:
        model.load_state_dict(pretrained)
        scaled = schedule.model_copy(update={
            "learning_rate": schedule.learning_rate * factor,
            "min_learning_rate": schedule.learning_rate_floor * factor})
        result = run_stage(context, fine_tuning_name(name, factor), model, scaled,
                           supervised_loss(context.config), splits.accurate_train,
                           splits.validation)
        runs.append(result)
        weights[result.name] = copy.deepcopy(model.state_dict())
    chosen = best_on_validation(runs)
    model.load_state_dict(weights[chosen.name])
    return FineTuning(runs, chosen)


def supervised_stage(context: MethodContext, name: str, train_frames: Frames,
                     validation_frames: Frames) -> tuple[ForceField, StageResult]:
    """A fresh model trained with Eq. 1 on ``train_frames`` on the accurate schedule."""
    model = fresh_model(context, name, train_frames)
    result = run_stage(context, name, model, context.config.schedules.accurate,
                       supervised_loss(context.config), train_frames, validation_frames)
    return model, result


def standard(context: MethodContext, splits: Splits) -> MethodOutcome:
    model, result = supervised_stage(context, "standard", splits.accurate_train,
                                     splits.validation)
    return MethodOutcome(model, graphs(context, splits.test), [result])


@dataclass(frozen=True)
class BiasEstimate:
    """Stage 1's results, the estimator's gap per force component of each inaccurate training
    frame, (n_frames, n_atoms, 3) in kcal/mol/A, >= 0 (B reduces it per frame, b_i per atom),
    one array per molecule of the pool (``Splits.inaccurate_pool``), and what the estimator
    records about itself. ``accurate_model``: the stage-1 model of the accurate level that
    fine-tuning must beat (None for a correction model, whose validation loss is on label
    differences, and a multi-molecule theta_0, validated on every molecule's frames);
    ``accurate_network``: that model itself, which ASTEROID keeps when fine-tuning ends worse
    (``asteroid.keep_stage_one_when_better``)."""

    stages: list[StageResult]
    gaps: list[np.ndarray]
    details: dict[str, Any] = field(default_factory=dict)
    accurate_model: StageResult | None = None
    accurate_network: ForceField | None = None


def stage_one_names(settings: AsteroidSettings) -> list[str]:
    """The stage names (and checkpoints) stage 1 trains: one model, or one per member."""
    if settings.bias_estimator == "ensemble":
        return [f"{STAGE_ONE}_m{member}" for member in range(settings.ensemble_size)]
    return [STAGE_ONE]


def stage_one_bias(context: MethodContext, splits: Splits) -> BiasEstimate:
    """Stage 1 with ``asteroid.bias_estimator``: theta_0 on the accurate frames and
    B = |F(x; theta_0) - f|, a correction model and B = |predicted f_accurate - f_cheap|, or
    an ensemble of theta_0 (``ensemble_bias``)."""
    estimator = context.config.asteroid.bias_estimator
    if estimator == "correction_model":
        return correction_model_bias(context, splits)
    if estimator == "ensemble":
        return ensemble_bias(context, splits)
    model, result = supervised_stage(context, STAGE_ONE, splits.accurate_pool,
                                     splits.validation_pool)
    gaps = [np.abs(predicted_forces(context, model, frames) - frames.forces)
            for frames in splits.inaccurate_pool]
    if splits.other_molecules:
        return BiasEstimate([result], gaps)
    return BiasEstimate([result], gaps, accurate_model=result, accurate_network=model)


def correction_model_bias(context: MethodContext, splits: Splits) -> BiasEstimate:
    """A model of f_accurate - f_cheap on the accurate frames' pairs; B = |its prediction|."""
    inaccurate = splits.inaccurate_train
    train, validation = (paired_differences(frames, splits.inaccurate_level, role)
                         for frames, role in ((splits.accurate_train, "accurate training"),
                                              (splits.validation, "validation")))
    model, result = supervised_stage(context, STAGE_ONE, train, validation)
    beyond = int((~matches_any(train, inaccurate)).sum())
    gap = np.abs(predicted_forces(context, model, inaccurate))
    return BiasEstimate([result], [gap], {"n_correction_pairs_train": len(train),
                                        "n_correction_pairs_validation": len(validation),
                                        CHEAP_LABELS_BEYOND_POOL: beyond})


def ensemble_bias(context: MethodContext, splits: Splits) -> BiasEstimate:
    """``ensemble_size`` models of the accurate frames, each its own stage (seed, checkpoint),
    and the ``ensemble_gap`` of their forces against the cheap labels. Fine-tuning
    is compared with the best member: worse than some model of the accurate frames alone
    means the pre-training hurt."""
    settings = context.config.asteroid
    inaccurate = splits.inaccurate_train
    stages: list[StageResult] = []
    members: dict[str, ForceField] = {}
    member_forces: list[np.ndarray] = []
    for name in stage_one_names(settings):
        model, result = supervised_stage(context, name, splits.accurate_train, splits.validation)
        stages.append(result)
        members[name] = model
        member_forces.append(predicted_forces(context, model, inaccurate))
    forces = np.stack(member_forces)
    gap = ensemble_gap(forces, inaccurate.forces, settings.spread_discount)
    spread = absolute_reduction(member_spread(forces), settings.bias_reduction)
    details = {"ensemble_member_validation_losses": {stage.name: stage.best_validation_loss
                                                     for stage in stages},
               "ensemble_spread_mean": float(spread.mean())}
    best = best_on_validation(stages)
    return BiasEstimate(stages, [gap], details, accurate_model=best,
                        accurate_network=members[best.name])


def predicted_forces(context: MethodContext, model: ForceField, frames: FrameSet
                     ) -> np.ndarray:
    _, forces = predict(model, graphs(context, frames),
                        context.config.schedules.accurate.evaluation_batch_size, context.device)
    return forces


def paired_differences(frames: FrameSet, inaccurate: FrameSet, role: str,
                       needed_by: str = "the correction_model bias estimator",
                       key: str = "asteroid.bias_estimator", instead: str = "use stage_one"
                       ) -> FrameSet:
    """``label_differences`` for a model of them, which cannot learn from (or be tested on)
    no pair: a config error naming what needs them."""
    differences = label_differences(frames, inaccurate)
    if not len(differences):
        raise ConfigError(UNKNOWN_CONFIG, key,
                          f"{needed_by} needs {role} frames that also carry "
                          f"'{inaccurate.level}' labels (same geometries, matched within "
                          f"{DEFAULT_TOLERANCE} A); none of the {len(frames)} of "
                          f"{frames.source} has one in {inaccurate.source}: {instead}")
    return differences


def applied_gammas(bias_used: np.ndarray, settings: AsteroidSettings) -> dict[float, float]:
    """The gamma of exp(-B_used / gamma) that each value of the grid stands for."""
    try:
        return {gamma: applied_gamma(bias_used, gamma, settings.gamma_scale)
                for gamma in settings.gammas}
    except ValueError as error:  # a share of the effective sample that no gamma reaches
        raise ConfigError(UNKNOWN_CONFIG, "asteroid.gammas", str(error)) from None


def asteroid(context: MethodContext, splits: Splits, bias_aware: bool = True,
             with_fine_tuning: bool = True) -> MethodOutcome:
    """Stages 1-3 per gamma (stage 1 only when bias-aware); the gamma chosen on validation
    (``harness.train.gamma_selection``)."""
    config = context.config
    stages: list[StageResult] = []
    bias_table: dict[str, np.ndarray] | None = None
    true_bias = splits.pooled_true_bias
    gamma_of: dict[float, float] = {}  # grid value -> the gamma its weights use
    if bias_aware:
        estimate = stage_one_bias(context, splits)
        stages.extend(estimate.stages)
        raw_bias = np.concatenate([absolute_reduction(gap, config.asteroid.bias_reduction)
                                   for gap in estimate.gaps])
        # per-atom weights are of one molecule (the config refuses them with several)
        weighed = (atom_bias(estimate.gaps[0]) if config.asteroid.weight_resolution == "atom"
                   else raw_bias)
        used_bias = bias_for_weights(weighed, config.asteroid.gamma_scale)
        gamma_of = applied_gammas(used_bias, config.asteroid)
        bias_table = {"frame_id": np.concatenate([frames.frame_ids
                                                  for frames in splits.inaccurate_pool]),
                      "bias": raw_bias, "bias_used": per_frame(used_bias)}
        if splits.other_molecules:  # into details["pretraining_molecules"]
            bias_table["molecule_index"] = np.repeat(
                np.arange(len(splits.inaccurate_pool)),
                [len(frames) for frames in splits.inaccurate_pool])
        if true_bias is not None:
            bias_table["true_bias"] = true_bias  # NaN where no accurate label
        gammas: list[float | None] = list(config.asteroid.gammas)
    else:
        gammas = [None]

    candidates: list[GammaCandidate] = []
    trained: dict[str, dict[str, torch.Tensor]] = {}
    weights_by_gamma: dict[float, np.ndarray] = {}
    for gamma in gammas:
        weights = None if gamma is None else bias_weights(used_bias, gamma_of[gamma])
        if bias_table is not None and weights is not None:
            bias_table[weight_column(gamma)] = per_frame(weights)
            weights_by_gamma[gamma] = weights
        model = fresh_model(context, "stage2", splits.inaccurate_pool)
        result = run_stage(context, stage_name("stage2", gamma), model,
                           config.schedules.inaccurate, supervised_loss(config),
                           splits.inaccurate_pool, splits.validation_pool, weights,
                           validate_forces_only=True)
        stages.append(result)
        if with_fine_tuning:
            tuning = fine_tune(context, stage_name("stage3", gamma), model, splits)
            stages.extend(tuning.runs)
            result = tuning.chosen
        candidates.append(GammaCandidate(result.name, gamma, result.best_validation_loss))
        trained[result.name] = {key: value.detach().clone()
                                for key, value in model.state_dict().items()}
    choice = choose_gamma(candidates)
    # when every gamma diverged nothing is chosen and the last model stays; its non-finite
    # losses are what a sweep marks a trial failed for
    chosen = next((candidate for candidate in candidates
                   if candidate.key == choice.chosen_key), candidates[-1])
    model.load_state_dict(trained[chosen.key])
    details: dict[str, Any] = {"bias_aware": bias_aware, "fine_tuned": with_fine_tuning}
    if not with_fine_tuning and len(splits.accurate_train):
        # its energies are on the cheap level's zero: compare them on the accurate level's
        align_energy_zero(model, splits.accurate_train, context)
        details["energy_zero_aligned"] = True
    if bias_aware:
        details.update(chosen_gamma=choice.chosen_gamma,
                       validation_loss_by_gamma={number_tag(candidate.gamma):
                                                 candidate.validation_loss
                                                 for candidate in candidates},
                       # None: uniform weights (an infinite gamma, which JSON cannot hold)
                       applied_gamma=finite_or_none(gamma_of.get(choice.chosen_gamma)),
                       applied_gamma_by_gamma={number_tag(gamma): finite_or_none(applied)
                                               for gamma, applied in gamma_of.items()},
                       bias_median=float(np.median(raw_bias)), bias_mean=float(raw_bias.mean()),
                       bias_diagnostics=bias_diagnostics(raw_bias, weights_by_gamma,
                                                         true_bias, choice.chosen_gamma),
                       **estimate.details)
        if with_fine_tuning and estimate.accurate_model is not None:
            guard = fine_tuning_guard(estimate.accurate_model, chosen.validation_loss,
                                      config.asteroid.keep_stage_one_when_better)
            details["fine_tuning"] = guard
            if guard["kept_stage1"]:
                model = estimate.accurate_network
    if splits.other_molecules:
        details["pretraining_molecules"] = [frames.molecule for frames in splits.inaccurate_pool]
        details["n_inaccurate_train_pretraining"] = sum(map(len, splits.inaccurate_pool))
    return MethodOutcome(model, graphs(context, splits.test), stages, details, bias_table,
                         kept_stage=chosen.key)


def per_frame(values: np.ndarray) -> np.ndarray:
    """A frame's value for the bias table: itself, or the mean over its atoms (per-atom
    weights: the weight of the frame's energy term)."""
    return values if values.ndim == 1 else values.mean(axis=1)


def finite_or_none(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def fine_tuning_guard(stage_one: StageResult, fine_tuned_loss: float,
                      keep_stage_one_when_better: bool = False) -> dict[str, Any]:
    """Stage 1 and the chosen stage 3 side by side on the same validation loss: a fine-tuned
    model worse than the model of the accurate frames alone means the pre-training hurt, and
    then, when asked, stage 1's model is the one kept (``kept_stage1``). A fine-tuning that
    diverged (a loss that is not finite) is left to fail as such, never hidden."""
    worse = fine_tuned_loss > stage_one.best_validation_loss
    return {"stage1_name": stage_one.name,
            "stage1_best_validation_loss": stage_one.best_validation_loss,
            "stage3_best_validation_loss": fine_tuned_loss,
            "worse_than_stage1": worse,
            "kept_stage1": worse and keep_stage_one_when_better}


def score_matching(context: MethodContext, splits: Splits) -> MethodOutcome:
    """Sliced score matching on unlabeled frames (scale fitted on accurate frames), fine-tune."""
    config = context.config
    unlabeled = splits.inaccurate_train
    temperature = config.score_matching.temperature_K or unlabeled.temperature_K
    if temperature is None:
        raise ConfigError(UNKNOWN_CONFIG, "score_matching.temperature_K",
                          f"the frames of {unlabeled.source} carry no temperature: set it")
    objective = SlicedScoreMatchingLoss(temperature_K=temperature,
                                        n_projections=config.score_matching.n_projections,
                                        projection=config.score_matching.projection)
    model = fresh_model(context, "score_matching", splits.accurate_train)
    pretraining = run_stage(context, "score_matching", model, config.schedules.unlabeled,
                            objective, unlabeled, splits.validation,
                            validate_forces_only=True)
    tuning = fine_tune(context, "fine_tune", model, splits)
    return MethodOutcome(model, graphs(context, splits.test), [pretraining, *tuning.runs],
                         {"temperature_K": temperature,
                          "thermal_energy_kcal_per_mol": objective.thermal_energy},
                         kept_stage=tuning.chosen.name)


def label_differences(accurate: FrameSet, inaccurate: FrameSet) -> FrameSet:
    """Accurate frames that have an inaccurate partner, labelled with accurate - inaccurate."""
    accurate_index, inaccurate_index = pair_frames(accurate, inaccurate)
    paired = accurate.subset(accurate_index)
    return replace(paired,
                   energies=paired.energies - inaccurate.energies[inaccurate_index],
                   forces=paired.forces - inaccurate.forces[inaccurate_index],
                   level=f"{accurate.level}-minus-{inaccurate.level}")


def delta_ml(context: MethodContext, splits: Splits) -> MethodOutcome:
    """Eq. 4: errors of (inaccurate + model) against accurate labels equal the errors of the
    model against the label differences, so training and testing use difference labels."""
    inaccurate = splits.inaccurate_level
    train, validation, test = (
        paired_differences(frames, inaccurate, role, "delta_ml", "data.inaccurate",
                           "label those geometries at the inaccurate level (harness data "
                           "label) or choose a level that has them")
        for frames, role in ((splits.accurate_train, "accurate training"),
                             (splits.validation, "validation"), (splits.test, "test")))
    model, result = supervised_stage(context, "delta_ml", train, validation)
    details = {"needs_inaccurate_label_at_inference": True, "n_paired_train": len(train),
               "n_paired_validation": len(validation), "n_paired_test": len(test)}
    return MethodOutcome(model, graphs(context, test), [result], details)


# The methods of the training engine by configured name; the baselines add theirs in
# ``harness.baselines.BASELINE_METHODS`` and the experiment driver joins the two.
TRAINING_METHODS: dict[str, MethodRunner] = {
    "standard": standard,
    "asteroid": asteroid,
    "asteroid_multi": asteroid,  # the same stages; the pools hold every molecule's frames
    "no_bat": partial(asteroid, bias_aware=False),
    "no_ft": partial(asteroid, with_fine_tuning=False),
    "inaccurate_only": partial(asteroid, bias_aware=False, with_fine_tuning=False),
    "score_matching": score_matching,
    "delta_ml": delta_ml,
}
