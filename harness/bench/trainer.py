"""Speed of ``Trainer.fit`` against a bare training loop of the same model, loss and batch.

The bare loop is what a careful user would write by hand: frames stacked once as tensors, a
random batch by indexing, energy and forces by autograd, the weighted force and energy loss,
backward, Adam. ``Trainer.fit`` adds what a real stage needs (validation every
``validation_interval`` steps, moving average, gradient clipping, warm-up, interval
checkpoints, metrics buffered to MLflow); the ratio of steps per second says what that costs.
Each case runs both loops ``repeats`` times, alternating, and keeps the median. The trainer's
extra time is then split by timing each addition on its own.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harness.data.readers import load_any
from harness.train.averaging import WeightAverage
from harness.train.batching import FrameBatches, frames_to_graphs
from harness.train.checkpoint import save_checkpoint, seed_everything
from harness.train.config import Schedule
from harness.train.losses import SupervisedLoss
from harness.train.tracking import BufferedMetrics, MlflowTracker
from harness.train.trainer import Trainer, evaluate_loss
from models import ForceField, build_model

RHO = 0.001  # the paper's energy weight
N_VALIDATION = 50


@dataclass(frozen=True)
class Case:
    """One measured setting: which frames train, how many, in which batches, which model."""

    name: str
    level: str
    n_frames: int
    batch_size: int
    n_features: int
    n_layers: int
    steps: int


CASES = [
    Case(f"{kind} egnn {features}x{layers}", level, frames, batch, features, layers, steps)
    for features, layers, scale in ((64, 3, 1), (128, 5, 3))
    for kind, level, frames, batch, steps in (
        ("standard, 25 frames", "ccsd", 25, 10, 600 // scale),
        ("standard, 100 frames", "ccsd", 100, 10, 600 // scale),
        ("stage 2, 4000 frames", "xtb", 4000, 32, 300 // scale))
]
SMOKE_CASES = [Case("smoke egnn 8x1", "ccsd", 20, 5, 8, 1, 10)]


@dataclass
class Row:
    """Steps per second of each loop, their ratio, and the trainer's extra seconds by cause."""

    case: str
    steps: int
    bare_steps_per_s: float
    trainer_steps_per_s: float
    ratio: float
    extra_seconds: dict[str, float]


