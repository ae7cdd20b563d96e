"""``harness md sweep SPEC``: MD over step sizes x seeds on a finished training sweep's models.

Every arm's models are the trials the training sweep selected (``from_sweep``), loaded by
MLflow run id; nothing is trained here. Resumable: each (model, step size) cell stores its rows
under ``<runs_dir>/md/`` once done, so a rerun skips it (and does not log it to MLflow twice)
unless its model or the MD settings changed since.
The results file gathers every cell.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from harness.data.store import write_json_atomically
from harness.md.calculator import ReplicaForces
from harness.md.loading import LoadedModel, load_model
from harness.md.observables import PS_IN_FS
from harness.md.reference import Reference, load_reference
from harness.md.results import json_safe, summarise, trajectory_row, write_results
from harness.md.runner import MDSettings, simulate
from harness.md.single import DTYPES
from harness.md.sweep_models import selected_trial_run
from harness.md.sweep_progress import cell_line
from harness.md.sweep_spec import ArmSpec, MDSweepSpec, load_spec
from harness.md.tracking import log_md_run, supersede_md_runs
from harness.mlflow_record import Params, Tags, number_tag

NVE_COLUMNS = ("stable", "time_to_failure_ps")


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


def run_sweep(path: str | Path, tracking_uri: str | None = None,
              progress: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """Run (or resume) the sweep; returns {"summary", "files"}. ``tracking_uri`` overrides the
    spec's MLflow store (where the sweep's models are found and MD runs are logged);
    ``progress`` gets one line per finished (or cached) cell."""
    spec = load_spec(path)
    if tracking_uri:
        spec.tracking.uri = tracking_uri
    if spec.cpu_threads is not None:
        torch.set_num_threads(spec.cpu_threads)
    md = spec.md
    reference = load_reference(spec.dataset, md.reference_level, md.start_frame, md.histogram)
    cells = len(spec.arms) * len(spec.from_sweep.seeds) * len(md.step_sizes_fs)
    rows: list[dict[str, Any]] = []
    done = 0
    for arm in spec.arms:
        for training_seed in spec.from_sweep.seeds:
            loaded, identity = sweep_model(spec, arm, training_seed, reference, str(path))
            for step_fs in md.step_sizes_fs:
                cell, seconds = finished_cell(spec, arm, training_seed, step_fs, loaded,
                                              reference, identity)
                rows += cell
                done += 1
                progress(cell_line(done, cells, arm.name, training_seed, step_fs, cell,
                                   seconds))
    files = write_results(rows, spec.results_stem)
    return {"summary": summarise(rows), "files": [str(file) for file in files]}


def sweep_model(spec: MDSweepSpec, arm: ArmSpec, training_seed: int, reference: Reference,
                where: str) -> tuple[LoadedModel, dict[str, str]]:
    """The arm's model at ``training_seed`` (the sweep's selected trial, by MLflow run id) and
    the tags that say which model an MD run used."""
    run_id = selected_trial_run(spec.from_sweep, arm.method, training_seed, spec.tracking.uri,
                                where)
    loaded = load_model(run_id, DTYPES[spec.md.dtype], spec.device, spec.tracking.uri)
    identity = {Tags.SWEEP: spec.name, Tags.MOLECULE: reference.molecule,
                Tags.MODEL: loaded.model.registry_name, Tags.METHOD: arm.method,
                Tags.LABEL: arm.name, Tags.BUDGET: number_tag(spec.from_sweep.budget),
                Tags.TRAINING_SEED: str(training_seed), Tags.MODEL_RUN_ID: loaded.run_id or ""}
    return loaded, identity


def finished_cell(spec: MDSweepSpec, arm: ArmSpec, training_seed: int, step_fs: float,
                  loaded: LoadedModel, reference: Reference, identity: dict[str, str]
                  ) -> tuple[list[dict[str, Any]], float | None]:
    """One (model, step size) cell's rows, and the seconds it ran (None: its stored rows were
    reused).

    A cell that runs supersedes the MLflow runs it already has (of a replaced model, of other
    MD settings, of a run killed before its rows were stored, or whose stored rows are not on
    this machine), and a reused one those of other models, so that no report counts a
    trajectory twice.
    """
    path = (spec.runs_path / "md" / f"{arm.name}-seed{training_seed}"
            / f"step_{step_fs:g}fs.json")
    stored = stored_rows(spec, path, loaded)
    if spec.tracking.enabled:
        supersede_md_runs(spec.name, spec.tracking.uri, arm.name, training_seed, step_fs,
                          keep_source=None if stored is None else loaded.source)
    if stored is not None:
        return stored, None
    started = time.monotonic()
    rows = run_cell(spec, path, step_fs, loaded, reference, identity)
    return rows, time.monotonic() - started


def stored_rows(spec: MDSweepSpec, path: Path, loaded: LoadedModel
                ) -> list[dict[str, Any]] | None:
    """A finished cell's rows, or None when the cell must run: never stored, or stored for
    another model (the sweep retrained it for new code or data) or other MD settings (an
    edited spec, or a default changed by an upgrade)."""
    if not path.is_file():
        return None
    stored = json.loads(path.read_text())
    if (stored["md"] == spec.md.model_dump(mode="json")
            and stored.get("model_source", loaded.source) == loaded.source):
        return stored["rows"]
    return None


def run_cell(spec: MDSweepSpec, path: Path, step_fs: float, loaded: LoadedModel,
             reference: Reference, identity: dict[str, str]) -> list[dict[str, Any]]:
    """The cell run now, logged to MLflow (one run per trajectory) and stored at ``path``."""
    rows = [{**identity, "model_source": loaded.source, "dtype": spec.md.dtype, **row}
            for row in cell_rows(spec, loaded, reference, step_fs)]
    if spec.tracking.enabled:
        for row in rows:
            log_md_run(row, spec.name, spec.tracking.uri, identity,
                       {Params.MODEL_SOURCE: loaded.source, Params.DTYPE: spec.md.dtype})
    write_json_atomically(path, json_safe({"md": spec.md.model_dump(mode="json"),
                                           "model_source": loaded.source, "rows": rows}))
    return rows
