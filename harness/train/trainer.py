"""One trainer for every stage: standard, bias model, bias-aware, fine-tuning, score matching.

Per step: linear learning-rate warm-up, loss, backward, gradient clipping, optimiser step,
moving-average update. Every ``validation_interval`` steps: validation loss with the averaged
weights, plateau decay of the learning rate (after warm-up) and the convergence test of
``Schedule``. Checkpoints (atomic, holding everything needed to resume bit for bit) are written
every ``checkpoint_interval_s`` seconds, at the end of the stage and when the process is asked
to stop (SIGTERM, SIGINT), so that writing them costs a negligible share of a small stage.
When the stage ends the model holds the averaged weights of its best validation: that is what
later stages, bias and metrics see.
"""

from __future__ import annotations

import copy
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch_geometric.data import Data

from harness.train.averaging import WeightAverage
from harness.train.batching import FrameBatches
from harness.train.checkpoint import (
    load_checkpoint,
    restore_rng_states,
    rng_states,
    save_checkpoint,
)
from harness.train.config import Schedule, improves_on
from harness.train.progress import StepProgress
from models.base import ForceField

ValidationCallback = Callable[[str, dict[str, float]], None]
CAPS = ("max_steps", "max_epochs")
CONVERGED = ("converged", "early_stopping")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@dataclass
class StageResult:
    """What a finished stage reports; ``history`` has one record per validation.

    ``best_record`` indexes ``history``. ``still_improving_at_cap``: stopped by a step or
    epoch cap within a plateau patience of its best validation loss, so under-trained.
    """

    name: str
    best_validation_loss: float
    best_record: int
    steps: int
    stopped_by: str
    best_step: int = 0
    epochs: float = 0.0
    converged: bool = True
    still_improving_at_cap: bool = False
    final_learning_rate: float | None = None
    seconds: float = 0.0  # in ``fit`` (optimiser steps and validation), this process only
    history: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def best_on_validation(stages: list[StageResult]) -> StageResult:
    """The stage with the lowest best validation loss; a stage that never validated to a
    finite loss is never preferred over one that did (the first stage when none did)."""
    return min(stages, key=lambda stage: (not math.isfinite(stage.best_validation_loss),
                                          stage.best_validation_loss))


@dataclass
class _Progress:
    """The plain-valued part of a checkpoint: where the stage is and what it has seen."""

    step: int = 0
    epoch: int = 0
    position: int = 0  # batches of the current epoch already trained
    best_validation_loss: float = math.inf
    best_record: int = -1
    # progress as the plateau decay sees it: the loss last improved on by improvement_threshold,
    # and its step (a slow creep counts once it adds up to the threshold)
    reference_loss: float = math.inf
    improved_step: int = 0
    floor_step: int | None = None  # first validation at the learning-rate floor
    stopped_by: str = ""
    history: list[dict[str, float]] = field(default_factory=list)


def make_optimizer(schedule: Schedule, parameters: Any) -> torch.optim.Optimizer:
    kind = torch.optim.AdamW if schedule.optimizer == "adamw" else torch.optim.Adam
    return kind(parameters, lr=schedule.learning_rate, weight_decay=schedule.weight_decay)


def evaluate_loss(model: ForceField, objective: Callable[..., Tensor], batches: list[Any]
                  ) -> float:
    """Frame-weighted mean of ``objective`` over ``batches`` (no parameter gradients kept)."""
    total, count = 0.0, 0
    for batch in batches:
        loss = objective(model, batch, create_graph=False)
        total += float(loss.detach()) * batch.num_graphs
        count += batch.num_graphs
    return total / count


def stage_finished(checkpoint_path: Path) -> bool:
    """Whether the checkpoint at ``checkpoint_path`` is of a stage that has ended."""
    saved = load_checkpoint(checkpoint_path)
    return saved is not None and bool(saved["progress"]["stopped_by"])


