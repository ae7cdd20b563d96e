"""A trained force field as one TorchScript file that plain PyTorch loads, for use elsewhere.

The file computes energy (kcal/mol) and forces (kcal/mol/Angstrom, -dE/dx) of one molecule
from its positions (n_atoms, 3) in Angstrom; the atomic numbers are fixed inside it, so it
needs neither this package nor torch-geometric nor a config:

    energy_and_forces = torch.jit.load("ethanol.torchscript.pt")
    energy, forces = energy_and_forces(positions)   # shapes (1,) and (n_atoms, 3)

The energy is traced for the molecule (the graph of a model without a cutoff connects every
pair of atoms, so it does not change with the geometry); forces come from autograd inside a
scripted wrapper. A model with a cutoff has neighbour lists that change with the geometry,
which a trace would freeze: those are refused (use ``harness.md.calculator.load_calculator``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from harness.errors import ConfigError
from models import ForceField


class _MoleculeEnergy(nn.Module):
    """The model's energy for one molecule whose atomic numbers are fixed."""

    def __init__(self, model: ForceField, atomic_numbers: Tensor) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("atomic_numbers", atomic_numbers)
        self.register_buffer("batch", torch.zeros_like(atomic_numbers))

    def forward(self, positions: Tensor) -> Tensor:
        return self.model(self.atomic_numbers, positions, self.batch, 1)


class EnergyAndForces(nn.Module):
    """Energy and forces -dE/dx of the traced energy, in one scripted call."""

    def __init__(self, energy: nn.Module) -> None:
        super().__init__()
        self.energy = energy

    def forward(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        positions = positions.detach().requires_grad_(True)
        energy = self.energy(positions)
        gradient = torch.autograd.grad([energy.sum()], [positions])[0]
        assert gradient is not None
        return energy.detach(), -gradient


def check_exportable(model: ForceField, source: str) -> None:
    """Refuse models whose graph depends on the geometry (a trace would freeze it)."""
    cutoff = getattr(model, "cutoff", None)
    if cutoff is not None:
        raise ConfigError(source, "model", f"'{model.registry_name}' uses a {cutoff:g} A cutoff: "
                          "its neighbour lists change with the geometry, which a TorchScript "
                          "trace would freeze; use harness.md.calculator.load_calculator")


def molecule_of(config: dict, geometry: str | None, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Atomic numbers and one geometry to trace with: the first frame of ``geometry`` (any
    file or dataset folder the harness reads), else of the model's own accurate training data."""
    if geometry is not None:
        from harness.data.readers import load_any

        frames = next(iter(load_any(geometry).levels.values()))
    else:
        from harness.train.config import LevelSource
        from harness.train.experiment import load_level

        accurate = config.get("data", {}).get("accurate")
        if not accurate:
            raise ConfigError(source, "config.data.accurate",
                              "the model does not say what it was trained on: pass --geometry")
        frames = load_level(LevelSource(**accurate), source, "data.accurate")
    return frames.atomic_numbers, frames.positions[0]


def export_torchscript(model: ForceField, atomic_numbers: np.ndarray, example: np.ndarray,
                       path: Path, source: str = "<model>") -> Path:
    """Write ``model`` for the molecule ``atomic_numbers`` to ``path`` (written whole or not
    at all); ``example`` is one geometry (n_atoms, 3) in Angstrom to trace with."""
    check_exportable(model, source)
    parameter = next(model.parameters())
    numbers = torch.as_tensor(np.asarray(atomic_numbers), dtype=torch.long,
                              device=parameter.device)
    positions = torch.as_tensor(np.asarray(example), dtype=parameter.dtype,
                                device=parameter.device)
    with warnings.catch_warnings():
        # the trace warns of the fixed atom count, which it is; torch 2.13 calls TorchScript
        # deprecated, but torch.export cannot yet follow the data-dependent graph building
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        energy = torch.jit.trace(_MoleculeEnergy(model, numbers), (positions,),
                                 check_trace=False)
        scripted = torch.jit.script(EnergyAndForces(energy))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    scripted.save(str(partial))
    partial.replace(path)
    return path
