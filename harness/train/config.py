"""The training configuration: pydantic models mirroring the YAML file, which is the experiment.

Every mistake a user can make in the file (malformed YAML, an unknown key, an unknown method, a
missing dataset, a value out of range) becomes one ``ConfigError`` naming the file and the key
path. Training defaults are CPU-sized schedules that run until they converge (``Schedule``); the
paper's EGNN settings (App. A.2: learning rate 1e-4, 1e-5 for fine-tuning, 2000 epochs) are
in ``sweeps/paper-*.yaml``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from harness.errors import ConfigError
from harness.overrides import apply_overrides
from harness.validation import Strict, validated
from harness.yaml_files import read_yaml_file

Method = Literal["standard", "asteroid", "asteroid_multi", "no_bat", "no_ft", "inaccurate_only",
                 "score_matching", "delta_ml", "sgdml", "ani1ccx", "ani1ccx_finetuned"]
METHODS_WITH_INACCURATE_LABELS = ("asteroid", "asteroid_multi", "no_bat", "no_ft",
                                  "inaccurate_only", "delta_ml")
# Methods trained on the accurate frames alone: standard and the baselines (harness.baselines).
# The methods that read ANI-1ccx's weights (``baselines.ani``).
ANI_METHODS = ("ani1ccx", "ani1ccx_finetuned")
ACCURATE_ONLY_METHODS = ("standard", "sgdml", *ANI_METHODS)
# Methods that weight the inaccurate frames by their bias: they read the asteroid section, and
# a sweep gives them one trial per gamma.
BIAS_AWARE_METHODS = ("asteroid", "asteroid_multi", "no_ft")
# The method that pre-trains on the cheap frames of several molecules (the paper's Table 5):
# the only one that reads ``data.pretraining_molecules``.
MULTI_MOLECULE_METHOD = "asteroid_multi"
# What a value of the gamma grid means (``harness.train.gamma_scale``).
GammaScale = Literal["absolute", "median", "effective_sample_size"]
# Settings that change what is shown, never what is trained: not MLflow params.
DISPLAY_SETTINGS = ("progress",)
# The config sections only some methods read; the others leave them out of their MLflow
# params, so that a run's page lists only what shaped it.
SECTIONS_READ_BY = {
    "asteroid": BIAS_AWARE_METHODS,
    "score_matching": ("score_matching",),
    "fine_tune": ("asteroid", "asteroid_multi", "no_bat", "score_matching"),
    "schedules.inaccurate": ("asteroid", "asteroid_multi", "no_bat", "no_ft", "inaccurate_only"),
    "schedules.unlabeled": ("score_matching",),
    "schedules.fine_tune": ("asteroid", "asteroid_multi", "no_bat", "score_matching"),
    "baselines.sgdml": ("sgdml",),
    "baselines.ani": ANI_METHODS,
}
# File paths a config names, as (parent keys, key): relative to the config file's folder.
CONFIG_FILE_PATHS = ((("data", "accurate"), "path"), (("data", "inaccurate"), "path"),
                     (("baselines", "ani"), "weights_path"))
# ... and those of each entry of ``data.pretraining_molecules``
PRETRAINING_FILE_PATHS = ((("accurate",), "path"), (("inaccurate",), "path"))


class Schedule(Strict):
    """Optimisation settings of one stage; every interval and patience counts optimiser steps.

    The stage validates every ``validation_interval`` steps (with the averaged weights). After
    warm-up, ``plateau_patience`` steps without a better validation loss multiply the learning
    rate by ``plateau_factor``, down to ``min_learning_rate``; a better loss counts only when it
    is ``improvement_threshold`` (relative) below the best so far, so that noise-level gains do
    not hold the decay back. The stage has converged when
    another ``plateau_patience`` steps at that floor bring no better validation loss, or when
    ``early_stopping_patience`` steps bring none at any rate. ``max_steps`` and ``max_epochs``
    are safety nets: a stage stopped by one within ``plateau_patience`` steps of its best
    validation loss is reported as not converged.
    """

    optimizer: Literal["adam", "adamw"] = "adam"
    learning_rate: float = Field(2e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    batch_size: int = Field(10, ge=1)
    evaluation_batch_size: int = Field(100, ge=1)
    max_steps: int = Field(100_000, ge=1, description="safety cap on optimiser steps")
    max_epochs: int | None = Field(None, ge=1, description="safety cap on passes over the "
                                   "training frames; None: none")
    validation_interval: int = Field(100, ge=1, description="steps between validations")
    warmup_steps: int = Field(0, ge=0)
    plateau_factor: float = Field(0.5, gt=0, lt=1)
    plateau_patience: int = Field(500, ge=1, description="steps")
    improvement_threshold: float = Field(
        0.01, ge=0, lt=1, description="relative fall of the best validation loss that counts "
        "as progress for the plateau decay and convergence (any fall keeps the weights)")
    min_learning_rate: float | None = Field(
        None, ge=0, description="the decay's floor; None: learning_rate / 32 (five halvings)")
    early_stopping_patience: int | None = Field(
        None, ge=1, description="steps without a better validation loss before stopping at "
        "any learning rate; None: only the plateau at the floor stops the stage")
    ema_decay: float | None = Field(0.999, ge=0, lt=1,
                                    description="None: no moving average of weights")
    gradient_clip_norm: float | None = Field(10.0, gt=0)

    @property
    def learning_rate_floor(self) -> float:
        if self.min_learning_rate is not None:
            return self.min_learning_rate
        return self.learning_rate / 32


def improves_on(loss: float, reference: float, threshold: float) -> bool:
    """Whether ``loss`` counts as progress over ``reference``, the last loss that did: lower by
    the relative ``threshold``, so that noise-level dips do not reset a patience."""
    return loss < reference * (1 - threshold)


# What each kind of stage starts from; a config's keys for a stage change only what they name.
# Stages on a few hundred accurate frames stop after 1,500 steps without a better validation
# loss at any rate: replayed on 210 finished stages (``harness bench stopping``), 141 of the
# 142 on accurate frames kept their best validation loss (one rose 0.04%) in 4-48% fewer
# steps (``results/README.md``). Stages on many cheap frames
# improve after longer pauses (up to 8% lost at 1,500), so only the floor's plateau stops them.
ACCURATE_FRAMES_PATIENCE = 1500
STAGE_DEFAULTS: dict[str, dict[str, Any]] = {
    "accurate": {"learning_rate": 2e-3, "batch_size": 10,
                 "early_stopping_patience": ACCURATE_FRAMES_PATIENCE},
    "inaccurate": {"learning_rate": 1e-3, "batch_size": 32},
    "unlabeled": {"learning_rate": 1e-3, "batch_size": 32},
    "fine_tune": {"learning_rate": 5e-4, "batch_size": 10,
                  "early_stopping_patience": ACCURATE_FRAMES_PATIENCE},
}


class Schedules(Strict):
    """One schedule per kind of stage (stage 1 and standard training share ``accurate``).

    The defaults are CPU-sized and converge on small molecules (see ``results/README.md``):
    batch 10 at 2e-3 on accurate frames, batch 32 at 1e-3 on many inaccurate or unlabeled
    frames, batch 10 at 5e-4 for fine-tuning a pre-trained model. Keys given for a stage
    override its kind's defaults one by one (``inaccurate: {max_steps: 10}`` keeps batch 32).
    """

    accurate: Schedule = Field(default_factory=lambda: Schedule(**STAGE_DEFAULTS["accurate"]))
    inaccurate: Schedule = Field(
        default_factory=lambda: Schedule(**STAGE_DEFAULTS["inaccurate"]))
    unlabeled: Schedule = Field(default_factory=lambda: Schedule(**STAGE_DEFAULTS["unlabeled"]))
    fine_tune: Schedule = Field(default_factory=lambda: Schedule(**STAGE_DEFAULTS["fine_tune"]))

    @model_validator(mode="before")
    @classmethod
    def _start_from_the_kind_defaults(cls, content: Any) -> Any:
        if not isinstance(content, dict):
            return content
        return {kind: {**STAGE_DEFAULTS[kind], **given}
                if kind in STAGE_DEFAULTS and isinstance(given, dict) else given
                for kind, given in content.items()}


class LevelSource(Strict):
    """One level of theory of a dataset (folder, npz, extxyz or ASE database)."""

    path: str
    level: str | None = Field(None, description="None: the file's only level")


class PretrainingMolecule(Strict):
    """Another molecule whose cheap frames join ``asteroid_multi``'s pre-training."""

    accurate: LevelSource
    inaccurate: LevelSource


