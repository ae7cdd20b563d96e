"""MACE (Batatia et al. 2022) from the ``mace-torch`` package, as a registered ``ForceField``.

The architecture is mace-torch's own ``mace.modules.MACE`` (its interaction, product-basis and
readout blocks); this file only builds its input and reads its output. MACE's own per-element
reference energies (E0) are zero: ``ForceField``'s fitted shift and scale set the energy zero
and scale, as for every backbone. Its interaction energy per molecule is ``raw_energy``, and
forces come from ``models.base.energy_and_forces`` (MACE is asked for none).

mace-torch is an optional dependency (``pip install -e '.[mace]'``): the name ``"mace"`` is
registered without it, so that configs can name it, and building it without the package is a
``HyperparameterError`` saying how to install it. Nothing is imported from it until a model is
built.

MACE is a GPU backbone: on one CPU thread a small MACE (2 interactions, 32x0e+32x1o,
max_ell 3, correlation 3, 84k parameters) trained at about 14 frames/s on ethanol batches of
32, against about 300 for EGNN 5x128.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.base import ForceField, unpack_batch
from models.errors import HyperparameterError
from models.graph import radius_graph
from models.registry import register_model

PACKAGE = "mace-torch==0.3.16"
INSTALL_HINT = f"pip install -e '.[mace]' (or pip install {PACKAGE})"
# mace-torch sets this variable in os.environ when it is imported (mace/__init__.py), which
# would make every later torch.load of the process default to weights_only=False
FORCE_UNSAFE_LOAD = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


def mace_installed() -> bool:
    """Whether the ``mace`` package can be imported (found, not imported: importing has effects)."""
    return importlib.util.find_spec("mace") is not None


@contextmanager
def e3nn_constants_loadable() -> Iterator[None]:
    """Import e3nn 0.4.4 and mace-torch under torch >= 2.6 without loosening ``torch.load``.

    Why: mace-torch 0.3.16 pins e3nn 0.4.4, whose ``e3nn/o3/_wigner.py`` calls ``torch.load``
    on its ``constants.pt`` at import time without ``weights_only``. Since torch 2.6 that
    defaults to ``weights_only=True``, which refuses the ``slice`` objects the file holds, so
    ``import e3nn.o3`` fails. Inside this context ``slice`` is allow-listed for weights-only
    loading (``torch.serialization.safe_globals``): the file loads with the safe unpickler.
    mace-torch's own import sets ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` for the whole process;
    the variable is put back as it was on leaving, so this project's loads stay weights-only.
    When it can go: once mace-torch allows an e3nn release that no longer unpickles constants
    at import (e3nn's current sources compute the Wigner symbols in code) and stops setting
    the variable. Checked with mace-torch 0.3.16, e3nn 0.4.4 and torch 2.13.
    """
    saved = os.environ.get(FORCE_UNSAFE_LOAD)
    try:
        with torch.serialization.safe_globals([slice]), quiet_mace():
            yield
    finally:
        if saved is None:
            os.environ.pop(FORCE_UNSAFE_LOAD, None)
        else:
            os.environ[FORCE_UNSAFE_LOAD] = saved


@contextmanager
def quiet_mace() -> Iterator[None]:
    """mace-torch's chatter kept off stdout (which may carry a command's JSON) and the logs.

    Its import prints that cuequivariance is absent (an optional CUDA accelerator, not used
    here) to stdout: that line goes to stderr. e3nn compiles some of MACE's blocks with
    TorchScript, which warns once per block (deprecated; instance-level annotations): those two
    warnings are dropped.
    """
    with redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The TorchScript type system doesn't support")
        warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")
        yield


def import_mace_modules() -> ModuleType:
    """``mace.modules``, imported through ``e3nn_constants_loadable``; a ``HyperparameterError``
    naming the install command when mace-torch is absent or does not import."""
    if not mace_installed():
        raise HyperparameterError("mace", "model.name",
                                  f"needs the mace-torch package; install it with {INSTALL_HINT}")
    try:
        with e3nn_constants_loadable():
            importlib.import_module("e3nn.o3")  # loads the constants while slice is allowed
            return importlib.import_module("mace.modules")
    except ImportError as error:  # found but broken, e.g. a dependency missing
        raise HyperparameterError("mace", "model.name",
                                  f"mace-torch does not import ({error}); reinstall it with "
                                  f"{INSTALL_HINT}") from error


def _check_positive(key: str, value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise HyperparameterError("mace", f"model.{key}",
                                  f"must be a positive integer; got {value!r}")


def _irreps(key: str, text: str) -> object:
    """e3nn's ``Irreps`` of ``text`` (e3nn is importable once ``import_mace_modules`` ran)."""
    o3 = importlib.import_module("e3nn.o3")
    try:
        return o3.Irreps(text)
    except (ValueError, TypeError) as error:
        raise HyperparameterError("mace", f"model.{key}",
                                  f"not e3nn irreps such as '32x0e + 32x1o': {error}") from error


