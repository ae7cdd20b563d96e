"""Run one training config end to end: data, method, test metrics, files, MLflow.

The output folder (``output_dir``, default ``runs/<name>``) holds the config snapshot, one
checkpoint per stage (``checkpoints/``), ``results.json``, ``model.pt`` (sGDML, outside torch:
``checkpoints/sgdml_model.npz``) and, for ASTEROID, the bias table and histogram. Running the
same config again resumes from the checkpoints; a different config in the same folder is
refused rather than mixed. ``results.json`` records, beside the test metrics and the sizes,
``budget_spent``: the accurate-label equivalents the run paid for (``harness.data.budget``),
and ``model_files``, the saved model's paths in the folder. ``record_finished`` logs such a
folder to MLflow again without training (a saved sweep loaded on another machine).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from harness.baselines import BASELINE_METHODS
from harness.baselines.ani import resolve_weights
from harness.data.budget import Allocation, allocate, resolve_cost_ratio
from harness.data.frames import FrameSet, MultiFidelityDataset
from harness.data.store import write_json_atomically
from harness.errors import UNKNOWN_CONFIG, ConfigError, HarnessError
from harness.mlflow_record import (
    Artifacts,
    Metrics,
    Params,
    Role,
    Tags,
    bias_diagnostic_metric,
    flag_tag,
    metric_on_test,
    number_tag,
    setting_tags,
    stage_metric,
)
from harness.model_file import save_model
from harness.train.bias_diagnostics import true_bias
from harness.train.checkpoint import checkpoint_folder
from harness.train.config import (
    ACCURATE_ONLY_METHODS,
    ANI_METHODS,
    BIAS_AWARE_METHODS,
    DISPLAY_SETTINGS,
    METHODS_WITH_INACCURATE_LABELS,
    LevelSource,
    TrainConfig,
    load_config,
    parameters_of,
    paths_relative_to,
    resolve_relative_paths,
)
from harness.train.methods import (
    CHEAP_LABELS_BEYOND_POOL,
    TRAINING_METHODS,
    MethodContext,
    MethodOutcome,
    MethodRunner,
    MoleculeFrames,
    Splits,
)
from harness.train.metrics import force_energy_metrics
from harness.train.prediction import labels, predict
from harness.train.tracking import BufferedMetrics, MlflowTracker, NullTracker, Tracker
from harness.versions import code_version, runtime, trial_data_hash

# Every method a config may name: this driver sits above both the engine and the baselines.
METHODS: dict[str, MethodRunner] = {**TRAINING_METHODS, **BASELINE_METHODS}


def run_method(context: MethodContext, splits: Splits) -> MethodOutcome:
    """The configured method on ``splits``."""
    return METHODS[context.config.method](context, splits)


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ConfigError(UNKNOWN_CONFIG, "device",
                          "cuda requested but no CUDA device is available")
    return torch.device(requested)


def load_level(level_source: LevelSource, config_source: str, key: str) -> FrameSet:
    """One level of a dataset; the level may be omitted when the dataset has only one."""
    from harness.data.readers import load_any

    return select_level(load_any(level_source.path), level_source, config_source, key)


def select_level(dataset: MultiFidelityDataset, level_source: LevelSource, config_source: str,
                 key: str) -> FrameSet:
    """The level ``level_source`` names in an already loaded ``dataset``."""
    if level_source.level is None:
        if len(dataset.levels) != 1:
            raise ConfigError(config_source, f"{key}.level",
                              f"the dataset has levels {sorted(dataset.levels)}: choose one")
        return next(iter(dataset.levels.values()))
    if level_source.level not in dataset.levels:
        raise ConfigError(config_source, f"{key}.level",
                          f"unknown level '{level_source.level}'; the dataset at "
                          f"'{level_source.path}' has {sorted(dataset.levels)}")
    return dataset.levels[level_source.level]


LevelLoader = Callable[[LevelSource, str, str], FrameSet]


def cost_ratio_of(config: TrainConfig, accurate: FrameSet, inaccurate: FrameSet,
                  config_source: str) -> float | None:
    """The resolved cost ratio of a run that pays for inaccurate labels or sizes them by a
    budget; None for the others (unlabeled frames are free)."""
    data = config.data
    if config.method not in METHODS_WITH_INACCURATE_LABELS and data.budget is None:
        return None
    try:
        return resolve_cost_ratio(data.cost_ratio, accurate, inaccurate)
    except ConfigError as error:  # the budget helpers do not know the file
        raise ConfigError(config_source, f"data.{error.key_path}", error.problem) from None


def inaccurate_training_size(config: TrainConfig, cost_ratio: float | None,
                             config_source: str) -> int:
    """Frames of inaccurate training data, from the config's count or its budget."""
    data = config.data
    if config.method == "delta_ml":
        return 0
    if data.budget is None:
        if data.n_inaccurate_train is None:
            raise ConfigError(config_source, "data.n_inaccurate_train",
                              f"method '{config.method}' needs it (or data.budget)")
        return data.n_inaccurate_train
    try:
        return allocate(data.budget, data.n_accurate_train, cost_ratio).n_inaccurate
    except ConfigError as error:  # the budget helpers do not know the file
        raise ConfigError(config_source, f"data.{error.key_path}", error.problem) from None