class DataSettings(Strict):
    """Which frames train, validate and test; test frames are accurate and never trained on.

    ``pretraining_molecules`` (``asteroid_multi`` only): other molecules, each split as this
    one is (same sizes and seeds, its own validation and test frames held out), whose accurate
    training frames join stage 1 and whose cheap training frames join stage 2. Their labels
    are counted in their own molecule's row of a multi-molecule table: one pre-training serves
    every molecule it saw (the paper's Table 5).
    """

    accurate: LevelSource
    inaccurate: LevelSource | None = None
    pretraining_molecules: list[PretrainingMolecule] = Field(default_factory=list)
    n_accurate_train: int = Field(ge=1)
    n_inaccurate_train: int | None = Field(None, ge=0)
    budget: float | None = Field(
        None, gt=0, description="accurate-label equivalents; sets n_inaccurate_train")
    cost_ratio: float | Literal["measured"] = "measured"
    cap_to_available: bool = Field(
        True, description="a budget that affords more inaccurate frames than the level holds "
        "takes them all and records the budget actually spent (false: an error)")
    n_validation: int = Field(50, ge=1)
    n_test: int = Field(500, ge=1)
    split_seed: int = 0

    @model_validator(mode="after")
    def _one_way_to_size_inaccurate(self) -> DataSettings:
        if self.budget is not None and self.n_inaccurate_train is not None:
            raise ValueError("give n_inaccurate_train or budget, not both")
        return self


