"""ANI-1ccx (Smith et al. 2019) from local weights, zero-shot and fine-tuned per molecule.

torchani fetches the ANI-1ccx weights at first use, which a machine without internet cannot;
here they come from ``baselines.ani.weights_path``: either a torchani state dict of the
8-network ensemble (the ``ani1ccx_state_dict.pt`` torchani caches) or the NeuroChem release
(``ani-1ccx_8x.info`` beside its ``ani-1ccx_8x/`` folder, as in the ASE_ANI repository's
``ani_models``). Where no place is named, torchani's own download is tried; offline, that
is the one-line error saying where to put the weights.

The network is wrapped as a ``ForceField`` whose energy is ANI's (Hartree) times 627.5
kcal/mol per Hartree plus per-element offsets, so that the engine's prediction (forces by
autograd), fine-tuning and saving apply unchanged. ANI-1ccx's energy zero (CCSD(T)*/CBS
energies minus its atomic self energies) is not the accurate level's, so the offsets are fitted
by least squares on the accurate training frames before anything is measured (for one molecule
that is one constant); forces are untouched. ``ani1ccx_finetuned`` then trains every network
on the accurate training frames under ``baselines.ani.fine_tune`` (paper App. A.4).
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor, nn

from harness.data.frames import FrameSet
from harness.data.units import ENERGY_TO_KCAL_PER_MOL
from harness.errors import UNKNOWN_CONFIG, ConfigError, DataError
from harness.train.batching import FrameBatches
from harness.train.methods import (
    MethodContext,
    MethodOutcome,
    Splits,
    align_energy_zero,
    graphs,
    run_stage,
    supervised_loss,
    validation_loss,
)
from harness.train.trainer import StageResult, evaluate_loss
from models.base import ForceField

WEIGHTS_KEY = "baselines.ani.weights_path"
WEIGHTS_ENV = "HARNESS_ANI1CCX_WEIGHTS"  # used where the config names no weights
STATE_DICT_FILE = "ani1ccx_state_dict.pt"
NEUROCHEM_INFO_FILE = "ani-1ccx_8x.info"
ENSEMBLE_SIZE = 8
ANI_ATOMIC_NUMBERS = (1, 6, 7, 8)  # H, C, N, O: the elements ANI-1ccx was trained on
HARTREE_IN_KCAL_PER_MOL = ENERGY_TO_KCAL_PER_MOL["hartree"]
WHERE_TO_PUT_WEIGHTS = (
    f"torchani downloads the ANI-1ccx weights at first use, which this machine cannot; put "
    f"torchani's {STATE_DICT_FILE}, or the NeuroChem release ({NEUROCHEM_INFO_FILE} with its "
    f"ani-1ccx_8x/ folder, from the ASE_ANI repository's ani_models/), in a folder such as "
    f"../shared/data/ani1ccx/ and set {WEIGHTS_KEY} (or ${WEIGHTS_ENV}) to that folder or "
    f"file")


def torchani_modules() -> tuple[Any, Any, Any]:
    """torchani's ``arch``, ``models`` and ``neurochem`` modules, imported without its warning
    that the optional compiled extensions (CUDA AEV, cell list) are absent."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The extensions")
        from torchani import arch, models, neurochem
    return arch, models, neurochem


def ani1ccx_architecture() -> nn.Module:
    """The ANI-1ccx ensemble (8 ANI-1x networks, CCSD(T)*/CBS self energies), untrained."""
    arch, models, _ = torchani_modules()
    assembler = arch.Assembler(periodic_table_index=True)
    assembler.set_symbols(models.SYMBOLS_1X)
    assembler.set_global_cutoff_fn("cosine")
    assembler.set_aev_computer(radial="ani1x", angular="ani1x", strategy="pyaev")
    assembler.set_atomic_networks(ctor="ani1x")
    assembler.set_neighborlist("all_pairs")
    assembler.set_gsaes_as_self_energies("ccsd(t)star-cbs")
    return assembler.assemble(ENSEMBLE_SIZE)


def resolve_weights(weights_path: str | None) -> Path:
    """The state dict or NeuroChem info file that ``weights_path`` names (file or folder),
    else ``$HARNESS_ANI1CCX_WEIGHTS``, else torchani's own download (``downloaded_weights``).
    A place that is named but holds no weights is an error, never a download."""
    weights_path = weights_path or os.environ.get(WEIGHTS_ENV) or None
    if weights_path is None:
        downloaded = downloaded_weights()
        if downloaded is None:
            raise ConfigError(UNKNOWN_CONFIG, WEIGHTS_KEY,
                              f"not set, and torchani could not download them: "
                              f"{WHERE_TO_PUT_WEIGHTS}")
        return downloaded
    path = Path(weights_path)
    if path.is_dir():
        candidates = [path / STATE_DICT_FILE, path / NEUROCHEM_INFO_FILE]
        found = [candidate for candidate in candidates if candidate.is_file()]
        if not found:
            raise ConfigError(UNKNOWN_CONFIG, WEIGHTS_KEY,
                              f"the folder '{path}' holds neither {STATE_DICT_FILE} nor "
                              f"{NEUROCHEM_INFO_FILE}: {WHERE_TO_PUT_WEIGHTS}")
        return found[0]
    if not path.is_file():
        raise ConfigError(UNKNOWN_CONFIG, WEIGHTS_KEY,
                          f"no ANI-1ccx weights at '{path}' (relative to {Path.cwd()}): "
                          f"{WHERE_TO_PUT_WEIGHTS}")
    return path


def torchani_cache() -> Path:
    """Where torchani keeps the state dict it downloads."""
    torchani_modules()  # torchani imported quietly
    from torchani.paths import state_dicts_dir

    return state_dicts_dir() / STATE_DICT_FILE


