"""``harness md run``: one trained model, one set of MD settings, N seeds.

Loads the model (run folder, ``model.pt`` or MLflow run id), starts every seed from one frame
of the reference level, runs the batched integrator (or ASE's, one seed at a time), and
returns rows and a summary; optionally writes them, the frames as extxyz (eV, Angstrom), and
one MLflow run per trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from harness.data.units import KCAL_PER_MOL_IN_EV
from harness.md.calculator import ForceFieldCalculator, ReplicaForces
from harness.md.loading import load_model
from harness.md.observables import HistogramSettings
from harness.md.reference import DEFAULT_REFERENCE_LEVEL, Reference, load_reference
from harness.md.results import summarise, trajectory_row, write_results
from harness.md.runner import MDSettings, Trajectory, simulate, simulate_with_ase
from harness.md.tracking import log_md_run
from harness.mlflow_record import Params, Tags

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class RunRequest:
    """Everything ``harness md run`` needs besides the MD settings."""

    model: str
    dataset: str = "data/ethanol"
    reference_level: str = DEFAULT_REFERENCE_LEVEL
    start_frame: int = 0
    dtype: Literal["float32", "float64"] = "float64"
    device: str = "cpu"
    engine: Literal["batched", "ase"] = "batched"
    histogram: HistogramSettings = HistogramSettings()
    tracking_uri: str | None = None
    experiment: str | None = None  # None: nothing goes to MLflow
    out: Path | None = None  # writes OUT.csv and OUT.json
    trajectory_dir: Path | None = None


def run_trajectories(model: torch.nn.Module, reference: Reference, settings: MDSettings,
                     engine: Literal["batched", "ase"] = "batched") -> list[Trajectory]:
    """All seeds of ``settings`` from the reference's start geometry, with either engine."""
    forces = ReplicaForces(model, reference.atomic_numbers)
    if engine == "ase":
        calculator = ForceFieldCalculator(model, forces.dtype, forces.device)
        return simulate_with_ase(calculator, reference.atomic_numbers,
                                 reference.start_positions, settings)
    return simulate(forces, reference.atomic_numbers, reference.start_positions, settings,
                    forces.device)


def run_md(request: RunRequest, settings: MDSettings) -> dict[str, Any]:
    """Simulate, measure and record; returns {"model", "summary", "rows", "files"}."""
    loaded = load_model(request.model, DTYPES[request.dtype], request.device,
                        request.tracking_uri)
    reference = load_reference(request.dataset, request.reference_level, request.start_frame,
                               request.histogram)
    trajectories = run_trajectories(loaded.model, reference, settings, request.engine)
    identity = {"method": loaded.method, "model": loaded.model.registry_name,
                "model_source": loaded.source, "model_run_id": loaded.run_id or "",
                "molecule": reference.molecule, "dtype": request.dtype,
                "engine": request.engine}
    rows = [{**identity, **trajectory_row(trajectory, reference)}
            for trajectory in trajectories]
    files: list[Path] = []
    if request.out is not None:
        files += write_results(rows, request.out)
    if request.trajectory_dir is not None:
        files += write_frames(trajectories, reference.atomic_numbers, request.trajectory_dir)
    if request.experiment is not None:
        tags = {Tags.METHOD: loaded.method, Tags.MODEL: loaded.model.registry_name,
                Tags.MODEL_RUN_ID: loaded.run_id or "", Tags.MOLECULE: reference.molecule}
        for row in rows:
            log_md_run(row, request.experiment, request.tracking_uri, tags,
                       {Params.MODEL_SOURCE: loaded.source, Params.DTYPE: request.dtype,
                        Params.ENGINE: request.engine})
    return {"model": loaded.source, "summary": summarise(rows), "rows": rows,
            "files": [str(path) for path in files]}


def write_frames(trajectories: list[Trajectory], atomic_numbers: np.ndarray,
                 folder: Path) -> list[Path]:
    """``seed_<k>.extxyz`` per trajectory: saved frames with energies in eV (ASE's units)."""
    from ase.io import write

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for trajectory in trajectories:
        images = []
        for index, positions in enumerate(trajectory.positions):
            atoms = Atoms(numbers=atomic_numbers, positions=positions)
            atoms.info["time_ps"] = float(trajectory.times_ps[index])
            atoms.calc = SinglePointCalculator(
                atoms, energy=float(trajectory.potential_energies[index]) * KCAL_PER_MOL_IN_EV)
            images.append(atoms)
        path = folder / f"seed_{trajectory.seed}.extxyz"
        write(path, images, format="extxyz")
        paths.append(path)
    return paths
