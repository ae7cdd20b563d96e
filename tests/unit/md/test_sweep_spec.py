"""The MD sweep spec: the shipped spec validates, and each mistake names the file and key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from md_toy import PROJECT_ROOT, save_run

from harness.errors import ConfigError
from harness.md.sweep import run_sweep, training_config
from harness.md.sweep_spec import load_spec


def minimal_spec(**changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "md-test", "dataset": "data/ethanol",
        "training": {"config": "configs/ethanol-egnn-asteroid-xtb.yaml", "budget": 25},
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


def test_the_default_md_spec_takes_the_default_sweeps_models(in_project_root: None) -> None:
    from harness.sweeps.spec import load_spec as load_training_spec

    spec = load_spec("sweeps/md-default.yaml")
    assert spec.training is None and spec.from_sweep is not None
    sweep = load_training_spec(spec.from_sweep.spec, spec.from_sweep.profile)
    trained = {method.name for method in sweep.methods}
    assert {arm.method for arm in spec.arms} <= trained
    assert spec.budget in sweep.budgets and set(spec.training_seeds) <= set(sweep.seeds)


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
    ({"arms": [{"method": "standard", "run_dirs": ["a", "b"]}]}, "<top>"),
    ({"dataset": "data/no-such-molecule"}, "dataset"),
    ({"arms": [{"method": "standard", "run_dirs": ["runs/not-there"]}]}, "arms.0.run_dirs.0"),
    ({"from_sweep": {"spec": "sweeps/default.yaml", "budget": 25}}, "<top>"),
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


def test_arms_train_at_the_same_budget(tmp_path: Path, in_project_root: None) -> None:
    spec = load_spec(write(tmp_path, minimal_spec()))
    standard, asteroid, inaccurate_only = (training_config(spec, arm, seed=3)
                                           for arm in (spec.arms[1], spec.arms[0], spec.arms[2]))
    assert standard["data"]["n_accurate_train"] == 25 and "inaccurate" not in standard["data"]
    for config in (asteroid, inaccurate_only):
        assert config["data"]["n_accurate_train"] == 24 and config["data"]["budget"] == 25.0
        assert config["data"]["inaccurate"] == {"path": "data/ethanol", "level": "xtb"}
        assert "n_inaccurate_train" not in config["data"]
    assert inaccurate_only["method"] == "inaccurate_only" and asteroid["seed"] == 3
    assert asteroid["tracking"]["experiment"] == "md-test"
    assert asteroid["model"] == {"name": "egnn",
                                 "hyperparameters": {"n_features": 64, "n_layers": 3}}


def test_a_reused_run_of_another_method_is_refused(tmp_path: Path, in_project_root: None
                                                   ) -> None:
    folder = save_run(tmp_path / "asteroid-run", method="asteroid")
    path = write(tmp_path, minimal_spec(arms=[{"method": "standard",
                                               "run_dirs": [str(folder)]}],
                                        runs_dir=str(tmp_path / "runs"),
                                        results=str(tmp_path / "results")))
    with pytest.raises(ConfigError, match="'asteroid' model") as caught:
        run_sweep(path)
    assert caught.value.key_path == "arms.0.run_dirs"