def fetch_with_torchani() -> None:
    """torchani's own download of the ANI-1ccx weights into ``torchani_cache()``."""
    _, models, _ = torchani_modules()
    models.ANI1ccx()


def downloaded_weights() -> Path | None:
    """torchani's cached state dict, downloaded first where the machine has internet; None
    where it has not (the caller then says where to put the weights)."""
    cached = torchani_cache()
    if not cached.is_file():
        try:
            fetch_with_torchani()
        except (OSError, RuntimeError):  # no network, a blocked host, a broken download
            return None
    return cached if cached.is_file() else None


def load_state_dict_weights(path: Path) -> nn.Module:
    import torch

    model = ani1ccx_architecture()
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, OSError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise ConfigError(UNKNOWN_CONFIG, WEIGHTS_KEY,
                          f"'{path}' is not a torchani ANI-1ccx state dict: "
                          f"{str(error).splitlines()[0]}") from None
    return model


def load_neurochem_weights(info_file: Path) -> nn.Module:
    """The NeuroChem release, its paths read relative to the info file's folder.

    (torchani's own reader resolves them in its download cache instead.)
    """
    arch, _, neurochem = torchani_modules()
    lines = [line.strip() for line in info_file.read_text().splitlines()][:4]
    if len(lines) != 4 or not lines[3].isdigit():
        raise ConfigError(UNKNOWN_CONFIG, WEIGHTS_KEY,
                          f"'{info_file}' is not a NeuroChem info file (expected 4 lines: "
                          "constants file, self-energy file, network prefix, network count)")
    folder = info_file.parent
    info = neurochem.NeurochemInfo(sae=folder / lines[1], const=folder / lines[0],
                         ensemble_prefix=folder / lines[2], ensemble_size=int(lines[3]))
    try:
        aev_computer, networks, self_energies, symbols = neurochem.modules_from_info(info)
    except (OSError, ValueError, RuntimeError) as error:
        raise ConfigError(UNKNOWN_CONFIG, WEIGHTS_KEY,
                          f"cannot read the NeuroChem release at '{info_file}': {error}") from None
    return arch.ANI(symbols, aev_computer, networks, self_energies, periodic_table_index=True)


def load_ani1ccx(path: Path, model_index: int | None = None) -> nn.Module:
    """ANI-1ccx from ``resolve_weights``'s file: the ensemble, or its ``model_index``-th net."""
    model = (load_neurochem_weights(path) if path.suffix == ".info"
             else load_state_dict_weights(path))
    if model_index is None:
        return model
    if model_index >= len(model):
        raise ConfigError(UNKNOWN_CONFIG, "baselines.ani.model_index",
                          f"the ensemble at '{path}' has {len(model)} networks "
                          f"(0..{len(model) - 1})")
    return model[model_index]


class AniForceField(ForceField):
    """An ANI network as a ``ForceField``: raw energy in Hartree, ``energy_scale`` converts.

    Batches hold frames of one molecule (as everywhere in the engine), so atoms are reshaped
    into ANI's (molecules, atoms) layout.
    """

    registry_name = "ani1ccx"

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.hyperparameters: dict = {}
        self.energy_scale.fill_(HARTREE_IN_KCAL_PER_MOL)

    def raw_energy(self, atomic_numbers: Tensor, positions: Tensor, batch: Tensor,
                   n_molecules: int) -> Tensor:
        species = atomic_numbers.view(n_molecules, -1)
        return self.network((species, positions.view(n_molecules, -1, 3))).energies


def require_ani_elements(frames: FrameSet) -> None:
    unknown = sorted(set(frames.atomic_numbers.tolist()) - set(ANI_ATOMIC_NUMBERS))
    if unknown:
        raise DataError(frames.source, "atomic_numbers",
                        f"ANI-1ccx covers H, C, N and O only; the molecule has atomic numbers "
                        f"{unknown}")


def evaluation_stage(context: MethodContext, name: str, model: ForceField,
                     validation: FrameSet) -> StageResult:
    """The validation loss of a model that is not trained (the zero-shot measurement)."""
    batches = FrameBatches(graphs(context, validation), context.device).in_order(
        context.config.schedules.accurate.evaluation_batch_size)
    loss = evaluate_loss(model, validation_loss(context.config), batches)
    return StageResult(name=name, best_validation_loss=loss, best_record=0, steps=0,
                       stopped_by="not trained")


def ani1ccx(context: MethodContext, splits: Splits, fine_tuned: bool) -> MethodOutcome:
    """ANI-1ccx zero-shot, or fine-tuned on the accurate training frames."""
    config = context.config
    settings = config.baselines.ani
    require_ani_elements(splits.accurate_train)
    weights = resolve_weights(settings.weights_path)
    network = load_ani1ccx(weights, settings.model_index)
    model = AniForceField(network).to(device=context.device, dtype=context.dtype)
    align_energy_zero(model, splits.accurate_train, context)
    stages = [evaluation_stage(context, "ani1ccx_zero_shot", model, splits.validation)]
    if fine_tuned:
        stages.append(run_stage(context, "ani1ccx_fine_tune", model, settings.fine_tune,
                                supervised_loss(config), splits.accurate_train,
                                splits.validation))
    details = {"weights": str(weights),
               "model_index": settings.model_index, "fine_tuned": fine_tuned,
               "zero_shot_validation_loss": stages[0].best_validation_loss,
               "energy_offset_kcal_per_mol": float(np.dot(
                   np.bincount(splits.accurate_train.atomic_numbers,
                               minlength=model.max_atomic_number + 1),
                   model.atomic_energy_shift.detach().cpu().double().numpy()))}
    return MethodOutcome(model, graphs(context, splits.test), stages, details,
                         model_name="ani1ccx")
