"""Trained models back from a run folder, its model file, or an MLflow run id.

``harness train`` writes the model file (``harness.model_file``) into the run folder and logs
it as an MLflow artifact: ``model.pt`` for a network, ``sgdml_model.npz`` for sGDML.
``model_file_of`` finds it by either route; ``load_model`` rebuilds a network from it for MD.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness import model_file
from harness.errors import ConfigError, DataError
from harness.mlflow_record import Artifacts
from harness.model_file import MODEL_FILE, SGDML_MODEL_FILE
from harness.train.checkpoint import CHECKPOINT_FOLDER, checkpoint_folder
from models import ForceField

MLFLOW_RUN_ID = re.compile(r"^(?:runs:/)?([0-9a-f]{32})/?$")


@dataclass(frozen=True)
class ModelFile:
    """A trained model's file, the source to name in messages, and its MLflow run id."""

    path: Path
    source: str
    run_id: str | None

    @property
    def is_sgdml(self) -> bool:
        return self.path.name.endswith(".npz")


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for MD, with where it came from: its training config and MLflow run id."""

    model: ForceField
    source: str
    config: dict[str, Any]
    run_id: str | None

    @property
    def method(self) -> str:
        return str(self.config.get("method", ""))


@contextmanager
def model_file_of(source: str | Path, tracking_uri: str | None = None) -> Iterator[ModelFile]:
    """The model file of ``source``: a run folder, a model file (``model.pt`` or sGDML's
    ``.npz``), or an MLflow run id (32 hex digits, optionally as ``runs:/ID``) whose model
    artifact is downloaded into a temporary folder, removed when the block ends."""
    path = Path(source)
    if path.exists():
        yield _local_model_file(path)
        return
    match = MLFLOW_RUN_ID.match(str(source).strip())
    if match is None:
        raise ConfigError(str(source), "model",
                          "no such run folder or model file, and not an MLflow run id "
                          "(32 hex digits, or runs:/ID)")
    run_id = match.group(1)
    with tempfile.TemporaryDirectory() as folder:
        file_path = _download_model_file(run_id, tracking_uri, Path(folder))
        yield ModelFile(file_path, f"runs:/{run_id}/{file_path.name}", run_id)


def load_model(source: str | Path, dtype: torch.dtype = torch.float64,
               device: str | torch.device = "cpu", tracking_uri: str | None = None
               ) -> LoadedModel:
    """The network of ``source`` (see ``model_file_of``), ready for MD."""
    with model_file_of(source, tracking_uri) as found:
        return load_network(found, dtype, device)


def load_network(found: ModelFile, dtype: torch.dtype, device: str | torch.device
                 ) -> LoadedModel:
    """The network in ``found``, ready for MD; an sGDML model is refused."""
    if found.is_sgdml:
        raise ConfigError(found.source, "model",
                          f"an sGDML model: MD runs and export take a network's {MODEL_FILE}; "
                          "harness.md.calculator.load_calculator gives its ASE calculator")
    stored = model_file.load_model(found.path, found.source)
    return LoadedModel(model=prepare_for_inference(stored.model, dtype, device),
                       source=found.source, config=stored.config, run_id=found.run_id)


def _local_model_file(path: Path) -> ModelFile:
    run_folder = path if path.is_dir() else path.parent
    run_id_path = run_folder / Artifacts.RUN_ID_FILE
    run_id = run_id_path.read_text().strip() if run_id_path.exists() else None
    if not path.is_dir():
        return ModelFile(path, str(path), run_id)
    for candidate in (model_file.model_path(path), checkpoint_folder(path) / SGDML_MODEL_FILE):
        if candidate.is_file():
            return ModelFile(candidate, str(candidate), run_id)
    raise DataError(str(path), MODEL_FILE,
                    f"missing, and no {CHECKPOINT_FOLDER}/{SGDML_MODEL_FILE}: not a finished "
                    "training run (run `harness train` first)")


def _download_model_file(run_id: str, tracking_uri: str | None, folder: Path) -> Path:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from harness.train.tracking import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one small file
    client = MlflowClient(tracking_uri=uri)
    try:
        logged = {artifact.path for artifact in client.list_artifacts(run_id)}
        name = next((name for name in (Artifacts.MODEL, Artifacts.SGDML_MODEL)
                     if name in logged), None)
        if name is None:
            raise ConfigError(f"runs:/{run_id}", MODEL_FILE,
                              f"not among the run's artifacts, nor {SGDML_MODEL_FILE}: not a "
                              "finished training run")
        return Path(client.download_artifacts(run_id, name, str(folder)))
    except (MlflowException, OSError) as error:
        raise ConfigError(f"runs:/{run_id}", MODEL_FILE,
                          f"cannot download from the tracking store {uri}: "
                          f"{str(error).splitlines()[0]}") from None


def prepare_for_inference(model: ForceField, dtype: torch.dtype, device: str | torch.device
                          ) -> ForceField:
    """The model in eval mode on ``device`` in ``dtype``, with no parameter gradients (MD only
    differentiates with respect to positions, and skipping weight gradients saves time)."""
    return model.to(device=torch.device(device), dtype=dtype).eval().requires_grad_(False)
