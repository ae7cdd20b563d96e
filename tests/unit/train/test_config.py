from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from train_toy import tiny_config

from harness.errors import ConfigError
from harness.train.config import load_config, parse_config


def write(tmp_path: Path, content: dict | str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


def dataset_config(tmp_path: Path, **changes: object) -> dict:
    (tmp_path / "toy").mkdir(exist_ok=True)
    config = tiny_config(**changes)
    for role in ("accurate", "inaccurate"):
        config["data"][role]["path"] = str(tmp_path / "toy")
    return config


def error_of(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "\n" not in str(caught.value)
    assert str(path) in str(caught.value)
    return caught.value


def test_valid_config_loads_with_paper_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, dataset_config(tmp_path)))
    assert config.loss.rho == 0.001
    assert config.asteroid.bias_reduction == "mean"
    assert config.asteroid.gamma_scale == "absolute"
    assert config.asteroid.bias_estimator == "stage_one"


def test_malformed_yaml_names_the_file(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, "name: [unclosed\nmethod: standard\n"))
    assert "malformed YAML" in str(error)


def test_unknown_key_names_its_path(tmp_path: Path) -> None:
    config = dataset_config(tmp_path)
    config["schedules"]["fine_tune"]["learning_rte"] = 1e-5
    error = error_of(write(tmp_path, config))
    assert error.key_path == "schedules.fine_tune.learning_rte"
    assert "unknown key" in str(error)


def test_unknown_method_is_an_error(tmp_path: Path) -> None:
    error = error_of(write(tmp_path, dataset_config(tmp_path, method="magic")))
    assert error.key_path == "method"


def test_missing_dataset_is_an_error(tmp_path: Path) -> None:
    config = dataset_config(tmp_path)
    config["data"]["accurate"]["path"] = str(tmp_path / "nowhere")
    error = error_of(write(tmp_path, config))
    assert error.key_path == "data.accurate.path"


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    assert error_of(tmp_path / "absent.yaml").key_path == "<file>"


def test_budget_and_inaccurate_count_exclude_each_other() -> None:
    config = tiny_config()
    config["data"]["budget"] = 25
    with pytest.raises(ConfigError, match="not both"):
        parse_config(config, "x.yaml")


def test_methods_with_inaccurate_frames_need_an_inaccurate_level() -> None:
    config = tiny_config(method="asteroid")
    del config["data"]["inaccurate"]
    with pytest.raises(ConfigError, match="data.inaccurate"):
        parse_config(config, "x.yaml")


def test_non_positive_gamma_is_an_error() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(tiny_config(asteroid={"gammas": [0.5, 0.0]}), "x.yaml")
    assert caught.value.key_path == "asteroid"


@pytest.mark.parametrize(("key", "value"), [("ensemble_size", 1), ("spread_discount", -0.5)])
def test_an_ensemble_of_one_member_or_a_negative_discount_is_an_error(
        tmp_path: Path, key: str, value: float) -> None:
    error = error_of(write(tmp_path, dataset_config(tmp_path, method="asteroid", asteroid={
        "bias_estimator": "ensemble", key: value})))
    assert error.key_path == f"asteroid.{key}"


def test_an_ensemble_defaults_to_four_members_discounted_by_their_spread() -> None:
    settings = parse_config(tiny_config("asteroid", asteroid={"bias_estimator": "ensemble"}),
                            "x.yaml").asteroid
    assert (settings.ensemble_size, settings.spread_discount) == (4, 1.0)


def test_weights_are_per_frame_unless_per_atom_is_asked_for() -> None:
    assert parse_config(tiny_config("asteroid"), "x.yaml").asteroid.weight_resolution == "frame"
    with pytest.raises(ConfigError) as caught:
        parse_config(tiny_config("asteroid", asteroid={"weight_resolution": "bond"}), "x.yaml")
    assert caught.value.key_path == "asteroid.weight_resolution"


def test_a_stage_given_some_keys_keeps_its_kind_defaults_for_the_rest() -> None:
    content = tiny_config("asteroid")
    content["schedules"] = {"inaccurate": {"max_steps": 10}, "fine_tune": {"batch_size": 4}}
    schedules = parse_config(content, "toy.yaml").schedules
    assert schedules.inaccurate.batch_size == 32 and schedules.inaccurate.max_steps == 10
    assert schedules.inaccurate.learning_rate == 1e-3
    assert schedules.fine_tune.learning_rate == 5e-4 and schedules.fine_tune.batch_size == 4
    assert schedules.accurate.learning_rate == 2e-3


def test_only_stages_on_cheap_frames_wait_for_the_floor_without_early_stopping() -> None:
    config = parse_config({**tiny_config("asteroid"),
                           "schedules": {"accurate": {"max_steps": 10}}}, "toy.yaml")
    schedules = config.schedules
    assert schedules.accurate.early_stopping_patience == 1500
    assert schedules.fine_tune.early_stopping_patience == 1500
    assert config.baselines.ani.fine_tune.early_stopping_patience == 1500
    assert schedules.inaccurate.early_stopping_patience is None
    assert schedules.unlabeled.early_stopping_patience is None