class ModelSettings(Strict):
    name: str = "egnn"
    hyperparameters: dict[str, Any] = Field(default_factory=dict)


class LossSettings(Strict):
    """Eq. 1: (1 - rho) * force loss + rho * energy loss; l_f, l_e in {mae, mse}.

    ``weight_normalisation`` for Eq. 2: ``mean`` divides the weighted sum by the number of
    frames in the batch (Eq. 2 up to the constant 1/M); ``weighted_mean`` divides by the sum
    of the batch's weights, so that a small gamma selects frames instead of shrinking the loss.
    """

    rho: float = Field(0.001, ge=0, le=1)
    force_loss: Literal["mae", "mse"] = "mse"
    energy_loss: Literal["mae", "mse"] = "mse"
    weight_normalisation: Literal["mean", "weighted_mean"] = "mean"


PAPER_GAMMAS = (0.1, 0.5, 1.0, 2.0)
SHARE_GAMMAS = (1.0, 0.5, 0.2)  # uniform, then weights keeping half and a fifth of the sample


class AsteroidSettings(Strict):
    """How the bias B of each inaccurate frame is estimated and what the gamma grid means.

    ``bias_estimator``: ``stage_one`` (the paper: B = |F(x; theta_0) - f|, theta_0 trained on
    the accurate frames), ``correction_model`` (a Delta-ML model of f_accurate - f_cheap
    trained on the accurate training frames' cheap labels, which the level must have on the
    same geometries: B = |predicted correction|) or ``ensemble`` (``ensemble_size`` stage-1
    models from different seeds; per force component the gap |mean F_k - f| minus
    ``spread_discount`` times the members' std, floored at 0, so that frames where theta_0
    itself is unsure are not punished for its error: ``harness.train.bias.ensemble_gap``).
    Whichever, B is reduced over atoms and components by ``bias_reduction``: ``mean`` (the
    authors' code; kcal/mol/A scale, where the paper's gamma grid makes sense) or ``sum`` (the
    paper's L1 norm, 3k times larger).
    ``gamma_scale`` (``harness.train.gamma_scale``): ``absolute``, the paper's gamma on B;
    ``median``, gamma in units of B's median over the inaccurate training frames;
    ``effective_sample_size``, each gamma in (0, 1] is the share of the effective sample size
    the weights keep (1: uniform), and the gamma that does so is solved for on B.
    ``keep_stage_one_when_better``: ASTEROID keeps the better of its fine-tuned model and
    stage 1's, on validation frames (see the field).
    ``weight_resolution``: ``frame`` (the paper: w_j = exp(-B_j / gamma) on a frame's whole
    loss) or ``atom``, for biases that are local: each atom's bias b_i (the estimator's gap
    averaged over its components) gives w_i = exp(-b_i / gamma) on its force term and the frame's
    energy term takes the mean of its atoms' weights; ``gamma_scale`` then acts on the b_i.
    """

    gammas: list[float] = Field(min_length=1, description="default: the paper's grid "
                                f"{PAPER_GAMMAS}, or {SHARE_GAMMAS} of the effective sample")
    gamma_scale: GammaScale = "absolute"
    bias_estimator: Literal["stage_one", "correction_model", "ensemble"] = "stage_one"
    ensemble_size: int = Field(4, ge=2, description="members of the ensemble estimator")
    spread_discount: float = Field(
        1.0, ge=0, description="the ensemble estimator's discount of its members' std; 0: none")
    bias_reduction: Literal["mean", "sum"] = "mean"
    weight_resolution: Literal["frame", "atom"] = "frame"
    keep_stage_one_when_better: bool = Field(
        True, description="when fine-tuning ends with a higher validation loss than stage 1's "
        "model of the accurate frames alone, keep that model (the gamma -> 0 limit, where "
        "every weight exp(-B/gamma) vanishes): pre-training that hurts on validation frames "
        "is not used. false: the paper's protocol, always the fine-tuned model")

    @model_validator(mode="before")
    @classmethod
    def _default_grid_of_the_scale(cls, data: Any) -> Any:
        """A grid from near-uniform to selective on the scale's own terms when none is given."""
        if isinstance(data, dict) and "gammas" not in data:
            shares = data.get("gamma_scale") == "effective_sample_size"
            return {**data, "gammas": list(SHARE_GAMMAS if shares else PAPER_GAMMAS)}
        return data

    @model_validator(mode="after")
    def _gammas_on_their_scale(self) -> AsteroidSettings:
        if any(gamma <= 0 for gamma in self.gammas):
            raise ValueError("every gamma must be positive")
        if self.gamma_scale == "effective_sample_size" and any(gamma > 1 for gamma in
                                                              self.gammas):
            raise ValueError(f"with gamma_scale effective_sample_size every gamma is a share of "
                             f"the effective sample size, in (0, 1]; got {self.gammas}")
        return self


