"""Fixed small-molecule geometries (Angstrom) for benchmarks and model tests.

RDKit conformers optimised with MMFF94 and rounded to 1e-3 Angstrom, written out so that
neither benchmarks nor tests need RDKit. Atom orders are those of the molecule's SMILES with
explicit hydrogens (ethanol: C, C, O, H x 6, as in MD17).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Geometry:
    """One configuration of a named molecule: atomic numbers (n_atoms,), positions (n_atoms, 3)."""

    name: str
    atomic_numbers: np.ndarray
    positions: np.ndarray


def _geometry(name: str, atomic_numbers: list[int], positions: list[tuple[float, ...]]
              ) -> Geometry:
    return Geometry(name, np.array(atomic_numbers, dtype=np.int64),
                    np.array(positions, dtype=np.float64))


METHANE = _geometry("methane", [6, 1, 1, 1, 1], [
    (0.000, 0.000, 0.000), (0.531, 0.747, -0.594), (0.719, -0.586, 0.577),
    (-0.559, -0.662, -0.664), (-0.691, 0.501, 0.681),
])

ETHANOL = _geometry("ethanol", [6, 6, 8, 1, 1, 1, 1, 1, 1], [
    (0.901, -0.075, 0.014), (-0.584, -0.368, 0.056), (-1.306, 0.822, 0.340),
    (1.237, 0.351, 0.966), (1.128, 0.663, -0.762), (1.472, -0.985, -0.187),
    (-0.809, -1.098, 0.839), (-0.932, -0.770, -0.900), (-1.107, 1.461, -0.366),
])

# CC(=O)Oc1ccccc1C(=O)O
ASPIRIN = _geometry("aspirin", [6, 6, 8, 8, 6, 6, 6, 6, 6, 6, 6, 8, 8, 1, 1, 1, 1, 1, 1, 1, 1], [
    (3.078, 1.183, -0.840), (2.032, 0.461, -0.044), (2.103, 0.246, 1.159),
    (1.007, 0.069, -0.898), (-0.057, -0.533, -0.220), (-0.103, -1.931, -0.237),
    (-1.153, -2.594, 0.395), (-2.156, -1.863, 1.030), (-2.117, -0.464, 1.029),
    (-1.067, 0.219, 0.396), (-1.034, 1.705, 0.366), (-0.229, 2.411, -0.214),
    (-2.036, 2.259, 1.076), (2.632, 2.043, -1.346), (3.528, 0.500, -1.564),
    (3.858, 1.546, -0.166), (0.678, -2.500, -0.733), (-1.189, -3.681, 0.395),
    (-2.974, -2.380, 1.526), (-2.916, 0.082, 1.525), (-1.883, 3.222, 0.983),
])
