"""The molecule that the embedded dataset samples, with one atom order used everywhere.

The atom order of the RDKit molecule built here is the order of every frame, of the xTB
trajectory, of the MMFF94 and GAFF2 topologies and of the CCSD inputs. For ethanol
("CCO" with explicit hydrogens) it is C, C, O, H x 6, the same order as MD17's ethanol.
"""

from __future__ import annotations

import numpy as np


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


def bonds_of(molecule) -> set[tuple[int, int]]:
    """Bonded atom pairs (i < j) in the molecule's atom order."""
    return {
        tuple(sorted((bond.GetBeginAtomIdx(), bond.GetEndAtomIdx())))
        for bond in molecule.GetBonds()
    }