class ScoreMatchingSettings(Strict):
    """Sliced score matching; temperature None: the unlabeled frames' ``temperature_K``."""

    n_projections: int = Field(1, ge=1)
    projection: Literal["rademacher", "gaussian"] = "rademacher"
    temperature_K: float | None = Field(None, gt=0)


class FineTuneSettings(Strict):
    """``align_energy_zero``: before fine-tuning, shift the per-element energy offsets so the
    model's mean energy matches the accurate training frames. Forces and learned parameters
    are untouched; without it, the energy zero of the inaccurate level (thousands of kcal/mol
    away) would dominate the first fine-tuning steps.

    ``learning_rate_factors``: fine-tuning runs once per factor from the same pre-trained
    model, at the ``fine_tune`` schedule's learning rate (and floor) times the factor, and the
    run with the lowest validation loss is kept. No one rate suits every data size: measured
    (results/README.md), 24 ethanol frames keep their pre-training best at 5e-4 and lose it at
    2e-3, while 200 malonaldehyde frames stall at 5e-4 far above a model of those frames alone
    and beat it at 2e-3. ``[1]``: one run at the schedule's rate."""

    align_energy_zero: bool = True
    learning_rate_factors: list[Annotated[float, Field(gt=0)]] = Field(
        default_factory=lambda: [1.0, 4.0], min_length=1)

    @field_validator("learning_rate_factors")
    @classmethod
    def _distinct(cls, factors: list[float]) -> list[float]:
        if len(set(factors)) != len(factors):
            raise ValueError("each factor once")
        return factors


