"""The MLflow record: what kinds of runs exist, what each carries and how values become tags.

Every writer of the record (``harness train``, the sweeps, MD) and every reader (the report, MD
looking up a sweep's models) names run roles, tags, params, metrics and artifacts through this
module, so that a name cannot drift between the side that writes it and the side that reads
it. ``docs/mlflow-record.md`` says what each run holds, who writes it and who reads it.

Tags are text. Numbers become the short text of ``number_tag`` (25, 0.5, 1e-05; "" where the
field does not apply, e.g. the gamma of a standard run); flags become "true" / "false". The
``*_from_tag`` functions turn them back into numbers and flags.
"""

from __future__ import annotations

import math

ROLE_TAG = "harness.role"
PARENT_TAG = "mlflow.parentRunId"  # MLflow's own: a trial run nests under its cell run
SWEEP_EXPERIMENT_TAG = "harness.sweep"  # on a sweep's experiment, not on its runs


class Role:
    """Values of ``harness.role``: what a run is."""

    CELL = "cell"  # a sweep cell: the parent of its trials, their summary over seeds
    TRIAL = "trial"  # one sweep trial: one training config at one seed and gamma
    TRAINING = "train"  # one `harness train` run (outside a sweep)
    MD = "md"  # one MD trajectory
    REPORT = "report"  # the report's files, one run per reported experiment


class Tags:
    """Run tag names."""

    ROLE = ROLE_TAG
    PARENT = PARENT_TAG
    # what a trained model is: sweep cells and trials, `harness train` runs, MD runs
    MOLECULE = "molecule"
    MODEL = "model"
    METHOD = "method"
    BUDGET = "budget"  # accurate-label equivalents the setting buys (what was spent: metric)
    COST_RATIO = "cost_ratio"  # a number or "measured"
    ACCURATE_LEVEL = "accurate_level"
    INACCURATE_LEVEL = "inaccurate_level"  # or the unlabeled level of score matching
    GAMMA = "gamma"  # the gamma the run's model was trained with
    SEED = "seed"  # of training; of the trajectory on MD runs
    # sweep bookkeeping
    SWEEP = "sweep"
    PROFILE = "profile"
    CELL_KEY = "cell_key"
    TRIAL_KEY = "trial_key"
    GENERATION = "generation"  # rises when the sweep reruns a trial for new code or data
    SELECTED = "selected"  # the trial whose gamma won on validation (every gamma-less trial)
    SUPERSEDED = "superseded"  # "true": rerun since for newer code, data or model
    FAILURE_REASON = "failure_reason"
    CODE_VERSION = "code_version"
    GIT_SHA = "git_sha"
    GIT_DIRTY = "git_dirty"
    DATA_HASH = "data_hash"
    DATA_VERSION = "data_version"
    # the machine that trained: numbers reproduce per kind of machine (results/README.md)
    TORCH_VERSION = "torch_version"
    CPU_CAPABILITY = "cpu_capability"  # the ATen kernels torch chose (AVX512, AVX2, ...)
    ACCELERATOR = "accelerator"  # the CUDA device's name, or "none" on CPU
    # what training found
    CONVERGED = "training.converged"
    NOT_CONVERGED_STAGES = "training.not_converged_stages"
    # MD
    LABEL = "label"  # the MD arm's name
    STEP_SIZE_FS = "step_size_fs"
    ENSEMBLE = "ensemble"
    TRAINING_SEED = "training_seed"
    MODEL_RUN_ID = "model_run_id"


