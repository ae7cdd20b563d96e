"""A gamma trial that adopts another gamma's finished stage 1 ends with the same results as one
that trains its own stage 1 (float64, deterministic, CPU)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from result_checks import without_timings
from sweep_checks import PROJECT_ROOT, TINY_SPEC

from harness.sweeps import stage_one
from harness.sweeps.plan import make_plan
from harness.sweeps.spec import deep_merge, parse_spec
from harness.train.config import TrainConfig
from harness.train.experiment import run
from harness.train.tracking import NullTracker

ASTEROID = "ethanol/ccsd+xtb/egnn/asteroid/b6/r20"


def asteroid_configs() -> dict[str, dict[str, Any]]:
    content = deep_merge(yaml.safe_load(TINY_SPEC.read_text()),
                         {"train": {"dtype": "float64", "deterministic": True}})
    for level in [content["datasets"][0]["accurate"], *content["datasets"][0]["inaccurate"]]:
        level["path"] = str(PROJECT_ROOT / level["path"])
    plan = make_plan(parse_spec(content, "tiny.yaml"))
    return {trial.key: trial.config for trial in plan.trials if trial.key.startswith(ASTEROID)}


def train(config: dict[str, Any], folder: Path) -> dict[str, Any]:
    results = run(TrainConfig.model_validate(config), "tiny.yaml", folder, NullTracker())
    return without_timings(results)


def test_adopted_stage_one_gives_the_results_of_a_trained_one(tmp_path: Path) -> None:
    configs = asteroid_configs()
    first, second = configs[f"{ASTEROID}/g0.5/s0"], configs[f"{ASTEROID}/g2/s0"]
    trained_itself = train(second, tmp_path / "own")

    train(first, tmp_path / "first")
    assert stage_one.publish(first, tmp_path / "first", tmp_path / "state")
    assert stage_one.adopt(second, tmp_path / "adopting", tmp_path / "state")
    adopted = train(second, tmp_path / "adopting")
    assert adopted == trained_itself
