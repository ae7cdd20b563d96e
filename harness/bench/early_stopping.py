"""``harness bench stopping``: what an early-stopping patience would have saved, and cost.

Every finished stage records its validation history (``results.json``). Up to the step at
which a patience of P steps without a better validation loss would have stopped it, the same
seed replays the same history, so the recorded history tells, without training, how many
steps each patience saves and how much higher the best validation loss would have been. A
loss counts as better by the trainer's own rule (``improves_on``: ``improvement_threshold``,
relative, the schedule's default unless given, below the last such loss). Used to choose the
default ``early_stopping_patience`` of each kind of stage (``results/README.md``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError
from harness.train.config import Schedule, improves_on

DEFAULT_THRESHOLD: float = Schedule.model_fields["improvement_threshold"].default


@dataclass(frozen=True)
class Replay:
    """One recorded stage under one patience: the steps it ran and would have run, and its
    best validation loss as recorded and at the would-be stop."""

    trial: str
    stage: str
    steps: int
    steps_with_patience: int
    best_loss: float
    best_loss_with_patience: float

    @property
    def kind(self) -> str:
        return stage_kind(self.stage)

    @property
    def loss_rise(self) -> float:
        return self.best_loss_with_patience / self.best_loss - 1


def replay_stage(trial: str, stage: dict, patience: int, threshold: float) -> Replay | None:
    """The stage's history cut where ``patience`` steps brought no better loss; None when it
    has no validation history (a baseline that did not train)."""
    history = [record for record in stage.get("history") or [] if "step" in record]
    if not history:
        return None
    steps, best = int(stage["steps"]), float(stage["best_validation_loss"])
    reference, improved_step, best_so_far = float("inf"), 0.0, float("inf")
    for record in history:
        loss = record["validation_loss"]
        if improves_on(loss, reference, threshold):
            reference, improved_step = loss, record["step"]
        best_so_far = min(best_so_far, loss)
        if record["step"] - improved_step >= patience and record["step"] < steps:
            return Replay(trial, stage["name"], steps, int(record["step"]), best, best_so_far)
    return Replay(trial, stage["name"], steps, steps, best, best)


def recorded_stages(folders: Iterable[Path]) -> Iterator[tuple[str, dict]]:
    """(trial folder, stage) of every stage of every ``results.json`` under ``folders``."""
    for folder in folders:
        if not Path(folder).is_dir():
            raise DataError(str(folder), "path", "no such folder")
        for path in sorted(Path(folder).rglob("results.json")):
            for stage in json.loads(path.read_text()).get("stages", []):
                yield str(path.parent), stage


def stage_kind(stage: str) -> str:
    """A stage's kind: its name without the gamma and learning-rate suffixes."""
    return stage.split("_gamma")[0].split("_lr_x")[0]


def replay_folders(folders: Iterable[Path], patience: int,
                   threshold: float = DEFAULT_THRESHOLD) -> list[Replay]:
    """Every stage of every ``results.json`` under ``folders``, replayed with ``patience``."""
    replays = (replay_stage(trial, stage, patience, threshold)
               for trial, stage in recorded_stages(folders))
    return [replay for replay in replays if replay is not None]


def format_summary(replays: list[Replay], patience: int) -> list[str]:
    """Per kind of stage: steps saved and the largest rise of the best validation loss."""
    lines = [f"patience {patience} steps: {len(replays)} stages"]
    for kind in sorted({replay.kind for replay in replays}):
        group = [replay for replay in replays if replay.kind == kind]
        steps = sum(replay.steps for replay in group)
        saved = steps - sum(replay.steps_with_patience for replay in group)
        worst = max(group, key=lambda replay: replay.loss_rise)
        lines.append(f"  {kind}: {len(group)} stages, {saved / steps:.1%} of {steps} steps "
                     f"saved, best validation loss at most {worst.loss_rise:.2%} higher"
                     + (f" ({worst.trial})" if worst.loss_rise > 0 else ""))
    return lines
