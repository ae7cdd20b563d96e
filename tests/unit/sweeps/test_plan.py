from __future__ import annotations

from pathlib import Path

import pytest
from spec_toy import tiny_spec

from harness.errors import ConfigError
from harness.sweeps.plan import format_plan, make_plan
from harness.sweeps.spec import load_spec, parse_spec, profile_names
from harness.train.config import TrainConfig

SWEEPS = Path(__file__).resolve().parents[3] / "sweeps"


def plan_of(profile: str = "default", **changes: object):
    return make_plan(parse_spec(tiny_spec(**changes), "tiny.yaml", profile), "tiny.yaml")


def test_gamma_only_multiplies_bias_aware_methods() -> None:
    plan = plan_of(methods=["standard", "asteroid", "no_bat", "no_ft", "delta_ml"])
    per_method = {cell.method: len(plan.trials_of(cell)) for cell in plan.cells}
    assert per_method == {"standard": 1, "asteroid": 2, "no_bat": 1, "no_ft": 2, "delta_ml": 1}
    gammas = [trial.config["asteroid"]["gammas"] for trial in plan.trials
              if trial.cell.method == "asteroid"]
    assert gammas == [[0.5], [2.0]]


def test_bias_estimator_and_gamma_scale_reach_every_bias_aware_trial() -> None:
    plan = plan_of(methods=["asteroid", "no_ft"], gammas=[0.2, 1.0],
                   train={"asteroid": {"bias_estimator": "correction_model",
                                       "gamma_scale": "effective_sample_size"}})
    settings = [trial.config["asteroid"] for trial in plan.trials]
    assert len(settings) == 4
    assert all(setting["bias_estimator"] == "correction_model" and
               setting["gamma_scale"] == "effective_sample_size" for setting in settings)
    assert sorted(setting["gammas"][0] for setting in settings) == [0.2, 0.2, 1.0, 1.0]


def test_cost_ratios_only_multiply_methods_with_inaccurate_labels() -> None:
    plan = plan_of(methods=["standard", "asteroid", "score_matching"], cost_ratios=[20, 40])
    assert sorted(cell.key for cell in plan.cells) == [
        "ethanol/ccsd+unlabeled/egnn/score_matching/b6",
        "ethanol/ccsd+xtb/egnn/asteroid/b6/r20",
        "ethanol/ccsd+xtb/egnn/asteroid/b6/r40",
        "ethanol/ccsd/egnn/standard/b6",
    ]


def test_budget_buys_accurate_frames_and_inaccurate_frames_by_ratio() -> None:
    plan = plan_of(methods=["standard", "asteroid", "delta_ml", "score_matching"],
                   budgets=[10], inaccurate_share=2)
    data = {trial.cell.method: trial.config["data"] for trial in plan.trials}
    assert data["standard"]["n_accurate_train"] == 10
    assert data["standard"]["inaccurate"] is None
    assert (data["asteroid"]["n_accurate_train"], data["asteroid"]["budget"],
            data["asteroid"]["cost_ratio"]) == (8, 10, 20)
    assert data["delta_ml"]["n_accurate_train"] == 8 and data["delta_ml"].get("budget") is None
    assert data["score_matching"]["n_accurate_train"] == 10
    assert data["score_matching"]["n_inaccurate_train"] == 20
    assert data["score_matching"]["inaccurate"]["level"] == "unlabeled"


def test_trial_configs_are_valid_training_configs_with_spec_settings() -> None:
    for trial in plan_of().trials:
        config = TrainConfig.model_validate(trial.config)
        assert config.seed == trial.seed and config.method == trial.cell.method
        assert config.schedules.accurate.max_epochs == 2
        assert config.model.hyperparameters == {"n_features": 8, "n_layers": 1}
        assert not config.progress


def test_expansion_is_deterministic_with_unique_keys_in_gamma_major_order() -> None:
    first, again = plan_of("two_seeds"), plan_of("two_seeds")
    keys = [trial.key for trial in first.trials]
    assert keys == [trial.key for trial in again.trials]
    assert [t.digest for t in first.trials] == [t.digest for t in again.trials]
    assert len(set(keys)) == len(keys) == 2 * 4
    assert keys[0] == "ethanol/ccsd/egnn/standard/b6/s0"
    assert keys.index("ethanol/ccsd+xtb/egnn/asteroid/b6/r20/g2/s0") > \
        keys.index("ethanol/ccsd+xtb/egnn/asteroid/b6/r20/g0.5/s1")