def prepare_splits(config: TrainConfig, config_source: str, load: LevelLoader = load_level
                   ) -> tuple[Splits, dict[str, Any]]:
    """Load the levels (with ``load``: a sweep's pre-flight check passes one that reads each
    file once) and split them; test frames are accurate and kept out of training. The sizes
    carry the resolved ``cost_ratio`` where the run pays for inaccurate labels."""
    from harness.data.splits import split_multi_fidelity

    data = config.data
    accurate = load(data.accurate, config_source, "data.accurate")
    inaccurate, cost_ratio, n_inaccurate = None, None, 0
    if config.method not in ACCURATE_ONLY_METHODS:
        inaccurate = load(data.inaccurate, config_source, "data.inaccurate")
        if config.method in METHODS_WITH_INACCURATE_LABELS and not inaccurate.is_labelled:
            raise ConfigError(config_source, "data.inaccurate.level",
                              f"method '{config.method}' needs labelled inaccurate frames")
        cost_ratio = cost_ratio_of(config, accurate, inaccurate, config_source)
        n_inaccurate = inaccurate_training_size(config, cost_ratio, config_source)
    split = split_multi_fidelity(
        accurate, inaccurate, n_accurate_train=data.n_accurate_train,
        n_inaccurate_train=n_inaccurate, n_validation=data.n_validation, n_test=data.n_test,
        split_seed=data.split_seed, train_seed=config.seed,
        cap_inaccurate=data.budget is not None and data.cap_to_available)
    bias_aware = config.method in BIAS_AWARE_METHODS
    others = tuple(other_molecule_frames(config, index, accurate, inaccurate, n_inaccurate,
                                         config_source, load)
                   for index in range(len(data.pretraining_molecules)))
    splits = Splits(accurate_train=split.accurate_train, validation=split.validation,
                    test=split.test, inaccurate_train=split.inaccurate_train,
                    inaccurate_level=inaccurate,
                    true_bias=true_bias(accurate, split.inaccurate_train) if bias_aware
                    else None, other_molecules=others)
    sizes: dict[str, Any] = {
        "n_accurate_train": len(split.accurate_train), "n_validation": len(split.validation),
        "n_test": len(split.test),
        "n_inaccurate_train": 0 if split.inaccurate_train is None
        else len(split.inaccurate_train)}
    if others:
        sizes["n_accurate_train_other_molecules"] = sum(len(o.accurate_train) for o in others)
        sizes["n_inaccurate_train_other_molecules"] = sum(len(o.inaccurate_train)
                                                          for o in others)
    if cost_ratio is not None:
        sizes["cost_ratio"] = cost_ratio
    return splits, sizes