@contextmanager
def deferred_stop_signals() -> Iterator[list[int]]:
    """Turn SIGTERM / SIGINT into a request (the yielded list) honoured at a step boundary.

    Outside the main thread signals cannot be handled: the list then stays empty. A signal the
    process ignores (SIGINT in a job a shell started in the background) stays ignored.
    """
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS
                if signal.getsignal(number) is not signal.SIG_IGN}
    for number in previous:
        signal.signal(number, lambda number, frame: received.append(number))
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class Trainer:
    """Runs one stage of training under one ``Schedule``."""

    def __init__(self, schedule: Schedule, device: torch.device, seed: int,
                 progress: bool = False, on_validation: ValidationCallback | None = None,
                 checkpoint_interval_s: float = 60.0) -> None:
        self.schedule = schedule
        self.device = device
        self.seed = seed
        self.progress = progress
        self.on_validation = on_validation
        self.checkpoint_interval_s = checkpoint_interval_s

    def fit(self, name: str, model: ForceField, objective: Callable[..., Tensor],
            train_graphs: list[Data], validation_graphs: list[Data],
            validation_objective: Callable[..., Tensor],
            checkpoint_path: Path | None = None) -> StageResult:
        """Train ``model`` in place; resumes from ``checkpoint_path`` when it exists."""
        started = time.perf_counter()
        run = _StageRun(self, name, model, objective, train_graphs, validation_graphs,
                        validation_objective, checkpoint_path)
        if not run.progress.stopped_by:
            with deferred_stop_signals() as stop_requests:
                run.train(stop_requests)
            if stop_requests:  # checkpointed; now stop as the signal would have stopped us
                signal.raise_signal(stop_requests[0])
        model.load_state_dict(run.best_state)
        return run.result(time.perf_counter() - started)


