"""sGDML (Chmiela et al. 2018) through the ``sgdml`` package, as a method of the engine.

sGDML keeps the units it is given: it is fed the accurate training frames in kcal/mol and
Angstrom and predicts in kcal/mol and kcal/mol/A. Its hyper-parameter search is its own: one
model per kernel length scale of ``baselines.sgdml.sigmas`` (sGDML's default grid 10..90), and
the one with the lowest force RMSE on the validation frames is kept, the rule of
``sgdml select``. The kept model predicts the same test frames as every other method, outside
torch, so the outcome carries its test predictions and its model file (sGDML's own npz format,
readable by ``sgdml.predict.GDMLPredict`` and the ``sgdml`` command line).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from harness.data.frames import FrameSet
from harness.model_file import SGDML_MODEL_FILE
from harness.sgdml_package import sgdml_api
from harness.train.checkpoint import seed_everything
from harness.train.config import LossSettings, SgdmlSettings
from harness.train.methods import MethodContext, MethodOutcome, Splits, graphs, stage_seed
from harness.train.metrics import force_energy_metrics
from harness.train.trainer import StageResult


@contextmanager
def sgdml_trainer(max_processes: int) -> Iterator[Any]:
    """A ``GDMLTrain``, released on exit even when training fails.

    sGDML allows one ``GDMLTrain`` per process, marked by a module global that only the
    instance's finaliser removes; an exception's traceback can keep the instance alive, so the
    mark is removed here, and a later trial in the same worker process can train again.
    """
    trainer_class, _ = sgdml_api()
    import sgdml.train

    trainer = trainer_class(max_processes=max_processes)
    try:
        yield trainer
    finally:
        vars(sgdml.train).pop("glob", None)


def sgdml_dataset(frames: FrameSet) -> dict[str, np.ndarray]:
    """The frames as an sGDML dataset (its npz keys), in kcal/mol and Angstrom."""
    return {"R": frames.positions, "z": frames.atomic_numbers, "E": frames.energies,
            "F": frames.forces, "name": np.array(frames.molecule),
            "theory": np.array(frames.level), "r_unit": np.array("Ang"),
            "e_unit": np.array("kcal/mol")}


def sgdml_predict(model: dict[str, Any], frames: FrameSet, max_processes: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Energies (n_frames,) in kcal/mol and forces (n_frames, n_atoms, 3) in kcal/mol/A."""
    _, predictor_class = sgdml_api()
    predictor = predictor_class(model, max_processes=max_processes, log_level=logging.WARNING)
    energies, forces = predictor.predict(frames.positions.reshape(len(frames), -1))
    return np.asarray(energies, dtype=np.float64), forces.reshape(frames.positions.shape)


def supervised_loss_value(loss: LossSettings, predicted_energies: np.ndarray,
                          predicted_forces: np.ndarray, frames: FrameSet) -> float:
    """Eq. 1 without weights on frames of one molecule: the validation loss of every method."""

    def term(kind: str, difference: np.ndarray) -> float:
        return float(np.mean(np.abs(difference)) if kind == "mae" else np.mean(difference**2))

    return ((1.0 - loss.rho) * term(loss.force_loss, predicted_forces - frames.forces)
            + loss.rho * term(loss.energy_loss, predicted_energies - frames.energies))


def train_sigma_grid(settings: SgdmlSettings, loss: LossSettings, train: FrameSet,
                     validation: FrameSet) -> tuple[list[dict[str, Any]], list[dict[str, float]]]:
    """One sGDML model per sigma on all of ``train``; each model's validation record."""
    models, records = [], []
    with sgdml_trainer(settings.max_processes) as trainer:
        # The whole of each dataset is taken (sGDML samples subsets only when asked for fewer).
        template = trainer.create_task(
            sgdml_dataset(train), len(train), sgdml_dataset(validation), len(validation),
            sig=settings.sigmas[0], lam=settings.regularisation,
            use_sym=settings.use_symmetries, use_E=True,
            use_E_cstr=settings.energy_constraints)
        for index, sigma in enumerate(settings.sigmas):
            model = trainer.train({**template, "sig": sigma})
            energies, forces = sgdml_predict(model, validation, settings.max_processes)
            errors = force_energy_metrics(energies, forces, validation.energies,
                                          validation.forces)
            models.append(model)
            records.append({
                "epoch": float(index), "sigma": float(sigma),
                "validation_loss": supervised_loss_value(loss, energies, forces, validation),
                **{f"validation_{name}": value for name, value in errors.items()}})
    return models, records


def save_model(model: dict[str, Any], record: dict[str, float], path: Path) -> Path:
    """The model in sGDML's npz format, its recorded errors being the validation errors."""
    path.parent.mkdir(parents=True, exist_ok=True)
    validated = {**model, "f_err": {"mae": record["validation_force_mae"],
                                    "rmse": record["validation_force_rmse"]},
                 "e_err": {"mae": record["validation_energy_mae"], "rmse": np.nan}}
    np.savez_compressed(path, **validated)
    return path


def sgdml(context: MethodContext, splits: Splits) -> MethodOutcome:
    """Train sGDML per sigma on the accurate frames, keep the best on validation, test it."""
    config = context.config
    settings = config.baselines.sgdml
    seed_everything(stage_seed(config.seed, "sgdml"))
    models, records = train_sigma_grid(settings, config.loss, splits.accurate_train,
                                       splits.validation)
    if context.on_validation is not None:
        for index, record in enumerate(records):
            context.on_validation("sgdml", {**record, "step": float(index)})
    best = min(range(len(records)), key=lambda index: records[index]["validation_force_rmse"])
    model, record = models[best], records[best]
    stage = StageResult(name="sgdml", best_validation_loss=record["validation_loss"],
                        best_record=best, steps=0, stopped_by="sigma grid", history=records)
    model_file = save_model(model, record, context.checkpoint_dir / SGDML_MODEL_FILE)
    predictions = sgdml_predict(model, splits.test, settings.max_processes)
    sigma = settings.sigmas[best]
    details = {"sigma": sigma, "sigma_on_grid_boundary": sigma in (min(settings.sigmas),
                                                                   max(settings.sigmas)),
               "n_permutations": int(model["perms"].shape[0]),
               "validation_force_rmse_by_sigma": {f"{entry['sigma']:g}":
                                                  entry["validation_force_rmse"]
                                                  for entry in records}}
    return MethodOutcome(None, graphs(context, splits.test), [stage], details,
                         test_predictions=predictions, model_files=[model_file],
                         model_name="sgdml")