def other_molecule_frames(config: TrainConfig, index: int, accurate: FrameSet,
                          inaccurate: FrameSet, n_inaccurate: int, config_source: str,
                          load: LevelLoader) -> MoleculeFrames:
    """Entry ``index`` of ``data.pretraining_molecules``, split with this run's sizes and seeds.

    It must be another molecule at the same cheap level: one pre-training pool has one level
    of theory, so that its energies share one zero.
    """
    from harness.data.splits import split_multi_fidelity

    data, key = config.data, f"data.pretraining_molecules.{index}"
    other = data.pretraining_molecules[index]
    other_accurate = load(other.accurate, config_source, f"{key}.accurate")
    other_inaccurate = load(other.inaccurate, config_source, f"{key}.inaccurate")
    if other_accurate.molecule == accurate.molecule:
        raise ConfigError(config_source, f"{key}.accurate",
                          f"'{other_accurate.molecule}' is the molecule trained and tested "
                          "here: list only the other molecules")
    if other_inaccurate.level != inaccurate.level:
        raise ConfigError(config_source, f"{key}.inaccurate.level",
                          f"level '{other_inaccurate.level}' differs from this run's "
                          f"'{inaccurate.level}': one pre-training pool, one level of theory")
    if not other_inaccurate.is_labelled:
        raise ConfigError(config_source, f"{key}.inaccurate.level",
                          f"method '{config.method}' needs labelled inaccurate frames")
    split = split_multi_fidelity(
        other_accurate, other_inaccurate, n_accurate_train=data.n_accurate_train,
        n_inaccurate_train=n_inaccurate, n_validation=data.n_validation, n_test=data.n_test,
        split_seed=data.split_seed, train_seed=config.seed,
        cap_inaccurate=data.budget is not None and data.cap_to_available)
    return MoleculeFrames(split.accurate_train, split.validation, split.inaccurate_train,
                          true_bias(other_accurate, split.inaccurate_train))


def labels_paid(config: TrainConfig, sizes: dict[str, Any], details: dict[str, Any]
                ) -> Allocation:
    """What a finished run paid for: its accurate frames and the inaccurate labels it trained
    on (Delta-ML: one per paired accurate frame; a correction-model bias estimator: also those
    of accurate training geometries outside the inaccurate training frames; both from the
    method's ``details``). A multi-molecule pre-training's other molecules are not counted:
    their labels are paid in their own rows (``pretraining_labels_paid``)."""
    if config.method not in METHODS_WITH_INACCURATE_LABELS:
        return Allocation(sizes["n_accurate_train"])
    n_inaccurate = (details["n_paired_train"] if config.method == "delta_ml"
                    else sizes["n_inaccurate_train"] + details.get(CHEAP_LABELS_BEYOND_POOL, 0))
    return Allocation(sizes["n_accurate_train"], n_inaccurate, sizes["cost_ratio"])


def pretraining_labels_paid(sizes: dict[str, Any]) -> float | None:
    """What a multi-molecule pre-training cost in all, every molecule's labels counted (None
    for a run of one molecule)."""
    if "n_accurate_train_other_molecules" not in sizes:
        return None
    return Allocation(sizes["n_accurate_train"] + sizes["n_accurate_train_other_molecules"],
                      sizes["n_inaccurate_train"] + sizes["n_inaccurate_train_other_molecules"],
                      sizes["cost_ratio"]).spent


def test_metrics(outcome: MethodOutcome, batch_size: int, device: torch.device
                 ) -> dict[str, float]:
    """Errors on the test frames, from the model or from the outcome's own predictions."""
    if outcome.test_predictions is not None:
        predicted_energies, predicted_forces = outcome.test_predictions
    else:
        predicted_energies, predicted_forces = predict(outcome.model, outcome.test_graphs,
                                                       batch_size, device)
    true_energies, true_forces = labels(outcome.test_graphs)
    return force_energy_metrics(predicted_energies, predicted_forces, true_energies, true_forces)