class Metrics:
    """Metric names; ``metric_on_test``, ``stage_metric``, ``md_metric`` and the cell's
    ``per_seed_*`` functions build the families of names."""

    VALIDATION_LOSS = "validation_loss"  # best validation loss of the stage the model keeps
    WALL_SECONDS = "wall_seconds"
    N_ACCURATE_TRAIN = "n_accurate_train"
    N_INACCURATE_TRAIN = "n_inaccurate_train"
    BUDGET_SPENT = "budget_spent"  # accurate-label equivalents the run paid
    CHOSEN_GAMMA = "chosen_gamma"  # bias-aware runs: the gamma validation chose
    # ... and the gamma of exp(-B used / gamma) it stands for (``asteroid.gamma_scale``:
    # itself, or solved for a share of the effective sample size; inf: uniform weights)
    APPLIED_GAMMA = "applied_gamma"
    BIAS_MEDIAN = "bias_median"  # of B over the inaccurate training frames (kcal/mol/A)
    BIAS_MEAN = "bias_mean"
    # the ensemble estimator's members' std, reduced as B, averaged over the frames
    ENSEMBLE_SPREAD_MEAN = "ensemble_spread_mean"
    STAGES_STILL_IMPROVING = "training.stages_still_improving"
    FINE_TUNING_WORSE = "training.fine_tuning_worse_than_stage1"  # 1: it was
    KEPT_STAGE_ONE = "training.kept_stage1"  # 1: so stage 1's model is the trial's model
    BEST_VALIDATION_LOSS = "best_validation_loss"  # per stage, see ``stage_metric``
    N_SELECTED_TRIALS = "n_selected_trials"  # on cells


class Params:
    """Param names besides the flattened training config (``schedules.accurate.batch_size``)."""

    ACTUAL_DATA_PREFIX = "data.actual."  # frames and budget the split really gave
    MODEL_SOURCE = "model_source"  # MD: the model file or run the trajectory used
    DTYPE = "dtype"  # MD: float32 or float64
    ENGINE = "engine"  # MD: batched or ase (`harness md run`)
    DURATION_PS = "duration_ps"
    TEMPERATURE_K = "temperature_K"


class Artifacts:
    """Artifact paths within a run (besides results.json and config.yaml, copies of the run
    folder's files)."""

    MODEL = "model.pt"  # the run folder's model file (harness.model_file owns its format)
    SGDML_MODEL = "sgdml_model.npz"  # an sGDML run's model, in sGDML's own npz format
    RUN_ID_FILE = "mlflow_run_id.txt"  # in a run folder: the MLflow run it was logged to
    BIAS_FOLDER = "bias"  # the bias table as csv and npz, and its histogram
    BIAS_TABLE_FILE = "bias_weights.npz"  # frame_id, bias, bias_used, weight_gamma<g>
    BIAS_TABLE = f"{BIAS_FOLDER}/{BIAS_TABLE_FILE}"
    REPORT_FOLDER = "report"


# MD rows (``harness.md.results``) log these columns as params, and these as md.<column>.
MD_PARAM_COLUMNS = ("ensemble", "temperature_K", "friction_per_fs", "steps", "duration_ps",
                    "replicas_in_batch")
MD_METRIC_COLUMNS = ("stable", "stable_max_distance", "stable_bonds", "time_to_failure_ps",
                     "steps_per_second", "hr_mae", "energy_drift_per_atom_per_ps",
                     "mean_temperature_K", "nve_stable", "nve_time_to_failure_ps")
TEST_METRIC_PREFIX = "test."  # errors on the test frames (kcal/mol/A, kcal/mol)
# What a trained model is (``setting_tags``): on cells, trials and `harness train` runs alike.
SETTING_TAGS = (Tags.MOLECULE, Tags.MODEL, Tags.METHOD, Tags.BUDGET, Tags.COST_RATIO,
                Tags.ACCURATE_LEVEL, Tags.INACCURATE_LEVEL)
# Tags that name a trial within its cell: a cell run carries its trials' tags without them.
TRIAL_ONLY_TAGS = (Tags.GAMMA, Tags.SEED, Tags.TRIAL_KEY, Tags.GENERATION)
MAX_TAG_LENGTH = 5000  # MLflow's limit on a tag value


def number_tag(value: float | None) -> str:
    """Short, stable text of a number for tags and sweep keys: 25, 0.5, 1e-05; "" for None."""
    return "" if value is None else f"{value:g}"


