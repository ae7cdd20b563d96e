"""``harness md sweep SPEC``: each arm's models, then MD over step sizes x seeds.

The models come from a finished training sweep (``from_sweep``: its selected trials, by MLflow
run id), from given run folders, or are trained here (``training``).
Resumable at two levels: a model whose run folder holds ``model.pt`` and ``results.json`` is
reused (an unfinished one resumes from its checkpoints, as ``harness train`` does), and each
(model, step size) cell stores its rows under ``<runs_dir>/md/`` once done, so a rerun skips
it (and does not log it to MLflow twice). The results file gathers every cell.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import yaml

from harness.data.budget import accurate_frames
from harness.data.store import write_json_atomically
from harness.errors import ConfigError
from harness.md.calculator import ReplicaForces
from harness.md.loading import LoadedModel, load_model
from harness.md.observables import PS_IN_FS
from harness.md.reference import Reference, load_reference
from harness.md.results import json_safe, summarise, trajectory_row, write_results
from harness.md.runner import MDSettings, simulate
from harness.md.single import DTYPES
from harness.md.sweep_models import selected_trial_run
from harness.md.sweep_spec import ArmSpec, MDSweepSpec, load_spec
from harness.md.tracking import log_md_run, supersede_md_runs, tag_model_run
from harness.mlflow_record import Params, Tags, number_tag
from harness.model_file import holds_model
from harness.sweeps.spec import deep_merge

NVE_COLUMNS = ("stable", "time_to_failure_ps")


def training_config(spec: MDSweepSpec, arm: ArmSpec, seed: int) -> dict[str, Any]:
    """The arm's training config at the shared budget (see ``sweep_spec``)."""
    training = spec.training
    base = yaml.safe_load(Path(training.config).read_text()) or {}
    config = deep_merge(base, training.overrides)
    data = {key: value for key, value in config.get("data", {}).items()
            if key in ("n_validation", "n_test", "split_seed")}
    data["accurate"] = {"path": spec.dataset, "level": training.accurate_level}
    if arm.method == "standard":
        data["n_accurate_train"] = accurate_frames(training.budget)
    else:
        data.update(inaccurate={"path": spec.dataset, "level": training.inaccurate_level},
                    n_accurate_train=accurate_frames(training.budget,
                                                     training.accurate_given_up),
                    budget=float(training.budget), cost_ratio=training.cost_ratio)
    config.update(name=f"{spec.name}-{arm.name}-seed{seed}", method=arm.method, seed=seed,
                  device=spec.device, data=data, output_dir=None,
                  tracking={"enabled": spec.tracking.enabled, "uri": spec.tracking.uri,
                            "experiment": spec.name})
    if spec.cpu_threads is not None:
        config["cpu_threads"] = spec.cpu_threads
    return config


def trained_model(spec: MDSweepSpec, arm: ArmSpec, slot: int, source: str) -> Path | str:
    """The arm's model for training seed number ``slot``: the sweep trial's MLflow run id, a
    given run folder, or the run folder of a model trained here if needed."""
    if spec.from_sweep is not None:
        return selected_trial_run(spec.from_sweep, arm.method, spec.from_sweep.seeds[slot],
                                  spec.tracking.uri, source)
    if arm.run_dirs is not None:
        return Path(arm.run_dirs[slot])
    from harness.train.config import parse_config
    from harness.train.experiment import claim_output_folder, run

    seed = spec.training.seeds[slot]
    folder = spec.runs_path / "models" / f"{arm.name}-seed{seed}"
    config_source = f"{source} (arm '{arm.name}', training seed {seed})"
    config = parse_config(training_config(spec, arm, seed), config_source)
    claim_output_folder(config, folder, config_source)  # refuses a folder of another config
    if not (holds_model(folder) and (folder / "results.json").is_file()):
        run(config, config_source, folder)
    return folder


def md_settings(spec: MDSweepSpec, step_fs: float, ensemble: str) -> MDSettings:
    md = spec.md
    duration_ps = md.duration_ps if ensemble == "langevin" else md.nve_duration_ps
    return MDSettings(ensemble=ensemble, steps=max(1, round(duration_ps * PS_IN_FS / step_fs)),
                      step_fs=step_fs, temperature_K=md.temperature_K,
                      friction_per_fs=md.friction_per_fs, save_interval_fs=md.save_interval_fs,
                      seeds=tuple(range(md.seeds)), stability=md.stability)


