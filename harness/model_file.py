"""The trained-model file, ``model.pt``: its name, what it holds, and the one way to write and
read it; and the name of sGDML's model file, the one model that is not a network.

Training writes it into the run folder (and logs it to MLflow); MD loading, the ASE calculator
and the MD sweep read it back. It is a mapping:

- ``state_dict``: the weights, tensors only, so that it loads with ``weights_only=True``;
- ``model``: the backbone's registry name (``models.build_model``);
- ``hyperparameters``: the backbone's hyper-parameters;
- ``config``: the whole training config, JSON-ready: provenance, not needed to rebuild.

An sGDML run has no ``model.pt``: its model is ``checkpoints/sgdml_model.npz`` in the run
folder (the run's ``sgdml_model.npz`` artifact in MLflow), in sGDML's own format and units
(kcal/mol, Angstrom), written by ``harness.baselines.sgdml`` and read by ``sgdml`` itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness.errors import DataError
from harness.mlflow_record import Artifacts
from models import ForceField, HyperparameterError, build_model

MODEL_FILE = Artifacts.MODEL  # its name in a run folder and among a run's artifacts
SGDML_MODEL_FILE = Artifacts.SGDML_MODEL
REQUIRED_KEYS = ("state_dict", "model", "hyperparameters")


@dataclass(frozen=True)
class StoredModel:
    """A model rebuilt from its file (on the CPU, as built), and its training config."""

    model: ForceField
    config: dict[str, Any]


def model_path(run_folder: str | Path) -> Path:
    """Where a training run folder keeps its model."""
    return Path(run_folder) / MODEL_FILE


def save_model(run_folder: Path, model: ForceField, model_name: str,
               hyperparameters: dict[str, Any], config: dict[str, Any]) -> Path:
    """Write the model into ``run_folder``; atomic, so that a killed run leaves no half file."""
    path = model_path(run_folder)
    temporary = path.with_name(f"{path.name}.tmp")
    torch.save({"state_dict": model.state_dict(), "model": model_name,
                "hyperparameters": hyperparameters, "config": config}, temporary)
    os.replace(temporary, path)
    return path


def load_model(path: Path, source: str | None = None) -> StoredModel:
    """The model saved in ``path``; any problem is one DataError naming ``source`` (the file
    when not given: an MLflow artifact is read from a temporary download)."""
    source = str(path) if source is None else source
    content = _read(path, source)
    try:
        model = build_model(content["model"], content["hyperparameters"])
    except HyperparameterError as error:
        raise DataError(source, error.key_path, error.problem) from None
    try:
        model.load_state_dict(content["state_dict"])
    except RuntimeError as error:
        raise DataError(source, "state_dict",
                        f"does not fit model '{content['model']}': {_first_line(error)}"
                        ) from None
    return StoredModel(model=model, config=dict(content.get("config") or {}))


def _read(path: Path, source: str) -> dict[str, Any]:
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a corrupt or foreign file
        raise DataError(source, MODEL_FILE,
                        f"not a readable model file ({_first_line(error)})") from None
    if not isinstance(content, dict):
        raise DataError(source, MODEL_FILE, "expected a mapping")
    for key in REQUIRED_KEYS:
        if key not in content:
            raise DataError(source, key, f"missing from the {MODEL_FILE}")
    return content


def _first_line(error: BaseException) -> str:
    """Torch's messages run to many lines; a DataError is printed on one."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