def write_bias_table(table: dict[str, np.ndarray], folder: Path) -> list[Path]:
    """Per-frame bias and weights as CSV and npz, and a histogram PNG; returns the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    columns = list(table)
    npz_path = folder / Artifacts.BIAS_TABLE_FILE
    csv_path, png_path = npz_path.with_suffix(".csv"), folder / "bias_histogram.png"
    stacked = np.column_stack([np.asarray(table[name], dtype=np.float64) for name in columns])
    formats = ["%d"] + ["%.6g"] * (len(columns) - 1)
    np.savetxt(csv_path, stacked, delimiter=",", header=",".join(columns), comments="",
               fmt=formats)
    np.savez_compressed(npz_path, **table)
    figure, (bias_axis, weight_axis) = plt.subplots(1, 2, figsize=(10, 4))
    bias_axis.hist(table["bias"], bins=50)
    bias_axis.axvline(float(np.median(table["bias"])), color="k", linestyle="--", label="median")
    bias_axis.set_xlabel("bias B (kcal/mol/A)")
    bias_axis.set_ylabel("inaccurate frames")
    bias_axis.legend()
    for name in columns:
        if name.startswith("weight_"):
            weight_axis.hist(table[name], bins=50, range=(0, 1), histtype="step",
                             label=name.removeprefix("weight_"))
    weight_axis.set_xlabel("weight exp(-B / gamma)")
    weight_axis.legend()
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
    return [csv_path, npz_path, png_path]


def claim_output_folder(config: TrainConfig, output: Path, config_source: str) -> None:
    """Write the config snapshot, or check that a resumed run has the same config (display
    settings aside: resuming with progress switched off is the same run).

    The snapshot names its files relative to ``output`` (relative paths of ``config`` are
    relative to the working directory, as a sweep's trials are), so that
    ``harness train OUTPUT/config.yaml`` reruns or resumes the run from any folder. Snapshots
    written before, with paths relative to the working directory, still match."""
    snapshot = output / "config.yaml"
    content = config.model_dump(mode="json")
    if snapshot.exists():
        previous = yaml.safe_load(snapshot.read_text())
        here = _trained(resolve_relative_paths(content, Path.cwd()))
        if here not in (_trained(resolve_relative_paths(previous, output)),
                        _trained(resolve_relative_paths(previous, Path.cwd()))):
            raise ConfigError(config_source, "output_dir",
                              f"'{output}' holds a run of a different config: choose another "
                              "output_dir or delete that folder")
        return
    output.mkdir(parents=True, exist_ok=True)
    snapshot.write_text(yaml.safe_dump(paths_relative_to(content, output), sort_keys=False))


def _trained(content: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in content.items() if key not in DISPLAY_SETTINGS}


def run_tags(config: TrainConfig, splits: Splits) -> dict[str, str]:
    """What a `harness train` run is, in the tags a sweep gives its trials (a sweep passes
    its own, already tagged run), with the code and data it ran; its gamma is known once
    validation has chosen one."""
    inaccurate = splits.inaccurate_level
    priced = config.method in METHODS_WITH_INACCURATE_LABELS  # only these pay a cost ratio
    return {Tags.ROLE: Role.TRAINING,
            **setting_tags(splits.accurate_train.molecule, config.model.name, config.method,
                           config.data.budget, config.data.cost_ratio if priced else None,
                           splits.accurate_train.level,
                           None if inaccurate is None else inaccurate.level),
            Tags.SEED: str(config.seed), **code_version(),
            Tags.DATA_HASH: trial_data_hash(config.model_dump(mode="json"))}


def outcome_metrics(results: dict[str, Any]) -> dict[str, float]:
    """The chosen gamma and the gamma its weights used, the bias statistics (an ensemble's
    spread too) and the budget spent, where the run has them."""
    details = results["details"]
    found = {Metrics.CHOSEN_GAMMA: details.get("chosen_gamma"),
             Metrics.APPLIED_GAMMA: details.get("applied_gamma"),
             Metrics.BIAS_MEDIAN: details.get("bias_median"),
             Metrics.BIAS_MEAN: details.get("bias_mean"),
             Metrics.ENSEMBLE_SPREAD_MEAN: details.get("ensemble_spread_mean"),
             Metrics.BUDGET_SPENT: results.get("budget_spent"),
             **{bias_diagnostic_metric(name): value
                for name, value in details.get("bias_diagnostics", {}).items()}}
    return {name: float(value) for name, value in found.items() if value is not None}


def open_tracker(config: TrainConfig, output: Path, tags: dict[str, str]) -> Tracker:
    if not config.tracking.enabled:
        return NullTracker()
    run_id_path = output / Artifacts.RUN_ID_FILE
    run_id = run_id_path.read_text().strip() if run_id_path.exists() else None
    tracker = MlflowTracker(config.tracking.uri, config.tracking.experiment, config.name, run_id)
    run_id_path.write_text(tracker.run_id)
    tracker.set_tags(tags)
    return tracker


def run(config: TrainConfig, config_source: str = UNKNOWN_CONFIG,
        output_dir: str | Path | None = None, tracker: Tracker | None = None
        ) -> dict[str, Any]:
    """Train and test one config; returns (and writes to results.json) the final metrics.

    ``tracker``: where to log instead of the run the config's tracking settings open (a sweep
    passes its trial's child run); ``run`` closes it, FINISHED or FAILED.
    """
    started = time.perf_counter()
    output = Path(output_dir or config.output_dir or Path("runs") / config.name)
    try:
        splits, sizes = _prepare(config, config_source, output, tracker)
        with deterministic_algorithms(config.deterministic):
            return _run_in(config, output, started, splits, sizes, tracker)
    except ConfigError as error:  # raised where the file is not known: name it here
        raise error.named(config_source) from None


def _prepare(config: TrainConfig, config_source: str, output: Path, tracker: Tracker | None
             ) -> tuple[Splits, dict[str, Any]]:
    """The splits and sizes, and the output folder claimed. Bad data, an impossible split or
    missing weights fail here, before the output folder or a run exists; a given tracker is
    then closed FAILED."""
    try:
        splits, sizes = prepare_splits(config, config_source)
        if config.method in ANI_METHODS:
            resolve_weights(config.baselines.ani.weights_path)
        claim_output_folder(config, output, config_source)
    except HarnessError:
        if tracker is not None:
            tracker.close("FAILED")
        raise
    return splits, sizes


@contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    """torch's deterministic algorithms while training when asked (or already on), restored
    afterwards."""
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(enabled or was_deterministic)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_deterministic)


def _run_in(config: TrainConfig, output: Path, started: float, splits: Splits,
            sizes: dict[str, Any], tracker: Tracker | None = None) -> dict[str, Any]:
    if config.cpu_threads is not None:
        torch.set_num_threads(config.cpu_threads)
    device = resolve_device(config.device)
    dtype = torch.float64 if config.dtype == "float64" else torch.float32

    own_run = tracker is None
    tracker = open_tracker(config, output, run_tags(config, splits)) if own_run else tracker
    try:
        tracker.log_params(run_parameters(config, sizes))

        buffered = BufferedMetrics(tracker)

        def log_validation(stage: str, record: dict[str, float]) -> None:
            buffered.add(validation_metrics(stage, record), step=int(record["step"]))

        context = MethodContext(config, device, dtype, checkpoint_folder(output), log_validation,
                                after_stage=buffered.flush)
        try:
            outcome = run_method(context, splits)
        finally:
            buffered.flush()
        metrics = test_metrics(outcome, config.schedules.accurate.evaluation_batch_size, device)
        results = {
            "name": config.name, "method": config.method,
            "model": outcome.model_name or config.model.name,
            "seed": config.seed, "device": str(device), "dtype": config.dtype,
            "runtime": runtime(device),
            "test": metrics, "data": sizes,
            "budget_spent": labels_paid(config, sizes, outcome.details).spent,
            "budget_spent_all_molecules": pretraining_labels_paid(sizes),
            "needs_inaccurate_label_at_inference": config.method == "delta_ml",
            "details": outcome.details,
            "validation_loss": outcome.validation_loss,
            "stages": [stage.to_dict() for stage in outcome.stages],
            "not_converged_stages": [stage.name for stage in outcome.stages
                                     if stage.still_improving_at_cap],
            "wall_seconds": time.perf_counter() - started,
            "training_seconds": sum(stage.seconds for stage in outcome.stages),
        }
        model_files = list(outcome.model_files)
        if outcome.model is not None:
            model_files.append(save_model(output, outcome.model, results["model"],
                                          config.model.hyperparameters,
                                          config.model_dump(mode="json")))
        results["model_files"] = [path.relative_to(output).as_posix() for path in model_files]
        write_json_atomically(output / "results.json", results)
        bias_files = ([] if outcome.bias_table is None else
                      write_bias_table(outcome.bias_table, output / Artifacts.BIAS_FOLDER))
        log_outcome(tracker, results, output, bias_files, own_run)
    except BaseException:
        tracker.close("FAILED")
        raise
    tracker.close()
    return results


def run_parameters(config: TrainConfig, sizes: dict[str, Any]) -> dict[str, Any]:
    """A run's MLflow parameters: the config and the sizes its split really gave."""
    return {**parameters_of(config),
            **{f"{Params.ACTUAL_DATA_PREFIX}{key}": value for key, value in sizes.items()}}


def validation_metrics(stage: str, record: dict[str, float]) -> dict[str, float]:
    """One validation record of ``stage`` as MLflow metrics (its step is the metric step)."""
    return {stage_metric(stage, key): value for key, value in record.items()
            if key not in ("step", "epoch")}


def log_outcome(tracker: Tracker, results: dict[str, Any], output: Path,
                bias_files: list[Path], own_run: bool) -> None:
    """What a finished run logs from its ``results.json`` and folder: test metrics, the
    stages' best losses, convergence and the fine-tuning guard, and the files as artifacts."""
    tracker.log_metrics({metric_on_test(key): value for key, value in results["test"].items()})
    tracker.log_metrics({stage_metric(stage["name"], Metrics.BEST_VALIDATION_LOSS):
                         stage["best_validation_loss"] for stage in results["stages"]})
    tracker.log_metrics({Metrics.STAGES_STILL_IMPROVING:
                         float(len(results["not_converged_stages"])),
                         **outcome_metrics(results)})
    guard = results["details"].get("fine_tuning")
    if guard is not None:
        tracker.log_metrics({Metrics.FINE_TUNING_WORSE: float(guard["worse_than_stage1"]),
                             Metrics.KEPT_STAGE_ONE: float(guard["kept_stage1"])})
    tracker.set_tags({Tags.CONVERGED: flag_tag(not results["not_converged_stages"]),
                      Tags.NOT_CONVERGED_STAGES: ",".join(results["not_converged_stages"]),
                      **results.get("runtime", {})})  # absent in results of older code
    if own_run:
        tracker.set_tags({Tags.GAMMA: number_tag(results["details"].get("chosen_gamma"))})
    model_files = [output / name for name in results["model_files"]]
    for path in (output / "results.json", *model_files, output / "config.yaml"):
        tracker.log_artifact(path)
    for path in bias_files:
        tracker.log_artifact(path, Artifacts.BIAS_FOLDER)


def record_finished(tracker: Tracker, config: TrainConfig, output: Path,
                    results: dict[str, Any]) -> None:
    """Log a finished training of ``config`` from its folder as ``run`` logged it while
    training (the parameters, every stage's validation history, then ``log_outcome``): for a
    folder whose MLflow record is elsewhere or gone, such as a saved sweep's trial loaded on
    another machine (``harness.sweeps.record``; its model may have been left out for its size).
    Nothing is trained."""
    tracker.log_params(run_parameters(config, results["data"]))
    tracker.log_metric_entries([
        (name, float(value), int(record["step"]))
        for stage in results["stages"] for record in stage["history"]
        for name, value in validation_metrics(stage["name"], record).items()])
    bias_folder = output / Artifacts.BIAS_FOLDER
    bias_files = sorted(bias_folder.iterdir()) if bias_folder.is_dir() else []
    present = [name for name in results["model_files"] if (output / name).is_file()]
    log_outcome(tracker, {**results, "model_files": present}, output, bias_files,
                own_run=False)


def run_file(path: str | Path, output_dir: str | Path | None = None,
             overrides: list[str] | None = None) -> dict[str, Any]:
    """``harness train CONFIG.yaml [--set key=value ...]``: load, validate and run."""
    return run(load_config(path, overrides), str(path), output_dir)


def summary_line(results: dict[str, Any]) -> str:
    test = results["test"]
    return json.dumps({"name": results["name"], "method": results["method"], **test})


def convergence_warnings(results: dict[str, Any]) -> list[str]:
    """One line per stage stopped at a cap while still improving, and a worse fine-tuning."""
    lines = [f"{results['name']}: stage {stage['name']} NOT CONVERGED: stopped by "
             f"{stage['stopped_by']} at step {stage['steps']}, its best validation loss at "
             f"step {stage['best_step']} (raise the cap)"
             for stage in results["stages"] if stage.get("still_improving_at_cap")]
    guard = results["details"].get("fine_tuning")
    if guard and guard["worse_than_stage1"]:
        kept = ("; stage 1's model is kept" if guard.get("kept_stage1")
                else "; the fine-tuned model is kept")
        lines.append(f"{results['name']}: fine-tuning ended worse than its own stage 1 "
                     f"(validation loss {guard['stage3_best_validation_loss']:.4g} against "
                     f"{guard['stage1_best_validation_loss']:.4g}){kept}")
    return lines
