from __future__ import annotations

from pathlib import Path

import pytest
import torch
from train_toy import TINY_EGNN, quick_schedule, toy_frames

from harness.train.averaging import WeightAverage
from harness.train.batching import frames_to_graphs
from harness.train.checkpoint import load_checkpoint, seed_everything
from harness.train.losses import SupervisedLoss
from harness.train.trainer import StageResult, Trainer
from models import ForceField, build_model

CPU = torch.device("cpu")


def fresh_egnn() -> ForceField:
    seed_everything(0)
    frames = toy_frames(24)
    model = build_model("egnn", TINY_EGNN).double()
    model.fit_scale_shift([frames.atomic_numbers] * len(frames), frames.energies,
                          list(frames.forces))
    return model


def fit(model: ForceField, checkpoint: Path | None = None, **schedule: object) -> StageResult:
    train = frames_to_graphs(toy_frames(24, seed=1), dtype=torch.float64)
    validation = frames_to_graphs(toy_frames(8, seed=2), dtype=torch.float64)
    loss = SupervisedLoss(rho=0.01)
    return Trainer(quick_schedule(**schedule), CPU, seed=0).fit(
        "toy", model, loss, train, validation, loss, checkpoint)


def test_training_lowers_the_validation_loss() -> None:
    result = fit(fresh_egnn(), max_epochs=12, learning_rate=1e-2, batch_size=4)
    history = [record["validation_loss"] for record in result.history]
    assert result.best_validation_loss < 0.3 * history[0]
    assert result.stopped_by == "max_epochs" and result.epochs == 12


def test_max_steps_stops_mid_epoch() -> None:
    result = fit(fresh_egnn(), max_epochs=10, max_steps=4)
    assert result.steps == 4 and result.stopped_by == "max_steps" and result.epochs == 2


def test_early_stopping_waits_patience_epochs() -> None:
    result = fit(fresh_egnn(), max_epochs=50, learning_rate=1e-12, early_stopping_patience=2,
                 ema_decay=None)
    assert result.stopped_by == "early_stopping"
    assert result.epochs - 1 - result.best_epoch == 2


def test_warm_up_ramps_the_learning_rate_linearly() -> None:
    result = fit(fresh_egnn(), max_epochs=2, warmup_steps=6, learning_rate=1e-3)
    # 3 steps per epoch: after epoch 0 the rate is 3/6 of the target, after epoch 1 all of it
    assert [record["learning_rate"] for record in result.history] == pytest.approx(
        [5e-4, 1e-3])


def test_plateau_decay_lowers_the_learning_rate() -> None:
    result = fit(fresh_egnn(), max_epochs=6, learning_rate=1e-6, plateau_patience=0,
                 plateau_factor=0.5, min_learning_rate=0.0, ema_decay=None)
    rates = [record["learning_rate"] for record in result.history]
    assert rates[-1] < rates[0]


def test_model_ends_with_the_averaged_weights_of_the_best_epoch(tmp_path: Path) -> None:
    model = fresh_egnn()
    fit(model, tmp_path / "toy.pt", max_epochs=3)
    saved = load_checkpoint(tmp_path / "toy.pt")
    for name, value in model.state_dict().items():
        assert torch.equal(value, saved["best_state"][name])
    assert not torch.equal(saved["model"]["atom_energy.2.weight"],
                           saved["best_state"]["atom_energy.2.weight"])


def test_average_decay_follows_the_warm_up_formula() -> None:
    layer = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    average = WeightAverage(layer, decay=0.999)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    average.update(layer)  # decay min(0.999, 2/11)
    assert float(average.shadow["weight"]) == pytest.approx(1 - 2 / 11)


def test_resumed_training_matches_uninterrupted_training(tmp_path: Path) -> None:
    uninterrupted = fresh_egnn()
    fit(uninterrupted, tmp_path / "straight.pt", max_epochs=4)
    interrupted = fresh_egnn()
    fit(interrupted, tmp_path / "resumed.pt", max_epochs=2)
    checkpoint = load_checkpoint(tmp_path / "resumed.pt")
    checkpoint["progress"]["stopped_by"] = ""  # as if killed after epoch 2 of 4
    torch.save(checkpoint, tmp_path / "resumed.pt")
    torch.manual_seed(1234)  # the resumed process starts with other RNG states
    resumed = fresh_egnn()
    result = fit(resumed, tmp_path / "resumed.pt", max_epochs=4)
    assert result.epochs == 4
    for name, value in uninterrupted.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name


def test_a_stage_capped_at_its_best_epoch_counts_as_still_improving() -> None:
    def stage(best_epoch: int, stopped_by: str) -> StageResult:
        return StageResult("s", 1.0, best_epoch, epochs=10, steps=100, stopped_by=stopped_by)

    assert stage(9, "max_steps").still_improving_at_cap
    assert stage(9, "max_epochs").still_improving_at_cap
    assert not stage(5, "max_steps").still_improving_at_cap
    assert not stage(9, "early_stopping").still_improving_at_cap
