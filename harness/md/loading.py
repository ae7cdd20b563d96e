"""Trained models back for MD from a run folder, its model file, or an MLflow run id.

``harness train`` writes the model file (``harness.model_file``) into the run folder and logs
it as an MLflow artifact; both routes read it with ``harness.model_file.load_model``.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness import model_file
from harness.errors import ConfigError, DataError
from harness.mlflow_record import Artifacts
from harness.model_file import MODEL_FILE
from models import ForceField

MLFLOW_RUN_ID = re.compile(r"^(?:runs:/)?([0-9a-f]{32})/?$")


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


def load_model(source: str | Path, dtype: torch.dtype = torch.float64,
               device: str | torch.device = "cpu", tracking_uri: str | None = None
               ) -> LoadedModel:
    """``source``: a run folder, its model file, or an MLflow run id (32 hex digits,
    optionally as ``runs:/ID``) whose model file artifact is downloaded."""
    path = Path(source)
    if path.exists():
        file_path = model_file.model_path(path) if path.is_dir() else path
        if not file_path.is_file():
            raise DataError(str(path), MODEL_FILE,
                            "missing: not a finished training run (run `harness train` first)")
        run_id_path = file_path.parent / Artifacts.RUN_ID_FILE
        run_id = run_id_path.read_text().strip() if run_id_path.exists() else None
        return _loaded(file_path, str(file_path), run_id, dtype, device)
    match = MLFLOW_RUN_ID.match(str(source).strip())
    if match is None:
        raise ConfigError(str(source), "model",
                          f"no such run folder or {MODEL_FILE}, and not an MLflow run id "
                          "(32 hex digits, or runs:/ID)")
    run_id = match.group(1)
    with tempfile.TemporaryDirectory() as folder:
        file_path = _download_model_file(run_id, tracking_uri, Path(folder))
        return _loaded(file_path, f"runs:/{run_id}/{MODEL_FILE}", run_id, dtype, device)


def _download_model_file(run_id: str, tracking_uri: str | None, folder: Path) -> Path:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from harness.train.tracking import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one tiny file
    try:
        return Path(MlflowClient(tracking_uri=uri).download_artifacts(run_id, MODEL_FILE,
                                                                      str(folder)))
    except (MlflowException, OSError) as error:
        raise ConfigError(f"runs:/{run_id}", MODEL_FILE,
                          f"cannot download from the tracking store {uri}: "
                          f"{str(error).splitlines()[0]}") from None


def _loaded(path: Path, source: str, run_id: str | None, dtype: torch.dtype,
            device: str | torch.device) -> LoadedModel:
    stored = model_file.load_model(path, source)
    return LoadedModel(model=prepare_for_inference(stored.model, dtype, device), source=source,
                       config=stored.config, run_id=run_id)


def prepare_for_inference(model: ForceField, dtype: torch.dtype, device: str | torch.device
                          ) -> ForceField:
    """The model in eval mode on ``device`` in ``dtype``, with no parameter gradients (MD only
    differentiates with respect to positions, and skipping weight gradients saves time)."""
    return model.to(device=torch.device(device), dtype=dtype).eval().requires_grad_(False)
