"""Trained models at the MD boundary, in ASE's units: energies in eV, forces in eV/Angstrom.

``ReplicaForces`` evaluates R copies of one molecule in a single model call (the batched
integrator's force field); ``ForceFieldCalculator`` is the ASE ``Calculator`` built on it, so
that a trained network runs in any ASE workflow. The networks compute kcal/mol and
kcal/mol/Angstrom; this module is the one place that converts them. ``load_calculator`` is the
one entry point that gives the calculator of any trained model, sGDML's included (sGDML's own
calculator, ``harness.md.sgdml_calculator``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes
from torch import Tensor

from harness.data.units import KCAL_PER_MOL_IN_EV
from harness.errors import ConfigError
from harness.md.loading import load_network, model_file_of, prepare_for_inference
from models.base import ForceField, energy_and_forces


class ReplicaForces:
    """Energies (R,) in eV and forces (R, n_atoms, 3) in eV/Angstrom of R replicas of a molecule.

    Positions come in as float64 Angstrom of shape (R, n_atoms, 3) on any device; the model runs
    in its own dtype and device and the results come back as float64 on the positions' device.
    The replicas form one torch_geometric-style batch, so the model is called once per step
    whatever R is.
    """

    def __init__(self, model: ForceField, atomic_numbers: np.ndarray) -> None:
        self.model = model
        parameter = next(iter(model.buffers()))
        self.dtype, self.device = parameter.dtype, parameter.device
        self.atomic_numbers = torch.as_tensor(np.asarray(atomic_numbers), dtype=torch.long,
                                              device=self.device)

    @property
    def n_atoms(self) -> int:
        return len(self.atomic_numbers)

    def __call__(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        n_replicas = positions.shape[0]
        flat = positions.reshape(-1, 3).to(device=self.device, dtype=self.dtype)
        numbers = self.atomic_numbers.repeat(n_replicas)
        batch = torch.arange(n_replicas, device=self.device).repeat_interleave(self.n_atoms)
        with torch.enable_grad():
            energies, forces = energy_and_forces(self.model, numbers, flat.detach(), batch,
                                                 n_replicas)
        energies_ev = energies.detach().to(device=positions.device, dtype=torch.float64)
        forces_ev = forces.detach().to(device=positions.device, dtype=torch.float64)
        return (energies_ev * KCAL_PER_MOL_IN_EV,
                forces_ev.reshape(positions.shape) * KCAL_PER_MOL_IN_EV)


class ForceFieldCalculator(Calculator):
    """An ASE calculator for any trained harness model (isolated molecules, no cell).

    ``get_potential_energy`` returns eV and ``get_forces`` eV/Angstrom, as every ASE calculator
    does. ``dtype`` float64 is the choice for energy conservation tests; float32 is faster.
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model: ForceField, dtype: torch.dtype = torch.float64,
                 device: str | torch.device = "cpu", **kwargs) -> None:
        super().__init__(**kwargs)
        self.model = prepare_for_inference(model, dtype, device)
        self._forces: ReplicaForces | None = None

    def calculate(self, atoms: Atoms | None = None, properties: list[str] | None = None,
                  system_changes: list[str] = all_changes) -> None:
        super().calculate(atoms, properties or ["energy"], system_changes)
        if self.atoms.pbc.any():
            raise ConfigError("ForceFieldCalculator", "atoms.pbc",
                              "the models describe isolated molecules: use pbc=False")
        numbers = self.atoms.get_atomic_numbers()
        if self._forces is None or not np.array_equal(self._forces.atomic_numbers.cpu().numpy(),
                                                      numbers):
            self._forces = ReplicaForces(self.model, numbers)
        positions = torch.as_tensor(self.atoms.get_positions(), dtype=torch.float64)
        energies, forces = self._forces(positions.unsqueeze(0))
        energy = float(energies[0])
        self.results = {"energy": energy, "free_energy": energy,
                        "forces": forces[0].cpu().numpy()}


def load_calculator(source: str | Path, dtype: torch.dtype = torch.float64,
                    device: str | torch.device = "cpu", tracking_uri: str | None = None
                    ) -> Calculator:
    """The ASE calculator (eV, eV/Angstrom) of any trained model: a ``ForceFieldCalculator``
    for a network, sGDML's own calculator for an sGDML model (``dtype`` and ``device`` apply to
    networks only). ``source``: a run folder, its model file (``model.pt`` or sGDML's
    ``.npz``), or an MLflow run id (``runs:/ID``)."""
    with model_file_of(source, tracking_uri) as found:
        if found.is_sgdml:
            from harness.md.sgdml_calculator import SgdmlModelCalculator

            return SgdmlModelCalculator(found.path)
        return ForceFieldCalculator(load_network(found, dtype, device).model, dtype, device)