def bare_loop(model: ForceField, frames: FrameBatches, batch_size: int, steps: int,
              learning_rate: float, seed: int) -> float:
    """Seconds for ``steps`` hand-written optimiser steps (no validation, no extras)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    for _ in range(steps):
        index = torch.randint(len(frames), (batch_size,), generator=generator)
        positions = frames.positions[index].reshape(-1, 3).requires_grad_(True)
        batch_index = torch.arange(batch_size).repeat_interleave(len(frames.z))
        energies = model(frames.z.repeat(batch_size), positions, batch_index, batch_size)
        (gradient,) = torch.autograd.grad(energies.sum(), positions, create_graph=True)
        force_error = (-gradient - frames.forces[index].reshape(-1, 3)).square().mean()
        energy_error = (energies - frames.energy[index]).square().mean()
        loss = (1 - RHO) * force_error + RHO * energy_error
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return time.perf_counter() - started


def fresh_model(case: Case, graphs: list[Any]) -> ForceField:
    seed_everything(0)
    model = build_model("egnn", {"n_features": case.n_features, "n_layers": case.n_layers})
    energies = torch.cat([graph.energy for graph in graphs]).numpy()
    forces = [graph.forces.numpy() for graph in graphs]
    model.fit_scale_shift([graphs[0].z.numpy()] * len(graphs), energies, forces)
    return model


def timed_fit(case: Case, train: list[Any], validation: list[Any], folder: Path,
              tracking_uri: str) -> float:
    """Seconds of ``Trainer.fit`` for ``case.steps`` steps, logging to MLflow as a run does."""
    schedule = Schedule(batch_size=case.batch_size, max_steps=case.steps)
    tracker = MlflowTracker(tracking_uri, "bench-trainer", case.name)
    buffered = BufferedMetrics(tracker)
    trainer = Trainer(schedule, torch.device("cpu"), seed=0,
                      on_validation=lambda stage, record: buffered.add(
                          {f"{stage}.validation_loss": record["validation_loss"]},
                          int(record["step"])))
    model = fresh_model(case, train)
    loss = SupervisedLoss(rho=RHO)
    checkpoint = folder / f"{case.name.replace(' ', '_').replace(',', '')}.pt"
    checkpoint.unlink(missing_ok=True)
    started = time.perf_counter()
    trainer.fit("bench", model, loss, train, validation, loss, checkpoint)
    buffered.flush()
    seconds = time.perf_counter() - started
    tracker.close()
    return seconds


def seconds_of(action: Callable[[], Any], repeats: int = 5) -> float:
    """Median seconds of one call of ``action``."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def extra_seconds(case: Case, train: list[Any], validation: list[Any], folder: Path
                  ) -> dict[str, float]:
    """What each addition of the trainer costs over ``case.steps`` steps, timed on its own."""
    schedule = Schedule(batch_size=case.batch_size, max_steps=case.steps)
    model = fresh_model(case, train)
    loss = SupervisedLoss(rho=RHO)
    validation_batches = FrameBatches(validation, torch.device("cpu")).in_order(
        schedule.evaluation_batch_size)
    n_validations = case.steps // schedule.validation_interval + \
        (case.steps % schedule.validation_interval > 0)
    average = WeightAverage(model, 0.999)
    frames = FrameBatches(train, torch.device("cpu"))
    for parameter in model.parameters():
        parameter.grad = torch.randn_like(parameter)
    return {
        "validation": n_validations * seconds_of(
            lambda: evaluate_loss(model, loss, validation_batches), 3),
        "moving average": case.steps * seconds_of(lambda: average.update(model), 20),
        "gradient clipping": case.steps * seconds_of(
            lambda: torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0), 20),
        "batching": case.steps * seconds_of(
            lambda: frames.batch(torch.randperm(len(frames))[:case.batch_size]), 20),
        "stacking the frames": seconds_of(lambda: FrameBatches(train, torch.device("cpu")), 3),
        "final checkpoint": seconds_of(lambda: save_checkpoint(
            folder / "probe.pt", {"model": model.state_dict()}), 3),
    }


def measure(case: Case, dataset: str, repeats: int) -> Row:
    level = load_any(dataset).levels
    accurate, cheap = level["ccsd"], level[case.level]
    order = np.random.default_rng(0).permutation(len(accurate))
    validation = frames_to_graphs(accurate.subset(order[:N_VALIDATION]))
    pool = cheap if case.level != "ccsd" else accurate.subset(order[N_VALIDATION:])
    train = frames_to_graphs(pool.subset(np.arange(case.n_frames)))
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        MlflowTracker(uri, "bench-trainer", "store-creation").close()  # not timed
        bare, fitted = [], []
        for _ in range(repeats):
            bare.append(bare_loop(fresh_model(case, train), FrameBatches(
                train, torch.device("cpu")), case.batch_size, case.steps, 2e-3, 0))
            fitted.append(timed_fit(case, train, validation, folder, uri))
        extras = extra_seconds(case, train, validation, folder)
    bare_rate = case.steps / statistics.median(bare)
    trainer_rate = case.steps / statistics.median(fitted)
    extras["unexplained"] = statistics.median(fitted) - statistics.median(bare) - sum(
        extras.values())
    return Row(case.name, case.steps, bare_rate, trainer_rate, trainer_rate / bare_rate,
               {key: round(value, 3) for key, value in extras.items()})


def run_benchmark(cases: list[Case], dataset: str = "data/ethanol", repeats: int = 3,
                  threads: int = 1, progress: Callable[[str], None] = print) -> list[Row]:
    torch.set_num_threads(threads)
    rows = []
    for case in cases:
        rows.append(measure(case, dataset, repeats))
        progress(format_row(rows[-1]))
    return rows


def format_row(row: Row) -> str:
    where = ", ".join(f"{key} {value:.2f} s" for key, value in row.extra_seconds.items())
    return (f"{row.case}: bare {row.bare_steps_per_s:.1f} steps/s, Trainer.fit "
            f"{row.trainer_steps_per_s:.1f} steps/s, ratio {row.ratio:.3f} "
            f"({row.steps} steps; extra time: {where})")


def write_json(rows: list[Row], path: Path, threads: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"threads": threads, "torch": torch.__version__, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(content, indent=2) + "\n")