class SgdmlSettings(Strict):
    """sGDML (``sgdml`` package) trained on the accurate frames in kcal/mol and Angstrom.

    One model per kernel length scale in ``sigmas`` (sGDML's default grid 10..90, in the units
    of its inverse-distance descriptor); the one with the lowest validation force RMSE is kept,
    as ``sgdml select`` does. ``regularisation`` is sGDML's lambda.
    """

    sigmas: list[int] = Field(default_factory=lambda: list(range(10, 100, 10)), min_length=1)
    regularisation: float = Field(1e-10, gt=0)
    use_symmetries: bool = Field(True, description="false: GDML without permutations")
    energy_constraints: bool = Field(False, description="sGDML's use_E_cstr")
    max_processes: int = Field(1, ge=1, description="processes sGDML may fork")

    @field_validator("sigmas")
    @classmethod
    def _positive_sigmas(cls, sigmas: list[int]) -> list[int]:
        if any(sigma <= 0 for sigma in sigmas):
            raise ValueError("every sigma must be positive")
        return sigmas


class AniSettings(Strict):
    """ANI-1ccx from local weights (torchani downloads them at first use; here, name them).

    ``weights_path``: a torchani state dict (``ani1ccx_state_dict.pt``) or the NeuroChem
    release (``ani-1ccx_8x.info`` or the folder holding it). ``model_index`` None: the published
    8-network ensemble; k: its k-th network alone. ``fine_tune``: the per-molecule fine-tuning
    schedule of ``ani1ccx_finetuned`` on the accurate training frames.
    """

    weights_path: str | None = None
    model_index: int | None = Field(None, ge=0)
    fine_tune: Schedule = Field(default_factory=lambda: Schedule(
        learning_rate=1e-4, batch_size=10, early_stopping_patience=ACCURATE_FRAMES_PATIENCE))


class BaselineSettings(Strict):
    sgdml: SgdmlSettings = Field(default_factory=SgdmlSettings)
    ani: AniSettings = Field(default_factory=AniSettings)


class TrackingSettings(Strict):
    enabled: bool = True
    uri: str | None = Field(None, description="None: $MLFLOW_TRACKING_URI, else ./mlflow.db")
    experiment: str = "asteroid-harness"


class TrainConfig(Strict):
    """One experiment: data, model, method and its stages, tracking."""

    name: str
    method: Method
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["float32", "float64"] = "float32"
    deterministic: bool = False
    cpu_threads: int | None = Field(
        None, ge=1, description="torch intra-op threads on CPU; None: torch's default. Use 1 "
        "when other jobs share the cores: spinning OpenMP threads then slow training 100-fold")
    output_dir: str | None = Field(None, description="None: runs/<name>")
    checkpoint_interval_s: float = Field(
        60.0, ge=0, description="seconds of training between checkpoints (also written at the "
        "end of each stage and on SIGTERM/SIGINT); 0: after every step")
    progress: bool = Field(
        True, description="show each stage's progress (a bar on a terminal, else a line every "
        "30 s); display only, never a parameter of the run")
    data: DataSettings
    model: ModelSettings = Field(default_factory=ModelSettings)
    loss: LossSettings = Field(default_factory=LossSettings)
    schedules: Schedules = Field(default_factory=Schedules)
    asteroid: AsteroidSettings = Field(default_factory=AsteroidSettings)
    score_matching: ScoreMatchingSettings = Field(default_factory=ScoreMatchingSettings)
    fine_tune: FineTuneSettings = Field(default_factory=FineTuneSettings)
    baselines: BaselineSettings = Field(default_factory=BaselineSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)

    @model_validator(mode="after")
    def _inaccurate_level_when_needed(self) -> TrainConfig:
        if self.method not in ACCURATE_ONLY_METHODS and self.data.inaccurate is None:
            raise ValueError(f"method '{self.method}' needs data.inaccurate "
                             "(the unlabeled level for score_matching)")
        return self

    @model_validator(mode="after")
    def _other_molecules_only_where_read(self) -> TrainConfig:
        multi = self.method == MULTI_MOLECULE_METHOD
        if multi and not self.data.pretraining_molecules:
            raise ValueError(f"method '{MULTI_MOLECULE_METHOD}' needs "
                             "data.pretraining_molecules (at least one other molecule)")
        if not multi and self.data.pretraining_molecules:
            raise ValueError(f"data.pretraining_molecules is read only by method "
                             f"'{MULTI_MOLECULE_METHOD}', not '{self.method}'")
        settings = self.asteroid
        if multi and (settings.bias_estimator, settings.weight_resolution) != ("stage_one",
                                                                             "frame"):
            raise ValueError(f"method '{MULTI_MOLECULE_METHOD}' estimates the bias with "
                             "asteroid.bias_estimator stage_one and weights frames "
                             "(asteroid.weight_resolution frame): the others are of one "
                             "molecule")
        return self


