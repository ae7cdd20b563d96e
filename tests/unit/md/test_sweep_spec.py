"""The MD sweep spec: the shipped spec validates, and each mistake names the file and key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from md_toy import PROJECT_ROOT

from harness.errors import ConfigError
from harness.md.sweep_spec import load_spec


def minimal_spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "md-test", "dataset": "data/ethanol",
        "from_sweep": {"spec": "sweeps/default.yaml", "budget": 25},
        "arms": [{"method": "asteroid"}, {"method": "standard"}, {"method": "inaccurate_only"}],
        "md": {"step_sizes_fs": [0.5, 1.0], "duration_ps": 1.0, "seeds": 2},
    }
    spec.update(changes)
    return spec


@pytest.fixture
def in_project_root() -> Any:
    previous = Path.cwd()
    os.chdir(PROJECT_ROOT)
    yield
    os.chdir(previous)


def write(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


def test_the_shipped_md_stability_spec_is_valid(in_project_root: None) -> None:
    spec = load_spec("sweeps/md-stability.yaml")
    assert {arm.method for arm in spec.arms} == {"asteroid", "standard", "inaccurate_only"}
    assert spec.md.friction_per_fs == 0.002 and spec.md.temperature_K == 500.0


@pytest.mark.parametrize("md_spec", ["sweeps/md-default.yaml", "sweeps/md-stability.yaml"])
def test_a_shipped_md_spec_takes_models_its_sweep_trains(in_project_root: None,
                                                         md_spec: str) -> None:
    from harness.sweeps.spec import load_spec as load_training_spec

    spec = load_spec(md_spec)
    sweep = load_training_spec(spec.from_sweep.spec, spec.from_sweep.profile)
    for arm in spec.arms:
        levels = [method.levels for method in sweep.methods if method.name == arm.method]
        assert levels, f"{spec.from_sweep.spec} does not train {arm.method}"
        if arm.method != "standard":
            assert any(found is None or spec.from_sweep.inaccurate_level in found
                       for found in levels)
    assert spec.from_sweep.budget in sweep.budgets
    assert set(spec.from_sweep.seeds) <= set(sweep.seeds)


def test_a_spec_of_the_other_kind_says_which_command_it_needs(in_project_root: None) -> None:
    from harness.sweeps.spec import load_spec as load_training_spec

    with pytest.raises(ConfigError, match="harness sweep run sweeps/default.yaml"):
        load_spec("sweeps/default.yaml")
    with pytest.raises(ConfigError, match="harness md sweep sweeps/md-default.yaml"):
        load_training_spec("sweeps/md-default.yaml")


@pytest.mark.parametrize(("change", "key"), [
    ({"arms": [{"method": "delta_ml"}]}, "arms.0.method"),
    ({"md": {"step_sizes_fs": [0.5, -1.0], "duration_ps": 1.0, "seeds": 2}}, "md"),
    ({"md": {"step_sizes_fs": [0.5], "duration_ps": 1.0, "seeds": 2, "frction": 0.1}},
     "md.frction"),
    ({"md": {"step_sizes_fs": [0.5], "duration_ps": 1.0, "seeds": 2,
             "stability": {"bond_stretch_factor": 0.9}}}, "md.stability.bond_stretch_factor"),
    ({"arms": [{"method": "standard"}, {"method": "standard"}]}, "<top>"),
    ({"arms": [{"method": "standard", "run_dirs": ["runs/standard-seed0"]}]},
     "arms.0.run_dirs"),
    ({"dataset": "data/no-such-molecule"}, "dataset"),
    ({"from_sweep": {"spec": "sweeps/no-such-sweep.yaml", "budget": 25}}, "from_sweep.spec"),
    ({"training": {"config": "configs/ethanol-egnn-asteroid-xtb.yaml", "budget": 25}},
     "training"),
])
def test_spec_mistakes_name_the_file_and_key(tmp_path: Path, in_project_root: None,
                                              change: dict[str, Any], key: str) -> None:
    path = write(tmp_path, minimal_spec(**change))
    with pytest.raises(ConfigError) as caught:
        load_spec(path)
    assert caught.value.source == str(path)
    assert caught.value.key_path == key


def test_missing_and_malformed_spec_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_spec(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_spec(broken)


def test_the_models_must_come_from_a_sweep(tmp_path: Path, in_project_root: None) -> None:
    content = minimal_spec()
    del content["from_sweep"]
    with pytest.raises(ConfigError) as caught:
        load_spec(write(tmp_path, content))
    assert caught.value.key_path == "from_sweep"
    content["training"] = {"config": "configs/ethanol-egnn-asteroid-xtb.yaml", "budget": 25}
    with pytest.raises(ConfigError, match="MD specs train nothing; run the training sweep, "
                                          "then name it under from_sweep") as caught:
        load_spec(write(tmp_path, content))
    assert caught.value.key_path == "training"