def test_relative_data_paths_are_relative_to_the_config_file(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    (tmp_path / "data" / "toy").mkdir(parents=True)
    (tmp_path / "configs").mkdir()
    config = tiny_config()
    for role in ("accurate", "inaccurate"):
        config["data"][role]["path"] = "../data/toy"
    config["baselines"] = {"ani": {"weights_path": "../weights"}}
    path = tmp_path / "configs" / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    loaded = load_config(Path("..") / "configs" / "config.yaml")
    assert loaded.data.accurate.path == str(tmp_path / "data" / "toy")
    assert loaded.data.inaccurate.path == str(tmp_path / "data" / "toy")
    assert loaded.baselines.ani.weights_path == str(tmp_path / "weights")


def test_set_overrides_a_value_and_a_misspelt_key_is_caught(tmp_path: Path) -> None:
    path = write(tmp_path, dataset_config(tmp_path))
    config = load_config(path, ["schedules.accurate.max_steps=123", "seed=7"])
    assert (config.schedules.accurate.max_steps, config.seed) == (123, 7)
    with pytest.raises(ConfigError, match="did you mean 'max_steps'"):
        load_config(path, ["schedules.accurate.max_step=123"])


def test_every_shipped_config_loads_from_another_working_directory(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    configs = Path(__file__).resolve().parents[3] / "configs"
    monkeypatch.chdir(tmp_path)
    for path in sorted(configs.glob("ethanol-*.yaml")):  # the malonaldehyde ones need ../shared
        assert Path(load_config(path).data.accurate.path).is_dir()


def test_a_runs_parameters_leave_out_the_sections_its_method_never_reads(tmp_path: Path
                                                                          ) -> None:
    from harness.train.config import parameters_of

    def keys(method: str) -> set[str]:
        return set(parameters_of(load_config(write(tmp_path,
                                                   dataset_config(tmp_path, method=method)))))

    asteroid, sgdml, standard = keys("asteroid"), keys("sgdml"), keys("standard")
    assert "asteroid.gammas" in asteroid and "schedules.inaccurate.learning_rate" in asteroid
    assert "baselines.sgdml.sigmas" not in asteroid
    assert "asteroid.gammas" not in sgdml and "baselines.sgdml.sigmas" in sgdml
    assert not {key for key in standard if key.startswith(("asteroid.", "fine_tune.",
                                                           "schedules.inaccurate."))}
    assert "schedules.accurate.learning_rate" in standard and "data.n_test" in standard
    assert "progress" not in standard  # display only: a sweep worker turns it on


@pytest.mark.parametrize("factors", [[], [1.0, 1.0], [0.0]])
def test_fine_tuning_learning_rate_factors_are_distinct_and_positive(factors: list) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(tiny_config("no_bat", fine_tune={"learning_rate_factors": factors}),
                     "x.yaml")
    assert caught.value.key_path.startswith("fine_tune.learning_rate_factors")


def test_a_resumed_run_may_switch_progress_but_not_what_it_trains(tmp_path: Path) -> None:
    from harness.train.experiment import claim_output_folder

    shown = parse_config(tiny_config(), "x.yaml")
    claim_output_folder(shown, tmp_path, "x.yaml")
    claim_output_folder(shown.model_copy(update={"progress": False}), tmp_path, "x.yaml")
    other = parse_config(tiny_config(seed=7), "x.yaml")
    with pytest.raises(ConfigError, match="a different config"):
        claim_output_folder(other, tmp_path, "x.yaml")


def test_a_runs_config_snapshot_names_the_files_it_trained_on_from_any_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep's trial config names its data relative to the working directory (the project
    root): its ``config.yaml`` must still load, from its own folder, with the same files, and
    a snapshot of the older kind (relative to the working directory) must still match."""
    from harness.train.experiment import claim_output_folder

    monkeypatch.chdir(tmp_path)
    (tmp_path / "data" / "toy").mkdir(parents=True)
    config = parse_config(tiny_config(data={**tiny_config()["data"],
                                            "accurate": {"path": "data/toy"},
                                            "inaccurate": {"path": str(tmp_path / "data/toy")}}),
                          "x.yaml")
    output = tmp_path / "runs" / "sweep" / "trial"
    claim_output_folder(config, output, "x.yaml")
    written = yaml.safe_load((output / "config.yaml").read_text())
    assert written["data"]["accurate"]["path"] == "../../../data/toy"
    assert written["data"]["inaccurate"]["path"] == str(tmp_path / "data/toy")  # absolute

    monkeypatch.chdir(tmp_path / "runs")  # anywhere else
    reloaded = load_config(output / "config.yaml")
    for role in ("accurate", "inaccurate"):
        assert getattr(reloaded.data, role).path == str(tmp_path / "data/toy")
    claim_output_folder(reloaded, output, str(output / "config.yaml"))  # the same run

    monkeypatch.chdir(tmp_path)
    older = output.parent / "older"
    older.mkdir()
    (older / "config.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
    claim_output_folder(config, older, "x.yaml")
    with pytest.raises(ConfigError, match="a different config"):
        claim_output_folder(config.model_copy(update={"seed": 7}), older, "x.yaml")
