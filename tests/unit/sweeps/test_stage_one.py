from __future__ import annotations

from pathlib import Path

from spec_toy import tiny_spec

from harness.sweeps import stage_one
from harness.sweeps.plan import make_plan
from harness.sweeps.spec import parse_spec
from harness.train.checkpoint import save_checkpoint


def configs_by_key() -> dict[str, dict]:
    spec = parse_spec(tiny_spec(seeds=[0, 1]), "tiny.yaml")
    return {trial.key: trial.config for trial in make_plan(spec).trials}


ASTEROID = "ethanol/ccsd+xtb/egnn/asteroid/b6/r20"


def test_stage_one_key_ignores_gamma_but_not_seed() -> None:
    configs = configs_by_key()
    keys = {name: stage_one.stage_one_key(configs[f"{ASTEROID}/{name}"])
            for name in ("g0.5/s0", "g2/s0", "g0.5/s1")}
    assert keys["g0.5/s0"] == keys["g2/s0"] != keys["g0.5/s1"]


def finished_stage_one(folder: Path, stopped_by: str = "max_epochs") -> None:
    save_checkpoint(stage_one.stage_one_checkpoint(folder),
                    {"progress": {"stopped_by": stopped_by}, "marker": str(folder)})


def test_a_finished_stage_one_is_published_and_adopted(tmp_path: Path) -> None:
    configs = configs_by_key()
    first, second = configs[f"{ASTEROID}/g0.5/s0"], configs[f"{ASTEROID}/g2/s0"]
    finished_stage_one(tmp_path / "first")
    assert stage_one.publish(first, tmp_path / "first", tmp_path / "state")
    assert stage_one.adopt(second, tmp_path / "second", tmp_path / "state")
    adopted = stage_one.stage_one_checkpoint(tmp_path / "second")
    assert adopted.read_bytes() == stage_one.stage_one_checkpoint(tmp_path / "first").read_bytes()
    assert not stage_one.adopt(second, tmp_path / "second", tmp_path / "state")  # has its own


def test_unfinished_stage_one_and_other_methods_are_not_shared(tmp_path: Path) -> None:
    configs = configs_by_key()
    finished_stage_one(tmp_path / "first", stopped_by="")
    assert not stage_one.publish(configs[f"{ASTEROID}/g0.5/s0"], tmp_path / "first",
                                 tmp_path / "state")
    standard = configs["ethanol/ccsd/egnn/standard/b6/s0"]
    assert not stage_one.adopt(standard, tmp_path / "other", tmp_path / "state")
    other_seed = configs[f"{ASTEROID}/g0.5/s1"]
    finished_stage_one(tmp_path / "first")
    stage_one.publish(configs[f"{ASTEROID}/g0.5/s0"], tmp_path / "first", tmp_path / "state")
    assert not stage_one.adopt(other_seed, tmp_path / "third", tmp_path / "state")
