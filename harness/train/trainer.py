"""One trainer for every stage: standard, bias model, bias-aware, fine-tuning, score matching.

Per step: linear learning-rate warm-up, loss, backward, gradient clipping, optimiser step,
moving-average update. Per epoch: validation loss with the averaged weights, plateau decay of
the learning rate (after warm-up), early stopping, and an atomic checkpoint holding everything
needed to resume bit for bit. When the stage ends the model holds the averaged weights of the
epoch with the best validation loss: that is what later stages, bias and metrics see.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch_geometric.data import Data
from tqdm.auto import tqdm

from harness.train.averaging import WeightAverage
from harness.train.batching import make_loader
from harness.train.checkpoint import (
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from harness.train.config import Schedule
from models.base import ForceField

EpochCallback = Callable[[str, dict[str, float]], None]


@dataclass
class StageResult:
    """What a finished stage reports; ``history`` has one record per epoch."""

    name: str
    best_validation_loss: float
    best_epoch: int
    epochs: int
    steps: int
    stopped_by: str
    seconds: float = 0.0  # in ``fit`` (optimiser steps and validation), this process only
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def still_improving_at_cap(self) -> bool:
        """Stopped by its step or epoch cap while its last epoch was its best: under-trained."""
        return self.stopped_by in ("max_steps", "max_epochs") and self.best_epoch >= self.epochs - 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Progress:
    epoch: int = 0
    step: int = 0
    best_validation_loss: float = math.inf
    best_epoch: int = -1
    epochs_without_improvement: int = 0
    stopped_by: str = ""
    history: list[dict[str, float]] = field(default_factory=list)


def make_optimizer(schedule: Schedule, parameters: Any) -> torch.optim.Optimizer:
    kind = torch.optim.AdamW if schedule.optimizer == "adamw" else torch.optim.Adam
    return kind(parameters, lr=schedule.learning_rate, weight_decay=schedule.weight_decay)


def evaluate_loss(model: ForceField, objective: Callable[..., Tensor], graphs: list[Data],
                  batch_size: int, device: torch.device) -> float:
    """Frame-weighted mean of ``objective`` over ``graphs`` (no parameter gradients kept)."""
    total, count = 0.0, 0
    for batch in make_loader(graphs, batch_size, shuffle=False):
        batch = batch.to(device)
        loss = objective(model, batch, create_graph=False)
        total += float(loss.detach()) * batch.num_graphs
        count += batch.num_graphs
    return total / count


class Trainer:
    """Runs one stage of training under one ``Schedule``."""

    def __init__(self, schedule: Schedule, device: torch.device, seed: int,
                 progress: bool = False, on_epoch: EpochCallback | None = None) -> None:
        self.schedule = schedule
        self.device = device
        self.seed = seed
        self.progress = progress
        self.on_epoch = on_epoch

    def fit(self, name: str, model: ForceField, objective: Callable[..., Tensor],
            train_graphs: list[Data], validation_graphs: list[Data],
            validation_objective: Callable[..., Tensor],
            checkpoint_path: Path | None = None) -> StageResult:
        """Train ``model`` in place; resumes from ``checkpoint_path`` when it exists."""
        started = time.perf_counter()
        schedule = self.schedule
        model.to(self.device)
        optimizer = make_optimizer(schedule, model.parameters())
        plateau = ReduceLROnPlateau(optimizer, factor=schedule.plateau_factor,
                                    patience=schedule.plateau_patience,
                                    min_lr=schedule.min_learning_rate)
        average = WeightAverage(model, schedule.ema_decay) if schedule.ema_decay else None
        shuffling = torch.Generator().manual_seed(self.seed)
        progress = _Progress()
        best_state = copy.deepcopy(model.state_dict())

        saved = load_checkpoint(checkpoint_path) if checkpoint_path else None
        if saved is not None:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            plateau.load_state_dict(saved["scheduler"])
            if average is not None:
                average.load_state_dict(saved["average"])
            shuffling.set_state(saved["shuffling"])
            restore_rng_states(saved["rng"])
            progress = _Progress(**saved["progress"])
            best_state = saved["best_state"]

        loader = make_loader(train_graphs, schedule.batch_size, shuffle=True,
                             generator=shuffling)
        total_epochs = schedule.max_epochs
        if schedule.max_steps is not None:  # the step bound usually comes first
            total_epochs = min(total_epochs, math.ceil(schedule.max_steps / max(len(loader), 1)))
        epochs = tqdm(total=total_epochs, initial=progress.epoch, desc=name,
                      unit="epoch", disable=not self.progress or bool(progress.stopped_by),
                      leave=False)
        while not progress.stopped_by:
            train_loss = self._train_epoch(model, objective, loader, optimizer, average, progress)
            validation_loss = self._validate(model, average, validation_objective,
                                             validation_graphs)
            if progress.step >= schedule.warmup_steps:
                plateau.step(validation_loss)
            if validation_loss < progress.best_validation_loss:
                progress.best_validation_loss = validation_loss
                progress.best_epoch = progress.epoch
                progress.epochs_without_improvement = 0
                best_state = (average.averaged_state_dict(model) if average is not None
                              else copy.deepcopy(model.state_dict()))
            else:
                progress.epochs_without_improvement += 1
            record = {"epoch": float(progress.epoch), "train_loss": train_loss,
                      "validation_loss": validation_loss,
                      "learning_rate": optimizer.param_groups[0]["lr"]}
            progress.history.append(record)
            progress.epoch += 1
            progress.stopped_by = self._stop_reason(progress)
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, {
                    "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": plateau.state_dict(),
                    "average": average.state_dict() if average is not None else None,
                    "shuffling": shuffling.get_state(), "rng": rng_states(),
                    "progress": asdict(progress), "best_state": best_state,
                })
            epochs.update(1)
            epochs.set_postfix(validation=f"{validation_loss:.4g}")
            if self.on_epoch is not None:
                self.on_epoch(name, record)
        epochs.close()
        model.load_state_dict(best_state)
        return StageResult(name=name, best_validation_loss=progress.best_validation_loss,
                           best_epoch=progress.best_epoch, epochs=progress.epoch,
                           steps=progress.step, stopped_by=progress.stopped_by,
                           seconds=time.perf_counter() - started,
                           history=list(progress.history))

    def _train_epoch(self, model: ForceField, objective: Callable[..., Tensor], loader: Any,
                     optimizer: torch.optim.Optimizer, average: WeightAverage | None,
                     progress: _Progress) -> float:
        schedule = self.schedule
        model.train()
        total, count = 0.0, 0
        for batch in loader:
            if progress.step < schedule.warmup_steps:
                for group in optimizer.param_groups:
                    group["lr"] = schedule.learning_rate * (progress.step + 1) \
                        / schedule.warmup_steps
            batch = batch.to(self.device)
            optimizer.zero_grad(set_to_none=True)
            loss = objective(model, batch)
            loss.backward()
            if schedule.gradient_clip_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), schedule.gradient_clip_norm)
            optimizer.step()
            if average is not None:
                average.update(model)
            progress.step += 1
            total += float(loss.detach()) * batch.num_graphs
            count += batch.num_graphs
            if schedule.max_steps is not None and progress.step >= schedule.max_steps:
                break
        return total / max(count, 1)

    def _validate(self, model: ForceField, average: WeightAverage | None,
                  objective: Callable[..., Tensor], graphs: list[Data]) -> float:
        model.eval()
        batch_size = self.schedule.evaluation_batch_size
        if average is None:
            return evaluate_loss(model, objective, graphs, batch_size, self.device)
        with average.applied(model):
            return evaluate_loss(model, objective, graphs, batch_size, self.device)

    def _stop_reason(self, progress: _Progress) -> str:
        schedule = self.schedule
        if not math.isfinite(progress.history[-1]["train_loss"]):
            return "non-finite loss"
        if progress.epoch >= schedule.max_epochs:
            return "max_epochs"
        if schedule.max_steps is not None and progress.step >= schedule.max_steps:
            return "max_steps"
        patience = schedule.early_stopping_patience
        if patience is not None and progress.epochs_without_improvement >= patience:
            return "early_stopping"
        return ""
