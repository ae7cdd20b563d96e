"""sGDML models at the MD boundary, through sGDML's own ASE calculator.

The harness trains sGDML in kcal/mol and Angstrom (``harness.baselines.sgdml``) and sGDML's
model keeps the units it was trained in, so energies and forces are converted to eV and
eV/Angstrom by ``KCAL_PER_MOL_IN_EV``, given to sGDML's calculator explicitly.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.calculator import all_changes

from harness.data.units import KCAL_PER_MOL_IN_EV
from harness.errors import ConfigError
from harness.sgdml_package import sgdml_ase_calculator

SGDMLCalculator = sgdml_ase_calculator()
# It warns on every construction to pass the conversion factors, which this module does.
logging.getLogger(SGDMLCalculator.__module__).setLevel(logging.ERROR)


class SgdmlModelCalculator(SGDMLCalculator):
    """sGDML's calculator of the model in ``model_path``, with ``ForceFieldCalculator``'s
    results: the energy a float (sGDML gives an array of one, which numpy 2.4's ``float``
    refuses), ``free_energy`` too; and a periodic cell or a molecule other than the model's is
    an error, not a wrong answer.
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, model_path: Path, **kwargs) -> None:
        super().__init__(str(model_path), E_to_eV=KCAL_PER_MOL_IN_EV,
                         F_to_eV_Ang=KCAL_PER_MOL_IN_EV, **kwargs)
        with np.load(model_path, allow_pickle=True) as model:
            self.atomic_numbers = np.asarray(model["z"])
        self.model_path = Path(model_path)

    def calculate(self, atoms: Atoms | None = None, properties: list[str] | None = None,
                  system_changes: list[str] = all_changes) -> None:
        atoms = atoms if atoms is not None else self.atoms
        if atoms.pbc.any():
            raise ConfigError(str(self.model_path), "atoms.pbc",
                              "the model describes an isolated molecule: use pbc=False")
        if not np.array_equal(atoms.get_atomic_numbers(), self.atomic_numbers):
            raise ConfigError(str(self.model_path), "atoms.numbers",
                              f"{atoms.get_atomic_numbers().tolist()} is not the model's "
                              f"molecule {self.atomic_numbers.tolist()}")
        super().calculate(atoms, properties or ["energy"], system_changes)
        energy = float(np.asarray(self.results["energy"]).item())
        self.results = {"energy": energy, "free_energy": energy,
                        "forces": self.results["forces"]}
