"""``harness data generate``: sample, then label every level, each step skipped once done.

Rerunning the same command resumes: the trajectory is sampled once, and each level's label
chunks are written once. The data card is regenerated at the end of every run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from harness.data.generate.card import write_card
from harness.data.generate.labelers import make_labeler
from harness.data.generate.labelling import evenly_spaced_frames, label_in_chunks
from harness.data.generate.molecule import (
    atomic_numbers_of,
    build_molecule,
    molecule_from_geometry,
    positions_of,
    smiles_of,
)
from harness.data.generate.sampling import SamplingSettings, run_langevin
from harness.data.readers import read_ase
from harness.data.store import (
    declared_units,
    read_description,
    read_trajectory,
    write_json_atomically,
    write_npz_atomically,
)
from harness.errors import DataError

CHEAP_LEVELS = ("xtb", "gaff2", "mmff94")


@dataclass(frozen=True)
class GenerationPlan:
    """``xyz``, when given, is an xyz / extxyz file whose first frame is the molecule (its atom
    order and the start of sampling) instead of ``smiles``."""

    molecule: str = "ethanol"
    smiles: str = "CCO"
    xyz: Path | None = None
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    levels: tuple[str, ...] = ("xtb", "gaff2", "mmff94", "ccsd")
    accurate_frames: int = 1000
    accurate_chunk_size: int = 20


def generate(folder: Path, plan: GenerationPlan, progress: bool = True) -> None:
    folder = Path(folder)
    molecule = _molecule(plan)
    if not (folder / "trajectory.npz").exists():
        _sample(folder, plan, molecule, progress)
    description = read_description(folder)
    source = str(folder / "dataset.json")
    if not declared_units(description, source).is_internal(source):
        raise DataError(source, "units", "this folder declares other units than kcal/mol and "
                        "Angstrom; new labels would be mixed into them: generate into a new "
                        "folder")
    _, positions = read_trajectory(folder)
    for level in plan.levels:
        labeler = make_labeler(level, molecule, folder)
        description["levels"][level] = labeler.description
        write_json_atomically(folder / "dataset.json", description)
        if level in CHEAP_LEVELS:
            targets, chunk_size = np.arange(len(positions)), len(positions)
        else:
            targets = evenly_spaced_frames(len(positions), plan.accurate_frames)
            chunk_size = plan.accurate_chunk_size
        label_in_chunks(labeler, positions, targets, folder / "labels" / level, chunk_size,
                        progress)
        write_card(folder)


def _molecule(plan: GenerationPlan):
    """The RDKit molecule to sample: from the SMILES, or from the xyz file's first frame."""
    if plan.xyz is None:
        return build_molecule(plan.smiles, seed=plan.sampling.seed)
    frames = read_ase(plan.xyz)
    return molecule_from_geometry(frames.atomic_numbers, frames.positions[0],
                                  source=str(plan.xyz))


def _sample(folder: Path, plan: GenerationPlan, molecule, progress: bool) -> None:
    trajectory = run_langevin(atomic_numbers_of(molecule), positions_of(molecule), plan.sampling,
                              progress)
    write_npz_atomically(folder / "trajectory.npz", atomic_numbers=trajectory.atomic_numbers,
                         positions=trajectory.positions)
    sampling = asdict(plan.sampling) | {
        "method": "Langevin MD, GFN2-xTB (tblite) through ASE",
        "cpu_seconds_per_frame": trajectory.cpu_seconds_per_frame,
    }
    write_json_atomically(folder / "dataset.json", {
        "molecule": plan.molecule,
        "smiles": plan.smiles if plan.xyz is None else smiles_of(molecule),
        "units": {"energy": "kcal/mol", "length": "Angstrom", "force": "kcal/mol/Angstrom"},
        "sampling": sampling,
        "levels": {},
    })