def cell_rows(spec: MDSweepSpec, loaded: LoadedModel, reference: Reference, step_fs: float
              ) -> list[dict[str, Any]]:
    """Langevin rows of one model at one step size, with the NVE run's drift and stability."""
    forces = ReplicaForces(loaded.model, reference.atomic_numbers)

    def rows_of(ensemble: str) -> list[dict[str, Any]]:
        trajectories = simulate(forces, reference.atomic_numbers, reference.start_positions,
                                md_settings(spec, step_fs, ensemble), forces.device)
        return [trajectory_row(trajectory, reference) for trajectory in trajectories]

    rows = rows_of("langevin")
    if spec.md.nve_duration_ps > 0:
        for row, nve in zip(rows, rows_of("nve"), strict=True):
            row["energy_drift_per_atom_per_ps"] = nve["energy_drift_per_atom_per_ps"]
            row.update({f"nve_{column}": nve[column] for column in NVE_COLUMNS})
    return rows


def run_sweep(path: str | Path, tracking_uri: str | None = None) -> dict[str, Any]:
    """Run (or resume) the sweep; returns {"summary", "files"}. ``tracking_uri`` overrides the
    spec's MLflow store (where ``from_sweep`` models are found and MD runs are logged)."""
    spec = load_spec(path)
    if tracking_uri:
        spec.tracking.uri = tracking_uri
    if spec.cpu_threads is not None:
        torch.set_num_threads(spec.cpu_threads)
    md = spec.md
    reference = load_reference(spec.dataset, md.reference_level, md.start_frame, md.histogram)
    rows: list[dict[str, Any]] = []
    for arm in spec.arms:
        for slot, training_seed in enumerate(spec.training_seeds):
            folder = trained_model(spec, arm, slot, str(path))
            loaded = load_model(folder, DTYPES[md.dtype], spec.device, spec.tracking.uri)
            if loaded.method and loaded.method != arm.method:
                raise ConfigError(str(path), f"arms.{spec.arms.index(arm)}.run_dirs",
                                  f"'{folder}' holds a '{loaded.method}' model, not "
                                  f"'{arm.method}'")
            identity = {Tags.SWEEP: spec.name, Tags.MOLECULE: reference.molecule,
                        Tags.MODEL: loaded.model.registry_name, Tags.METHOD: arm.method,
                        Tags.LABEL: arm.name, Tags.BUDGET: number_tag(spec.budget),
                        Tags.TRAINING_SEED: str(training_seed),
                        Tags.MODEL_RUN_ID: loaded.run_id or ""}
            if (spec.tracking.enabled and loaded.run_id and arm.run_dirs is None
                    and spec.from_sweep is None):
                tag_model_run(loaded.run_id, spec.tracking.uri, identity)
            for step_fs in md.step_sizes_fs:
                rows += cached_cell(spec, arm, training_seed, step_fs, loaded, reference,
                                    identity)
    files = write_results(rows, spec.results_stem)
    return {"summary": summarise(rows), "files": [str(file) for file in files]}


def cached_cell(spec: MDSweepSpec, arm: ArmSpec, training_seed: int, step_fs: float,
                loaded: LoadedModel, reference: Reference, identity: dict[str, str]
                ) -> list[dict[str, Any]]:
    """A finished cell's stored rows, or the cell run now, logged to MLflow and stored.

    Stored rows of another model (the sweep retrained it for new code or data) are run again,
    and their MLflow runs are marked superseded so that no report counts both.
    """
    cell_path = (spec.runs_path / "md" / f"{arm.name}-seed{training_seed}"
                 / f"step_{step_fs:g}fs.json")
    settings = spec.md.model_dump(mode="json")
    if cell_path.is_file():
        stored = json.loads(cell_path.read_text())
        if stored["md"] != settings:
            raise ConfigError(spec.name, "md",
                              f"changed since '{cell_path}' was run: use another runs_dir or "
                              "delete its md/ folder")
        if stored.get("model_source", loaded.source) == loaded.source:
            return stored["rows"]
        if spec.tracking.enabled:
            supersede_md_runs(spec.name, spec.tracking.uri, stored.get("model_source", ""))
    rows = [{**identity, "model_source": loaded.source, "dtype": spec.md.dtype, **row}
            for row in cell_rows(spec, loaded, reference, step_fs)]
    if spec.tracking.enabled:
        for row in rows:
            log_md_run(row, spec.name, spec.tracking.uri, identity,
                       {Params.MODEL_SOURCE: loaded.source, Params.DTYPE: spec.md.dtype})
    write_json_atomically(cell_path, json_safe({"md": settings, "model_source": loaded.source,
                                                "rows": rows}))
    return rows
