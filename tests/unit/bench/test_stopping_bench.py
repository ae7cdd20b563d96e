"""``harness bench stopping`` replays a recorded validation history under a patience."""

from __future__ import annotations

import json
from pathlib import Path

from harness.bench.early_stopping import format_summary, replay_folders, replay_stage
from harness.cli import main


def stage(name: str, losses: list[float], steps: int) -> dict:
    history = [{"step": 100.0 * (index + 1), "validation_loss": loss}
               for index, loss in enumerate(losses)]
    return {"name": name, "history": history, "steps": steps,
            "best_validation_loss": min(losses)}


def test_a_stage_stops_where_patience_steps_brought_no_one_percent_gain() -> None:
    # best 5.0 at step 200; 4.99 at step 500 is a new best but not 1% better
    recorded = stage("stage3_gamma2", [6.0, 5.0, 5.2, 5.1, 4.99, 5.3, 5.3], steps=700)
    replay = replay_stage("t", recorded, patience=300, threshold=0.01)
    assert replay.steps_with_patience == 500 and replay.best_loss_with_patience == 4.99
    replay = replay_stage("t", recorded, patience=200, threshold=0.01)
    assert replay.steps_with_patience == 400 and replay.best_loss_with_patience == 5.0
    assert replay.loss_rise > 0 and replay.kind == "stage3"


def test_a_stage_the_patience_never_stops_is_unchanged() -> None:
    replay = replay_stage("t", stage("standard", [3.0, 2.0, 1.0], steps=300), 200, 0.01)
    assert replay.steps_with_patience == 300 and replay.loss_rise == 0
    assert replay_stage("t", {"name": "ani1ccx_zero_shot", "history": [], "steps": 0}, 1, 0.01) \
        is None


def test_folders_are_searched_for_results_and_summarised_per_kind(tmp_path: Path) -> None:
    trial = tmp_path / "trials" / "s0"
    trial.mkdir(parents=True)
    (trial / "results.json").write_text(json.dumps({"stages": [
        stage("stage1", [3.0, 2.0, 2.5, 2.5, 2.5], steps=500),
        stage("stage3_gamma2_lr_x4", [1.0, 1.1, 1.2], steps=300)]}))
    replays = replay_folders([tmp_path], patience=200)
    assert [(replay.kind, replay.steps_with_patience) for replay in replays] == [
        ("stage1", 400), ("stage3", 300)]
    lines = format_summary(replays, 200)
    assert lines[0] == "patience 200 steps: 2 stages"
    assert "stage1: 1 stages, 20.0% of 500 steps saved" in lines[1]


def test_a_missing_folder_is_a_one_line_error_naming_it(tmp_path: Path, capsys) -> None:
    status = main(["bench", "stopping", str(tmp_path / "typo")])
    message = capsys.readouterr().err.strip()
    assert status == 2 and len(message.splitlines()) == 1
    assert str(tmp_path / "typo") in message and "no such folder" in message
