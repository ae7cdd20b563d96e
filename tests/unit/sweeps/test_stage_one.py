from __future__ import annotations

from pathlib import Path
from typing import Any

from spec_toy import tiny_spec

from harness.sweeps import stage_one
from harness.sweeps.plan import make_plan
from harness.sweeps.spec import parse_spec
from harness.train.checkpoint import save_checkpoint


def configs_by_key(**asteroid: Any) -> dict[str, dict]:
    spec = parse_spec(tiny_spec(seeds=[0, 1], train={"asteroid": asteroid}), "tiny.yaml")
    return {trial.key: trial.config for trial in make_plan(spec).trials}


ASTEROID = "ethanol/ccsd+xtb/egnn/asteroid/b6/r20"
ENSEMBLE = {"bias_estimator": "ensemble", "ensemble_size": 3}


def test_stage_one_key_ignores_gamma_but_not_seed() -> None:
    configs = configs_by_key()
    keys = {name: stage_one.stage_one_key(configs[f"{ASTEROID}/{name}"])
            for name in ("g0.5/s0", "g2/s0", "g0.5/s1")}
    assert keys["g0.5/s0"] == keys["g2/s0"] != keys["g0.5/s1"]


def key_with(**asteroid: Any) -> str:
    return stage_one.stage_one_key(configs_by_key(**asteroid)[f"{ASTEROID}/g0.5/s0"])


def test_stage_one_key_holds_what_trains_stage_one_and_not_what_acts_on_its_bias() -> None:
    """The cache holds models and B is computed again from them: the scale of gamma, the
    reduction of B, the spread discount and per-atom weights change no stage-1 model."""
    plain = key_with()
    assert plain == key_with(gamma_scale="median", bias_reduction="sum",
                             weight_resolution="atom")
    assert key_with(**ENSEMBLE) == key_with(**ENSEMBLE, spread_discount=0.5)
    assert len({plain, key_with(**ENSEMBLE), key_with(bias_estimator="ensemble"),
                key_with(bias_estimator="correction_model")}) == 4


def finished(checkpoint: Path, stopped_by: str = "max_epochs") -> None:
    save_checkpoint(checkpoint, {"progress": {"stopped_by": stopped_by},
                                 "marker": str(checkpoint)})


def own_checkpoints(config: dict[str, Any], folder: Path) -> dict[str, Path]:
    return stage_one.stage_one_checkpoints(config, folder)


def test_a_finished_stage_one_is_published_and_adopted(tmp_path: Path) -> None:
    configs = configs_by_key()
    first, second = configs[f"{ASTEROID}/g0.5/s0"], configs[f"{ASTEROID}/g2/s0"]
    finished(own_checkpoints(first, tmp_path / "first")["stage1"])
    assert stage_one.publish(first, tmp_path / "first", tmp_path / "state")
    assert stage_one.adopt(second, tmp_path / "second", tmp_path / "state")
    adopted = own_checkpoints(second, tmp_path / "second")["stage1"]
    assert adopted.read_bytes() == own_checkpoints(first, tmp_path / "first")["stage1"].read_bytes()
    assert not stage_one.adopt(second, tmp_path / "second", tmp_path / "state")  # has its own


def test_an_ensembles_finished_members_are_shared_one_by_one(tmp_path: Path) -> None:
    configs = configs_by_key(**ENSEMBLE)
    first, second = configs[f"{ASTEROID}/g0.5/s0"], configs[f"{ASTEROID}/g2/s0"]
    members = own_checkpoints(first, tmp_path / "first")
    assert list(members) == ["stage1_m0", "stage1_m1", "stage1_m2"]
    finished(members["stage1_m0"])
    finished(members["stage1_m1"], stopped_by="")  # killed while training
    assert stage_one.publish(first, tmp_path / "first", tmp_path / "state")
    assert stage_one.adopt(second, tmp_path / "second", tmp_path / "state")
    adopted = {name for name, path in own_checkpoints(second, tmp_path / "second").items()
               if path.exists()}
    assert adopted == {"stage1_m0"}  # the others it trains itself
    finished(members["stage1_m1"])
    assert stage_one.publish(first, tmp_path / "first", tmp_path / "state")
    assert not stage_one.publish(first, tmp_path / "first", tmp_path / "state")  # all shared


def test_unfinished_stage_one_and_other_methods_are_not_shared(tmp_path: Path) -> None:
    configs = configs_by_key()
    first = configs[f"{ASTEROID}/g0.5/s0"]
    finished(own_checkpoints(first, tmp_path / "first")["stage1"], stopped_by="")
    assert not stage_one.publish(first, tmp_path / "first", tmp_path / "state")
    standard = configs["ethanol/ccsd/egnn/standard/b6/s0"]
    assert not stage_one.adopt(standard, tmp_path / "other", tmp_path / "state")
    other_seed = configs[f"{ASTEROID}/g0.5/s1"]
    finished(own_checkpoints(first, tmp_path / "first")["stage1"])
    stage_one.publish(first, tmp_path / "first", tmp_path / "state")
    assert not stage_one.adopt(other_seed, tmp_path / "third", tmp_path / "state")
