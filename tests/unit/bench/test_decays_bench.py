"""``harness bench decays`` measures the fall of the best validation loss around each decay."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.bench.plateau_decays import folder_decays, format_summary, stage_decays
from harness.cli import main


def stage(name: str, losses: list[float], rates: list[float]) -> dict:
    history = [{"step": 100.0 * (index + 1), "validation_loss": loss, "learning_rate": rate}
               for index, (loss, rate) in enumerate(zip(losses, rates, strict=True))]
    return {"name": name, "history": history}


def test_a_decay_at_a_stall_speeds_the_descent_and_one_mid_descent_slows_it() -> None:
    # steps 100-700; the rate halves at step 400 (a stall since step 200), then at step 600
    losses = [10.0, 8.0, 8.0, 8.0, 6.0, 5.9, 5.9]
    rates = [2e-3, 2e-3, 2e-3, 1e-3, 1e-3, 5e-4, 5e-4]
    [first] = stage_decays("t", stage("stage1", losses, rates), window=200)
    assert (first.step, first.first) == (400, True)
    assert first.fall_before == 0.0 and first.fall_after == pytest.approx(1 - 5.9 / 8.0)
    assert first.sped_up
    # the decay at step 600 has no 200 steps of history after it: left out
    falling = [10.0, 9.0, 8.0, 7.0, 6.8, 6.6, 6.4]
    [decay] = stage_decays("t", stage("standard", falling, [2e-3] * 3 + [1e-3] * 4), 200)
    assert decay.fall_before == pytest.approx(1 - 7.0 / 9.0)
    assert decay.fall_after == pytest.approx(1 - 6.6 / 7.0) and not decay.sped_up


def test_folders_are_summarised_per_kind_and_the_command_prints_them(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trial = tmp_path / "trials" / "s0"
    trial.mkdir(parents=True)
    rates = [2e-3, 2e-3, 2e-3, 1e-3, 1e-3, 1e-3, 1e-3]
    (trial / "results.json").write_text(json.dumps({"stages": [
        stage("stage3_gamma2_lr_x4", [10.0, 8.0, 8.0, 8.0, 6.0, 5.9, 5.9], rates),
        {"name": "sgdml", "history": []}]}))
    decays = folder_decays([tmp_path], window=200)
    lines = format_summary(decays, 200)
    assert lines[0] == "window 200 steps: 1 decays with a full window on both sides"
    assert lines[1].startswith("  stage3: 1 decays; median fall of the best validation loss "
                               "0.00% before, 26.25% after; faster after in 1 of 1")
    main(["bench", "decays", str(tmp_path), "--window", "200"])
    assert capsys.readouterr().out.splitlines() == lines