@register_model("mace")
class MACEForceField(ForceField):
    """mace-torch's MACE: energy = sum of its readouts over ``num_interactions`` layers.

    ``elements``: the atomic numbers the model knows (one-hot node attributes over them);
    others are refused. ``r_max`` (Angstrom): edges join atoms of a molecule closer than it,
    and MACE's polynomial envelope (``num_polynomial_cutoff``) takes messages smoothly to zero
    there. ``num_bessel`` Bessel functions encode distances, fed to a radial MLP of
    ``radial_mlp`` hidden widths; spherical harmonics up to ``max_ell``; node features
    ``hidden_irreps`` (e3nn notation); ``correlation``, the body order of the product basis, per
    layer; ``mlp_irreps``, the hidden width of the last (non-linear, SiLU-gated) readout.
    ``avg_num_neighbors`` divides the message sums; None (the default) fits it, as mace-torch
    does, to the mean number of neighbours within ``r_max`` on the training frames
    (``fit_scaling``, which the trainer calls before training; 8 for ethanol, whose atoms are
    all within 5 A of each other), and 1 until then. It is the buffer ``avg_num_neighbors``,
    saved in the state dict.
    Defaults are mace-torch's own training defaults (2 interactions, 128x0e+128x1o, max_ell 3,
    correlation 3, 8 Bessel functions, envelope exponent 5, radial MLP 64x64x64, readout
    16x0e, cutoff 5 A): a GPU-sized model.
    """

    def __init__(self, max_atomic_number: int = 10, elements: Sequence[int] = (1, 6, 7, 8),
                 r_max: float = 5.0, num_bessel: int = 8, num_polynomial_cutoff: int = 5,
                 max_ell: int = 3, num_interactions: int = 2,
                 hidden_irreps: str = "128x0e + 128x1o", correlation: int = 3,
                 mlp_irreps: str = "16x0e", radial_mlp: Sequence[int] = (64, 64, 64),
                 avg_num_neighbors: float | None = None) -> None:
        super().__init__(max_atomic_number)
        elements = [int(element) for element in elements]
        if not elements or len(set(elements)) != len(elements) or not all(
                1 <= element <= max_atomic_number for element in elements):
            raise HyperparameterError(
                "mace", "model.elements",
                f"must be distinct atomic numbers in 1..max_atomic_number ({max_atomic_number});"
                f" got {elements}")
        for key, value in (("num_bessel", num_bessel),
                           ("num_polynomial_cutoff", num_polynomial_cutoff),
                           ("max_ell", max_ell), ("num_interactions", num_interactions),
                           ("correlation", correlation)):
            _check_positive(key, value)
        for key, value in (("r_max", r_max), ("avg_num_neighbors", avg_num_neighbors)):
            if value is not None and value <= 0:
                raise HyperparameterError("mace", f"model.{key}",
                                          f"must be positive; got {value}")
        modules = import_mace_modules()
        hidden = _irreps("hidden_irreps", hidden_irreps)
        if hidden.count("0e") < 1:
            raise HyperparameterError("mace", "model.hidden_irreps",
                                      f"needs scalar (0e) features; got {hidden_irreps!r}")
        self.cutoff = float(r_max)  # Angstrom; the name other code reads (harness export)
        element_index = torch.full((max_atomic_number + 1,), -1, dtype=torch.long)
        element_index[elements] = torch.arange(len(elements))
        self.register_buffer("element_index", element_index, persistent=False)
        with quiet_mace():
            self.mace = modules.MACE(
                r_max=self.cutoff, num_bessel=num_bessel,
                num_polynomial_cutoff=num_polynomial_cutoff, max_ell=max_ell,
                interaction_cls=modules.RealAgnosticResidualInteractionBlock,
                interaction_cls_first=modules.RealAgnosticResidualInteractionBlock,
                num_interactions=num_interactions, num_elements=len(elements),
                hidden_irreps=hidden, MLP_irreps=_irreps("mlp_irreps", mlp_irreps),
                atomic_energies=np.zeros(len(elements)),
                avg_num_neighbors=1.0, atomic_numbers=elements,
                correlation=correlation, gate=torch.nn.functional.silu,
                radial_MLP=[int(width) for width in radial_mlp])
        self.avg_num_neighbors_given = avg_num_neighbors is not None
        self.register_buffer("avg_num_neighbors", torch.tensor(float(avg_num_neighbors or 1.0)))
        self.register_buffer("avg_num_neighbors_fitted",
                             torch.tensor(avg_num_neighbors is not None))
        self._use_avg_num_neighbors()
        self.register_load_state_dict_post_hook(
            lambda module, incompatible_keys: module._use_avg_num_neighbors())

    def _use_avg_num_neighbors(self) -> None:
        """Hand the buffer's value to MACE's interaction blocks, which keep it as a float."""
        for interaction in self.mace.interactions:
            interaction.avg_num_neighbors = float(self.avg_num_neighbors)

    def fit_scaling(self, batches: Sequence[Any], refit: bool = False) -> bool:
        """Fit ``avg_num_neighbors`` on ``batches`` once (see the class); True if it fitted now.

        ``batches`` as ``models.base.unpack_batch`` takes them. Skipped (False) when the value
        was given as a hyper-parameter, or already fitted (a loaded state dict) unless
        ``refit``.
        """
        if self.avg_num_neighbors_given or (bool(self.avg_num_neighbors_fitted) and not refit):
            return False
        n_edges = n_atoms = 0
        for batch in batches:
            atomic_numbers, positions, molecule, n_molecules = unpack_batch(batch)
            n_edges += radius_graph(positions, molecule, self.cutoff, n_molecules).shape[1]
            n_atoms += len(atomic_numbers)
        if n_atoms == 0:
            return False
        self.avg_num_neighbors.fill_(n_edges / n_atoms)
        self.avg_num_neighbors_fitted.fill_(True)
        self._use_avg_num_neighbors()
        return True

    @classmethod
    def missing_dependency(cls) -> str | None:
        return None if mace_installed() else f"mace-torch: {INSTALL_HINT}"

    def raw_energy(self, atomic_numbers: Tensor, positions: Tensor, batch: Tensor,
                   n_molecules: int) -> Tensor:
        element_index = self.element_index[atomic_numbers]
        if bool((element_index < 0).any()):
            unknown = sorted(set(atomic_numbers[element_index < 0].tolist()))
            raise ValueError(f"mace: atomic numbers {unknown} are not among model.elements")
        edge_index = radius_graph(positions, batch, self.cutoff, n_molecules)
        sizes = torch.bincount(batch, minlength=n_molecules)
        data = {
            "positions": positions.view_as(positions),  # MACE marks it as needing a gradient
            "node_attrs": torch.nn.functional.one_hot(
                element_index, len(self.mace.atomic_numbers)).to(positions.dtype),
            "edge_index": edge_index,
            "shifts": positions.new_zeros((edge_index.shape[1], 3)),  # molecules: no cell
            "unit_shifts": positions.new_zeros((edge_index.shape[1], 3)),
            "cell": positions.new_zeros((3 * n_molecules, 3)),
            "batch": batch,
            "ptr": torch.cat([sizes.new_zeros(1), torch.cumsum(sizes, 0)]),
        }
        return self.mace(data, compute_force=False)["energy"]
