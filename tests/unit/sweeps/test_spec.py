from __future__ import annotations

import copy
from pathlib import Path

import pytest
from spec_toy import tiny_spec, write_spec

from harness.errors import ConfigError
from harness.sweeps.spec import deep_merge, load_spec, parse_spec, profile_names

SWEEPS = Path(__file__).resolve().parents[3] / "sweeps"


def error_of(content: object, profile: str = "default") -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_spec(content, "sweeps/x.yaml", profile)
    assert "\n" not in str(caught.value)
    assert "sweeps/x.yaml" in str(caught.value)
    return caught.value


def test_tiny_spec_loads_with_its_lists() -> None:
    spec = parse_spec(tiny_spec(), "tiny.yaml")
    assert [method.name for method in spec.methods] == ["standard", "asteroid", "delta_ml"]
    assert spec.datasets[0].inaccurate[0].name == "xtb"
    assert spec.cost_ratios == [20]
    assert spec.profile == "default"


def test_unknown_key_names_its_path() -> None:
    content = tiny_spec()
    content["datasets"][0]["accurate"]["lvl"] = "ccsd"
    error = error_of(content)
    assert error.key_path == "datasets.0.accurate.lvl"
    assert error.problem == "unknown key (did you mean 'level'?)"


def test_unknown_method_lists_the_known_ones() -> None:
    error = error_of(tiny_spec(methods=["standard", "asteroidd"]))
    assert error.key_path == "methods"
    assert "[1]: unknown method 'asteroidd'" in error.problem
    assert "score_matching" in error.problem


def test_method_list_follows_the_training_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from typing import Literal

    import harness.sweeps.spec as spec_module

    monkeypatch.setattr(spec_module, "Method", Literal["standard", "sgdml"])
    assert parse_spec(tiny_spec(methods=["sgdml"]), "x.yaml").methods[0].name == "sgdml"


@pytest.mark.parametrize("field, value, problem", [
    ("budgets", [10, -1], "positive"),
    ("gammas", [0.0], "positive"),
    ("cost_ratios", ["cheap"], "neither a positive number nor 'measured'"),
    ("seeds", [0, 0], "distinct"),
    ("scheduling", {"heartbeat_seconds": 10, "grace_seconds": 5}, "grace_seconds must exceed"),
])
def test_values_out_of_range_are_refused(field: str, value: object, problem: str) -> None:
    error = error_of(tiny_spec(**{field: value}))
    assert error.key_path.startswith(field)
    assert problem in error.problem


def test_profile_overrides_lists_and_every_models_hyperparameters() -> None:
    spec = parse_spec(tiny_spec(), "tiny.yaml", "two_seeds")
    assert spec.seeds == [0, 1]
    assert spec.models[0].hyperparameters == {"n_features": 4, "n_layers": 1}
    assert spec.profile == "two_seeds"


def test_deep_merge_merges_mappings_and_replaces_everything_else() -> None:
    base = {"train": {"seed": 0, "schedules": {"lr": 1e-3}}, "seeds": [0, 1], "name": "x",
            "gammas": [0.5], 3: (1, 2)}
    override = {"train": {"schedules": {"batch": 8}}, "seeds": [2], "name": {"long": "x"},
                "gammas": {"grid": "fine"}, 3: (3,)}
    before = copy.deepcopy((base, override))
    assert deep_merge(base, override) == {
        "train": {"seed": 0, "schedules": {"lr": 1e-3, "batch": 8}}, "seeds": [2],
        "name": {"long": "x"}, "gammas": {"grid": "fine"}, 3: (3,)}
    assert (base, override) == before


def test_unknown_profile_and_profile_in_the_file_are_refused() -> None:
    assert "no profile 'paper'" in error_of(tiny_spec(), "paper").problem
    assert error_of({**tiny_spec(), "profile": "smoke"}).key_path == "profile"


def test_error_from_a_profile_says_so() -> None:
    content = tiny_spec(profiles={"broken": {"budgets": [0]}})
    assert "with profile 'broken' applied" in error_of(content, "broken").problem


def test_load_spec_reports_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_spec(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="malformed YAML at line"):
        load_spec(broken)


def test_profile_names_always_include_default(tmp_path: Path) -> None:
    path = write_spec(tmp_path, tiny_spec())
    assert profile_names(path) == ["default", "two_seeds"]
    assert "smoke" in profile_names(SWEEPS / "default.yaml")


def test_set_overrides_apply_after_the_profile() -> None:
    spec = parse_spec(tiny_spec(), "tiny.yaml", "default", ["seeds=[5]", "budgets=[7]"])
    assert (spec.seeds, spec.budgets) == ([5], [7])