def parse_config(content: dict[str, Any], source: str) -> TrainConfig:
    """Validate a mapping; the first problem becomes a ConfigError naming ``source`` and key."""
    if not isinstance(content, dict):
        raise ConfigError(source, "<top>", "expected a mapping of keys to values")
    return validated(TrainConfig, content, source)


def load_config(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Read and validate a YAML training config, with ``--set`` overrides applied; relative
    dataset and weight paths are relative to the config file's folder."""
    path = Path(path)
    content = read_yaml_file(path)
    if isinstance(content, dict):
        content = resolve_relative_paths(apply_overrides(content, overrides or []), path.parent)
    config = parse_config(content, str(path))
    _require_data_paths(config, str(path))
    return config


def map_file_paths(content: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    """A copy of the config with ``change`` applied to every file path it names."""
    content = copy.deepcopy(content)
    data = content.get("data")
    others = data.get("pretraining_molecules") if isinstance(data, dict) else None
    nodes = [(content, CONFIG_FILE_PATHS)]
    if isinstance(others, list):
        nodes += [(other, PRETRAINING_FILE_PATHS) for other in others]
    for root, paths in nodes:
        for parent_keys, key in paths:
            node: Any = root
            for parent in parent_keys:
                node = node.get(parent) if isinstance(node, dict) else None
            if isinstance(node, dict) and isinstance(node.get(key), str):
                node[key] = change(node[key])
    return content


def resolve_relative_paths(content: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The config with its relative file paths made absolute against ``folder`` (where the
    config file lies), so that it runs from any working directory."""
    base = folder.resolve()
    return map_file_paths(content, lambda path: os.path.normpath(base / Path(path).expanduser()))


def paths_relative_to(content: dict[str, Any], folder: Path) -> dict[str, Any]:
    """The config, whose relative file paths are relative to the working directory, with
    those paths rewritten relative to ``folder``: written there as a file, it names the same
    files for ``load_config`` (absolute paths stay as they are)."""
    base, here = folder.resolve(), Path.cwd()

    def relative(path: str) -> str:
        expanded = Path(path).expanduser()
        return path if expanded.is_absolute() else os.path.relpath(here / expanded, base)

    return map_file_paths(content, relative)


def _require_data_paths(config: TrainConfig, source: str) -> None:
    named = [(f"data.{role}.path", getattr(config.data, role))
             for role in ("accurate", "inaccurate")]
    named += [(f"data.pretraining_molecules.{index}.{role}.path", getattr(other, role))
              for index, other in enumerate(config.data.pretraining_molecules)
              for role in ("accurate", "inaccurate")]
    for key, level_source in named:
        if level_source is not None and not Path(level_source.path).exists():
            raise ConfigError(source, key, f"no dataset at '{level_source.path}'")


def parameters_of(config: TrainConfig) -> dict[str, Any]:
    """The config as dotted MLflow parameters, without the sections its method never reads
    and without display settings (a sweep worker shows progress that the trial's config,
    shared with resumed attempts, leaves off)."""
    return {key: value for key, value in flatten(config.model_dump(mode="json")).items()
            if key not in DISPLAY_SETTINGS
            and not any(key.startswith(f"{section}.") and config.method not in methods
                        for section, methods in SECTIONS_READ_BY.items())}


def flatten(content: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mapping as dotted keys (for MLflow parameters)."""
    flat: dict[str, Any] = {}
    for key, value in content.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
