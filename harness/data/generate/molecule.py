"""The molecule that the embedded dataset samples, with one atom order used everywhere.

The atom order of the RDKit molecule built here is the order of every frame, of the xTB
trajectory, of the MMFF94 and GAFF2 topologies and of the CCSD inputs. For ethanol
("CCO" with explicit hydrogens) it is C, C, O, H x 6, the same order as MD17's ethanol.
"""

from __future__ import annotations

import numpy as np

from harness.errors import DataError


def build_molecule(smiles: str, seed: int = 0):
    """An RDKit molecule with explicit hydrogens and one embedded 3D conformer (Angstrom)."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    molecule = Chem.AddHs(Chem.MolFromSmiles(smiles))
    if AllChem.EmbedMolecule(molecule, randomSeed=seed) != 0:
        raise RuntimeError(f"RDKit could not embed a conformer for {smiles!r}")
    AllChem.MMFFOptimizeMolecule(molecule)
    return molecule


def atomic_numbers_of(molecule) -> np.ndarray:
    return np.array([atom.GetAtomicNum() for atom in molecule.GetAtoms()], dtype=np.int64)


def positions_of(molecule) -> np.ndarray:
    return np.array(molecule.GetConformer().GetPositions(), dtype=np.float64)


def smiles_of(molecule) -> str:
    """The canonical SMILES (hydrogens implicit), for data cards; it does not fix atom order."""
    from rdkit import Chem

    return Chem.MolToSmiles(Chem.RemoveHs(molecule))


def bonds_of(molecule) -> set[tuple[int, int]]:
    """Bonded atom pairs (i < j) in the molecule's atom order."""
    return {
        tuple(sorted((bond.GetBeginAtomIdx(), bond.GetEndAtomIdx())))
        for bond in molecule.GetBonds()
    }


def molecule_from_geometry(atomic_numbers: np.ndarray, positions: np.ndarray, charge: int = 0,
                           source: str = "<geometry>"):
    """An RDKit molecule whose atom i is atom i of the geometry (Angstrom), with the bonds and
    bond orders that RDKit's ``DetermineBonds`` finds for the total ``charge``.

    Unlike a SMILES, this keeps a data file's atom order, so a topology built on it (MMFF94,
    GAFF2) labels the file's atoms as they are listed.
    """
    from rdkit.Chem import rdDetermineBonds

    molecule = _molecule_without_bonds(atomic_numbers, positions)
    try:
        rdDetermineBonds.DetermineBonds(molecule, charge=charge)
    except ValueError as error:
        raise DataError(source, "positions", f"RDKit cannot determine the bonds of this "
                        f"geometry at total charge {charge} ({error}); check the atoms and "
                        "the charge") from error
    return molecule


def connectivity_of(atomic_numbers: np.ndarray, positions: np.ndarray) -> set[tuple[int, int]]:
    """Bonded atom pairs (i < j) found from interatomic distances alone (no bond orders)."""
    from rdkit.Chem import rdDetermineBonds

    molecule = _molecule_without_bonds(atomic_numbers, positions)
    rdDetermineBonds.DetermineConnectivity(molecule)
    return bonds_of(molecule)


def _molecule_without_bonds(atomic_numbers: np.ndarray, positions: np.ndarray):
    """Atoms in the given order with one conformer (Angstrom) and no bonds yet."""
    from rdkit import Chem
    from rdkit.Geometry import Point3D

    editable = Chem.RWMol()
    for atomic_number in atomic_numbers:
        editable.AddAtom(Chem.Atom(int(atomic_number)))
    conformer = Chem.Conformer(len(atomic_numbers))
    for index, (x, y, z) in enumerate(np.asarray(positions, dtype=np.float64)):
        conformer.SetAtomPosition(index, Point3D(float(x), float(y), float(z)))
    molecule = editable.GetMol()
    molecule.AddConformer(conformer, assignId=True)
    return molecule
