"""Trained models back from a run folder, its ``model.pt``, or an MLflow run id.

``harness train`` writes ``model.pt`` = {"state_dict", "model", "hyperparameters", "config"}
into the run folder and logs it as an MLflow artifact; both routes rebuild the model from the
registry by name and hyper-parameters and load the weights.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness.errors import ConfigError, DataError
from harness.md.calculator import prepare_for_inference
from harness.mlflow_record import Artifacts
from harness.train.experiment import RUN_ID_FILE
from models import ForceField, build_model

MLFLOW_RUN_ID = re.compile(r"^(?:runs:/)?([0-9a-f]{32})/?$")
CHECKPOINT_KEYS = ("state_dict", "model", "hyperparameters")


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
    """``source``: a run folder, a ``model.pt`` file, or an MLflow run id (32 hex digits,
    optionally as ``runs:/ID``) whose ``model.pt`` artifact is downloaded."""
    path = Path(source)
    if path.exists():
        checkpoint_path = path / Artifacts.MODEL if path.is_dir() else path
        if not checkpoint_path.is_file():
            raise DataError(str(path), Artifacts.MODEL,
                            "missing: not a finished training run (run `harness train` first)")
        run_id_path = checkpoint_path.parent / RUN_ID_FILE
        run_id = run_id_path.read_text().strip() if run_id_path.exists() else None
        return _from_checkpoint(checkpoint_path, str(checkpoint_path), run_id, dtype, device)
    match = MLFLOW_RUN_ID.match(str(source).strip())
    if match is None:
        raise ConfigError(str(source), "model",
                          "no such run folder or model.pt, and not an MLflow run id "
                          "(32 hex digits, or runs:/ID)")
    run_id = match.group(1)
    with tempfile.TemporaryDirectory() as folder:
        checkpoint_path = _download_checkpoint(run_id, tracking_uri, Path(folder))
        return _from_checkpoint(checkpoint_path, f"runs:/{run_id}/{Artifacts.MODEL}", run_id, dtype,
                                device)


def _download_checkpoint(run_id: str, tracking_uri: str | None, folder: Path) -> Path:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from harness.train.tracking import resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one tiny file
    try:
        return Path(MlflowClient(tracking_uri=uri).download_artifacts(run_id, Artifacts.MODEL,
                                                                      str(folder)))
    except (MlflowException, OSError) as error:
        raise ConfigError(f"runs:/{run_id}", Artifacts.MODEL,
                          f"cannot download from the tracking store {uri}: "
                          f"{str(error).splitlines()[0]}") from None


def _from_checkpoint(path: Path, source: str, run_id: str | None, dtype: torch.dtype,
                     device: str | torch.device) -> LoadedModel:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a corrupt or foreign file
        raise DataError(source, Artifacts.MODEL, f"not a readable checkpoint ({error})") from None
    if not isinstance(checkpoint, dict):
        raise DataError(source, Artifacts.MODEL, "expected a mapping")
    for key in CHECKPOINT_KEYS:
        if key not in checkpoint:
            raise DataError(source, key, "missing from the checkpoint")
    model = build_model(checkpoint["model"], checkpoint["hyperparameters"], source)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise DataError(source, "state_dict",
                        f"does not fit model '{checkpoint['model']}': "
                        f"{str(error).splitlines()[0]}") from None
    return LoadedModel(model=prepare_for_inference(model, dtype, device), source=source,
                       config=dict(checkpoint.get("config") or {}), run_id=run_id)