def number_from_tag(text: str) -> float:
    """The number of a tag; NaN where the tag is empty (the field does not apply)."""
    return math.nan if text == "" else float(text)


def flag_tag(value: bool) -> str:
    return "true" if value else "false"


def flag_from_tag(text: str | None) -> bool:
    return (text or "").lower() == "true"


def setting_tags(molecule: str, model: str, method: str, budget: float | None,
                 cost_ratio: float | str | None, accurate_level: str,
                 inaccurate_level: str | None) -> dict[str, str]:
    """What a trained model is, as tags: the same names and texts on a sweep's cells and
    trials and on a `harness train` run, so that the UI groups them together."""
    return {Tags.MOLECULE: molecule, Tags.MODEL: model, Tags.METHOD: method,
            Tags.BUDGET: number_tag(budget),
            Tags.COST_RATIO: cost_ratio if isinstance(cost_ratio, str)
            else number_tag(cost_ratio),
            Tags.ACCURATE_LEVEL: accurate_level, Tags.INACCURATE_LEVEL: inaccurate_level or ""}


def bias_diagnostic_metric(name: str) -> str:
    """A bias-aware run's diagnosis of its B (``harness.train.bias_diagnostics``):
    ``bias.spearman_vs_true_bias``, ``bias.ess_fraction_gamma2``."""
    return f"bias.{name}"


def run_name(tags: dict[str, str]) -> str:
    """A name the runs page shows whole: method, cheap level, budget, gamma and seed where
    they apply (``asteroid xtb b25 g2 s0``; a cell's name has no gamma or seed)."""
    parts = [tags.get(Tags.METHOD, ""), tags.get(Tags.INACCURATE_LEVEL, "")]
    for prefix, tag in (("b", Tags.BUDGET), ("g", Tags.GAMMA), ("s", Tags.SEED)):
        if tags.get(tag):
            parts.append(f"{prefix}{tags[tag]}")
    return " ".join(part for part in parts if part)


def weight_column(gamma: float) -> str:
    """The bias table's column of the weights exp(-B/gamma): ``weight_gamma0.5``."""
    return f"weight_gamma{number_tag(gamma)}"


def metric_on_test(name: str) -> str:
    """An error on the test frames: ``test.force_mae``."""
    return f"{TEST_METRIC_PREFIX}{name}"


def stage_metric(stage: str, name: str) -> str:
    """A training stage's metric: ``stage2_gamma0.5.validation_loss`` (logged at every
    validation, step = optimiser step) or ``stage1.best_validation_loss``."""
    return f"{stage}.{name}"


def stage_name(stage: str, gamma: float | None) -> str:
    """A stage trained at one gamma among several: ``stage2_gamma0.5``."""
    return stage if gamma is None else f"{stage}_gamma{number_tag(gamma)}"


def md_metric(column: str) -> str:
    """An MD row's column as a metric: ``md.stable``."""
    return f"md.{column}"


def per_seed_chosen_gamma_tag(seed: int) -> str:
    """On a cell: the gamma chosen for one seed."""
    return f"chosen_gamma.s{seed}"


def per_seed_validation_metric(seed: int, gamma: float) -> str:
    """On a cell: one seed's validation loss at one gamma."""
    return f"{Metrics.VALIDATION_LOSS}.s{seed}.g{number_tag(gamma)}"


def cell_summary_metric(test_name: str, statistic: str) -> str:
    """On a cell: mean or std over seeds of its selected trials: ``test.force_mae.mean``."""
    return f"{metric_on_test(test_name)}.{statistic}"


def run_filter(role: str, tags: dict[str, str] | None = None) -> str:
    """An MLflow search filter for runs of ``role`` whose tags have the given values."""
    conditions = {ROLE_TAG: role, **(tags or {})}
    return " and ".join(f"tags.`{key}` = '{value}'" for key, value in conditions.items())