def test_digest_follows_the_training_config() -> None:
    base = {trial.key: trial.digest for trial in plan_of().trials}
    changed = {trial.key: trial.digest for trial in plan_of(train={"loss": {"rho": 0.01}}).trials}
    assert base.keys() == changed.keys()
    assert all(base[key] != changed[key] for key in base)


def test_method_levels_restrict_inaccurate_levels() -> None:
    content = tiny_spec(methods=["asteroid", {"name": "no_bat", "levels": ["mmff94"]}])
    content["datasets"][0]["inaccurate"].append({"path": "data/ethanol", "level": "mmff94"})
    plan = make_plan(parse_spec(content, "x.yaml"), "x.yaml")
    levels = sorted((cell.method, cell.inaccurate_level) for cell in plan.cells)
    assert levels == [("asteroid", "mmff94"), ("asteroid", "xtb"), ("no_bat", "mmff94")]


def test_baselines_bring_their_own_model_and_run_once_per_dataset() -> None:
    models = [{"name": "egnn", "label": "small"}, {"name": "egnn", "label": "large"}]
    plan = plan_of(methods=["standard", "sgdml"], models=models)
    assert sorted(cell.key for cell in plan.cells) == [
        "ethanol/ccsd/large/standard/b6", "ethanol/ccsd/sgdml/sgdml/b6",
        "ethanol/ccsd/small/standard/b6"]


@pytest.mark.parametrize("changes, key_path, problem", [
    ({"methods": [{"name": "no_bat", "levels": ["dft"]}]}, "methods.0.levels", "dft"),
    ({"budgets": [1]}, "budgets", "leaves 0 accurate frames"),
    ({"train": {"loss": {"rho": 2}}}, "train.loss.rho", "in the training config of trial"),
    ({"train": {"asteroid": {"gamma_scale": "effective_sample_size"}}}, "train.asteroid",
     "in (0, 1]"),
])
def test_plan_errors_name_the_spec_key(changes: dict, key_path: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        plan_of(**changes)
    assert caught.value.key_path == key_path
    assert problem in caught.value.problem


def test_missing_unlabeled_level_is_an_error() -> None:
    content = tiny_spec(methods=["score_matching"])
    del content["datasets"][0]["unlabeled"]
    with pytest.raises(ConfigError, match="needs unlabeled frames"):
        make_plan(parse_spec(content, "x.yaml"), "x.yaml")


def test_format_plan_lists_cells_and_trials() -> None:
    text = format_plan(plan_of())
    assert text.startswith("sweep tiny (profile default): 3 cells, 4 trials")
    assert "ethanol/ccsd+xtb/egnn/asteroid/b6/r20/g2/s0  n_accurate_train=5 budget=6" in text


SHIPPED_SPECS = ("default", "paper-dft", "paper-empirical", "paper-unlabeled", "ablation",
                 "gamma", "cost-ratio", "baselines")


@pytest.mark.parametrize("name", SHIPPED_SPECS)
def test_every_shipped_spec_plans_under_every_profile(name: str) -> None:
    spec_path = SWEEPS / f"{name}.yaml"
    for profile in profile_names(spec_path):
        plan = make_plan(load_spec(spec_path, profile), str(spec_path))
        assert plan.trials, f"{spec_path.name} ({profile}) plans no trial"


def test_asteroid_multi_pre_trains_on_every_other_dataset_with_the_same_level() -> None:
    ethanol = tiny_spec()["datasets"][0]
    other = {**ethanol, "molecule": "other", "accurate": {**ethanol["accurate"],
                                                          "level": "mmff94"}}
    plan = plan_of(methods=["asteroid_multi"], datasets=[ethanol, other])
    partners = {trial.cell.molecule: trial.config["data"]["pretraining_molecules"]
                for trial in plan.trials}
    assert [entry["accurate"]["level"] for entry in partners["ethanol"]] == ["mmff94"]
    assert [entry["accurate"]["level"] for entry in partners["other"]] == ["ccsd"]
    assert all(entry["inaccurate"]["level"] == "xtb" for entries in partners.values()
               for entry in entries)
    with pytest.raises(ConfigError, match="no other dataset has inaccurate level 'xtb'"):
        plan_of(methods=["asteroid_multi"])
