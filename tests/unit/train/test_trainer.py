from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from train_toy import TINY_EGNN, quick_schedule, toy_frames

from harness.errors import DataError
from harness.train import trainer as trainer_module
from harness.train.averaging import WeightAverage
from harness.train.batching import frames_to_graphs
from harness.train.checkpoint import load_checkpoint, seed_everything
from harness.train.losses import SupervisedLoss
from harness.train.trainer import (
    StageResult,
    Trainer,
    ValidationCallback,
    best_on_validation,
    deferred_stop_signals,
)
from models import ForceField, build_model

CPU = torch.device("cpu")


def fresh_egnn() -> ForceField:
    seed_everything(0)
    frames = toy_frames(24)
    model = build_model("egnn", TINY_EGNN).double()
    model.fit_scale_shift([frames.atomic_numbers] * len(frames), frames.energies,
                          list(frames.forces))
    return model


def fit(model: ForceField, checkpoint: Path | None = None,
        on_validation: ValidationCallback | None = None, checkpoint_interval_s: float = 0.0,
        **schedule: object) -> StageResult:
    train = frames_to_graphs(toy_frames(24, seed=1), dtype=torch.float64)
    validation = frames_to_graphs(toy_frames(8, seed=2), dtype=torch.float64)
    loss = SupervisedLoss(rho=0.01)
    settings = {"max_epochs": None, **schedule}
    trainer = Trainer(quick_schedule(**settings), CPU, seed=0, on_validation=on_validation,
                      checkpoint_interval_s=checkpoint_interval_s)
    return trainer.fit("toy", model, loss, train, validation, loss, checkpoint)


def test_training_lowers_the_validation_loss() -> None:
    result = fit(fresh_egnn(), max_steps=72, validation_interval=6, learning_rate=1e-2,
                 batch_size=4)
    history = [record["validation_loss"] for record in result.history]
    assert len(history) == 12 and result.best_validation_loss < 0.3 * history[0]
    assert result.stopped_by == "max_steps" and result.steps == 72


def test_validation_runs_every_interval_of_steps_and_at_the_cap() -> None:
    result = fit(fresh_egnn(), max_steps=11, validation_interval=4, batch_size=8)
    assert [record["step"] for record in result.history] == [4.0, 8.0, 11.0]
    assert result.history[-1]["epoch"] == pytest.approx(11 / 3)


def test_max_steps_stops_mid_epoch() -> None:
    result = fit(fresh_egnn(), max_steps=4)
    assert result.steps == 4 and result.stopped_by == "max_steps"
    assert result.epochs == pytest.approx(4 / 3)


def test_max_epochs_caps_the_passes_over_the_frames() -> None:
    result = fit(fresh_egnn(), max_epochs=2, validation_interval=100)
    assert result.steps == 6 and result.stopped_by == "max_epochs"


def test_early_stopping_waits_patience_steps() -> None:
    result = fit(fresh_egnn(), learning_rate=1e-12, validation_interval=2,
                 early_stopping_patience=6, ema_decay=None, max_steps=1000)
    assert result.stopped_by == "early_stopping" and result.converged
    assert result.steps - result.best_step == 6


def test_a_stage_converges_after_a_plateau_at_the_learning_rate_floor() -> None:
    # rates above 1e-8: ReduceLROnPlateau ignores smaller changes
    result = fit(fresh_egnn(), learning_rate=1e-7, validation_interval=1, plateau_patience=2,
                 plateau_factor=0.5, min_learning_rate=0.25e-7, ema_decay=None,
                 max_steps=1000)
    rates = [record["learning_rate"] for record in result.history]
    assert result.stopped_by == "converged" and result.converged
    assert not result.still_improving_at_cap
    assert rates[-1] == pytest.approx(0.25e-7) and rates[0] == pytest.approx(1e-7)
    floor_reached = next(i for i, rate in enumerate(rates) if rate <= 0.25e-7 * (1 + 1e-9))
    assert len(rates) - 1 - floor_reached >= 2  # a whole patience at the floor


def test_the_best_stage_on_validation_never_is_one_that_diverged() -> None:
    diverged = StageResult("lr_x4", float("inf"), 0, 10, "diverged")
    worse, better = (StageResult(name, loss, 0, 10, "converged")
                     for name, loss in (("lr_x1", 2.0), ("lr_x2", 1.5)))
    assert best_on_validation([diverged, worse, better]) is better
    assert best_on_validation([diverged, StageResult("nan", float("nan"), 0, 1, "x")]) is diverged


def test_warm_up_ramps_the_learning_rate_linearly() -> None:
    result = fit(fresh_egnn(), max_steps=6, validation_interval=3, warmup_steps=6,
                 learning_rate=1e-3)
    assert [record["learning_rate"] for record in result.history] == pytest.approx(
        [5e-4, 1e-3])