class _StageRun:
    """The state of one stage while it trains: model, optimiser, schedule, averages, RNG."""

    def __init__(self, trainer: Trainer, name: str, model: ForceField,
                 objective: Callable[..., Tensor], train_graphs: list[Data],
                 validation_graphs: list[Data], validation_objective: Callable[..., Tensor],
                 checkpoint_path: Path | None) -> None:
        schedule = trainer.schedule
        self.trainer, self.schedule, self.name = trainer, schedule, name
        self.model = model.to(trainer.device)
        self.objective, self.validation_objective = objective, validation_objective
        self.checkpoint_path = checkpoint_path
        self.frames = FrameBatches(train_graphs, trainer.device)
        self.validation_batches = FrameBatches(validation_graphs, trainer.device).in_order(
            schedule.evaluation_batch_size)
        self.batches_per_epoch = math.ceil(len(self.frames) / schedule.batch_size)
        self.step_cap = schedule.max_steps if schedule.max_epochs is None else min(
            schedule.max_steps, schedule.max_epochs * self.batches_per_epoch)
        self.parameters = list(model.parameters())
        self.optimizer = make_optimizer(schedule, self.parameters)
        self.plateau = ReduceLROnPlateau(
            self.optimizer, factor=schedule.plateau_factor,
            patience=max(0, math.ceil(schedule.plateau_patience / schedule.validation_interval)
                         - 1),
            threshold=schedule.improvement_threshold, min_lr=schedule.learning_rate_floor)
        self.average = WeightAverage(model, schedule.ema_decay) if schedule.ema_decay else None
        self.shuffling = torch.Generator().manual_seed(trainer.seed)
        self.epoch_shuffling_state = self.shuffling.get_state()
        self.progress = _Progress()
        self.best_state = copy.deepcopy(model.state_dict())
        # summed (loss x frames) and frames since the last validation, float64 on the device
        self.running = torch.zeros(2, dtype=torch.float64, device=trainer.device)
        saved = load_checkpoint(checkpoint_path) if checkpoint_path else None
        if saved is not None:
            self._restore(saved)

    def _restore(self, saved: dict[str, Any]) -> None:
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.plateau.load_state_dict(saved["scheduler"])
        if self.average is not None:
            self.average.load_state_dict(saved["average"])
        self.epoch_shuffling_state = saved["epoch_shuffling"]
        restore_rng_states(saved["rng"])
        self.progress = _Progress(**saved["progress"])
        self.best_state = saved["best_state"]
        self.running = saved["running"].to(self.trainer.device)

    def save(self) -> None:
        if self.checkpoint_path is None:
            return
        save_checkpoint(self.checkpoint_path, {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.plateau.state_dict(),
            "average": self.average.state_dict() if self.average is not None else None,
            "epoch_shuffling": self.epoch_shuffling_state, "rng": rng_states(),
            "progress": asdict(self.progress), "best_state": self.best_state,
            "running": self.running,
        })

    def _epoch_order(self) -> Tensor:
        """This epoch's shuffled frame order, drawn from the state the epoch started with."""
        self.shuffling.set_state(self.epoch_shuffling_state)
        return torch.randperm(len(self.frames), generator=self.shuffling)

    def train(self, stop_requests: list[int]) -> None:
        schedule, progress = self.schedule, self.progress
        bar = StepProgress(self.name, self.step_cap, progress.step, self.trainer.progress)
        last_saved = time.monotonic()
        order = self._epoch_order()
        self.model.train()
        while not progress.stopped_by:
            start = progress.position * schedule.batch_size
            self._train_step(self.frames.batch(order[start:start + schedule.batch_size]))
            progress.position += 1
            if progress.position == self.batches_per_epoch:
                progress.epoch, progress.position = progress.epoch + 1, 0
                self.epoch_shuffling_state = self.shuffling.get_state()
                order = self._epoch_order()
            if progress.step % schedule.validation_interval == 0 \
                    or progress.step >= self.step_cap:
                validation_loss = self._validate_and_decide()
                bar.validated(validation_loss)
            bar.update()
            if progress.stopped_by or stop_requests or \
                    time.monotonic() - last_saved >= self.trainer.checkpoint_interval_s:
                self.save()
                last_saved = time.monotonic()
            if stop_requests:
                break
        bar.close()

    def _train_step(self, batch: Any) -> None:
        schedule, progress, optimizer = self.schedule, self.progress, self.optimizer
        if progress.step < schedule.warmup_steps:
            for group in optimizer.param_groups:
                group["lr"] = schedule.learning_rate * (progress.step + 1) / schedule.warmup_steps
        optimizer.zero_grad(set_to_none=True)
        loss = self.objective(self.model, batch)
        loss.backward()
        if schedule.gradient_clip_norm is not None:
            nn.utils.clip_grad_norm_(self.parameters, schedule.gradient_clip_norm, foreach=True)
        optimizer.step()
        if self.average is not None:
            self.average.update(self.model)
        progress.step += 1
        self.running[0] += loss.detach().to(torch.float64) * batch.num_graphs
        self.running[1] += batch.num_graphs

    def _validate_and_decide(self) -> float:
        """Validate, keep the best weights, decay on a plateau, and decide whether to stop."""
        schedule, progress = self.schedule, self.progress
        self.model.eval()
        if self.average is None:
            validation_loss = evaluate_loss(self.model, self.validation_objective,
                                            self.validation_batches)
        else:
            with self.average.applied(self.model):
                validation_loss = evaluate_loss(self.model, self.validation_objective,
                                                self.validation_batches)
        loss_sum, frames = self.running.tolist()
        self.running.zero_()
        if progress.step >= schedule.warmup_steps:
            self.plateau.step(validation_loss)
        learning_rate = self.optimizer.param_groups[0]["lr"]
        record = {"step": float(progress.step),
                  "epoch": progress.step / self.batches_per_epoch,
                  "train_loss": loss_sum / max(frames, 1.0),
                  "validation_loss": validation_loss, "learning_rate": learning_rate}
        progress.history.append(record)
        if improves_on(validation_loss, progress.reference_loss, schedule.improvement_threshold):
            progress.reference_loss, progress.improved_step = validation_loss, progress.step
        if validation_loss < progress.best_validation_loss:
            progress.best_validation_loss = validation_loss
            progress.best_record = len(progress.history) - 1
            self.best_state = (self.average.averaged_state_dict(self.model)
                               if self.average is not None
                               else copy.deepcopy(self.model.state_dict()))
        if progress.floor_step is None and \
                learning_rate <= schedule.learning_rate_floor * (1 + 1e-9):
            progress.floor_step = progress.step
        progress.stopped_by = self._stop_reason(record)
        self.model.train()
        if self.trainer.on_validation is not None:
            self.trainer.on_validation(self.name, record)
        return validation_loss

    def _stop_reason(self, record: dict[str, float]) -> str:
        schedule, progress = self.schedule, self.progress
        if not (math.isfinite(record["train_loss"]) and math.isfinite(record["validation_loss"])):
            return "non-finite loss"
        without_improvement = progress.step - progress.improved_step
        if progress.floor_step is not None and progress.step - max(
                progress.improved_step, progress.floor_step) >= schedule.plateau_patience:
            return "converged"
        patience = schedule.early_stopping_patience
        if patience is not None and without_improvement >= patience:
            return "early_stopping"
        if progress.step >= schedule.max_steps:
            return "max_steps"
        if schedule.max_epochs is not None and progress.step >= self.step_cap:
            return "max_epochs"
        return ""

    def result(self, seconds: float) -> StageResult:
        progress = self.progress
        capped = progress.stopped_by in CAPS
        still_improving = capped and \
            progress.step - progress.improved_step < self.schedule.plateau_patience
        return StageResult(
            name=self.name, best_validation_loss=progress.best_validation_loss,
            best_record=progress.best_record, steps=progress.step,
            stopped_by=progress.stopped_by,
            best_step=int(progress.history[progress.best_record]["step"])
            if progress.history else 0,
            epochs=progress.step / self.batches_per_epoch,
            converged=progress.stopped_by in CONVERGED, still_improving_at_cap=still_improving,
            final_learning_rate=self.optimizer.param_groups[0]["lr"], seconds=seconds,
            history=list(progress.history))