def test_plateau_decay_lowers_the_learning_rate() -> None:
    result = fit(fresh_egnn(), max_steps=12, validation_interval=2, learning_rate=1e-6,
                 plateau_patience=2, plateau_factor=0.5, min_learning_rate=0.0, ema_decay=None)
    rates = [record["learning_rate"] for record in result.history]
    assert rates[-1] < rates[0]


def test_a_stage_capped_while_improving_is_not_converged() -> None:
    result = fit(fresh_egnn(), max_steps=72, validation_interval=6, learning_rate=1e-2,
                 batch_size=4)
    assert result.best_step == 72
    assert result.still_improving_at_cap and not result.converged


def test_model_ends_with_the_averaged_weights_of_the_best_validation(tmp_path: Path) -> None:
    model = fresh_egnn()
    fit(model, tmp_path / "toy.pt", max_steps=9, validation_interval=3)
    saved = load_checkpoint(tmp_path / "toy.pt")
    for name, value in model.state_dict().items():
        assert torch.equal(value, saved["best_state"][name])
    assert not torch.equal(saved["model"]["atom_energy.2.weight"],
                           saved["best_state"]["atom_energy.2.weight"])


def test_checkpoints_follow_the_clock_not_the_steps(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    saves: list[int] = []
    original = trainer_module.save_checkpoint
    monkeypatch.setattr(trainer_module, "save_checkpoint",
                        lambda path, content: saves.append(1) or original(path, content))
    fit(fresh_egnn(), tmp_path / "hourly.pt", max_steps=30, validation_interval=3,
        checkpoint_interval_s=3600.0)
    assert len(saves) == 1  # the end of the stage only
    saves.clear()
    fit(fresh_egnn(), tmp_path / "always.pt", max_steps=30, validation_interval=3,
        checkpoint_interval_s=0.0)
    assert len(saves) == 30


def test_average_decay_follows_the_warm_up_formula() -> None:
    layer = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(0.0)
    average = WeightAverage(layer, decay=0.999)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    average.update(layer)  # decay min(0.999, 2/11)
    assert float(average.shadow["weight"]) == pytest.approx(1 - 2 / 11)


@pytest.fixture()
def default_sigint() -> Iterator[None]:
    """SIGINT raising KeyboardInterrupt, as in a terminal (a process a shell starts in the
    background inherits SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_stage_stopped_by_a_signal_resumes_to_the_uninterrupted_result(
        tmp_path: Path, default_sigint: None) -> None:
    settings = {"max_steps": 14, "validation_interval": 3, "batch_size": 5}
    uninterrupted = fresh_egnn()
    straight = fit(uninterrupted, tmp_path / "straight.pt", **settings)

    def interrupt(stage: str, record: dict[str, float]) -> None:
        if record["step"] == 6:  # mid-epoch: 5 batches per epoch
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        fit(fresh_egnn(), tmp_path / "resumed.pt", on_validation=interrupt,
            checkpoint_interval_s=3600.0, **settings)
    assert load_checkpoint(tmp_path / "resumed.pt")["progress"]["step"] == 6
    torch.manual_seed(1234)  # the resumed process starts with other RNG states
    resumed = fresh_egnn()
    again = fit(resumed, tmp_path / "resumed.pt", **settings)
    assert again.history == straight.history
    for name, value in uninterrupted.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), name


def test_an_ignored_signal_stays_ignored_while_a_stage_trains() -> None:
    """A background job ignores SIGINT (its shell's choice); training must not revive it."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with deferred_stop_signals():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN  # deferred
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_checkpoint_holding_an_arbitrary_object_is_refused(tmp_path: Path) -> None:
    torch.save({"model": {}, "payload": Path("planted")}, tmp_path / "planted.pt")
    with pytest.raises(DataError, match="planted.pt.*refused"):
        load_checkpoint(tmp_path / "planted.pt")


def scripted_validation(monkeypatch: pytest.MonkeyPatch, losses: list[float]) -> None:
    remaining = iter(losses)
    monkeypatch.setattr(trainer_module, "evaluate_loss", lambda *args: next(remaining))


def test_a_slow_creep_counts_as_progress_once_it_adds_up_to_the_threshold(
        monkeypatch: pytest.MonkeyPatch) -> None:
    scripted_validation(monkeypatch, [100.0 * 0.996**k for k in range(12)])
    result = fit(fresh_egnn(), max_steps=12, validation_interval=1, plateau_patience=3,
                 improvement_threshold=0.01, ema_decay=None)
    assert {record["learning_rate"] for record in result.history} == {3e-3}
    assert result.still_improving_at_cap


def test_gains_below_the_threshold_are_a_plateau(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted_validation(monkeypatch, [100.0 * 0.9995**k for k in range(12)])
    result = fit(fresh_egnn(), max_steps=12, validation_interval=1, plateau_patience=3,
                 improvement_threshold=0.01, ema_decay=None)
    assert result.history[-1]["learning_rate"] < 3e-3
    assert result.best_step == 12  # the best weights still follow every gain
    assert not result.still_improving_at_cap
