"""One translation of pydantic's errors for every file a user writes."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import ConfigDict, Field, StringConstraints, field_validator

from harness.errors import ConfigError
from harness.md.runner import MDSettings
from harness.validation import Strict, validated

Label = Annotated[str, StringConstraints(pattern=r"^[a-z]+$")]


class Level(Strict):
    name: Label | list[Label] = "ccsd"
    cost_ratio: float | Literal["measured"] = "measured"


class Spec(Strict):
    levels: list[Level] = Field(default_factory=list)
    gammas: list[float] | None = None
    seeds: int = 1

    @field_validator("seeds")
    @classmethod
    def positive(cls, seeds: int) -> int:
        if seeds < 1:
            raise ValueError("must be at least 1")
        return seeds


def error_of(values: object) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        validated(Spec, values, "spec.yaml")
    return caught.value


def test_an_unknown_key_is_named_with_its_path_in_the_file() -> None:
    error = error_of({"levels": [{"nmae": "dft"}]})
    assert (error.source, error.key_path, error.problem) == (
        "spec.yaml", "levels.0.nmae", "unknown key (did you mean 'name'?)")


@pytest.mark.parametrize(("values", "key_path"), [
    ({"levels": [{"cost_ratio": "cheap"}]}, "levels.0.cost_ratio"),
    ({"gammas": [1.0, "large"]}, "gammas.1"),
    ({"levels": [{"name": "DFT"}]}, "levels.0.name"),
    ({"seeds": 0}, "seeds"),
])
def test_key_paths_carry_no_pydantic_type_tags(values: dict, key_path: str) -> None:
    assert error_of(values).key_path == key_path


def test_a_validator_message_comes_without_pydantics_prefix() -> None:
    assert error_of({"seeds": 0}).problem == "must be at least 1"
    assert "\n" not in str(error_of({"seeds": 0}))


def test_frozen_settings_stay_strict() -> None:
    assert MDSettings.model_config == ConfigDict(extra="forbid", frozen=True)
    with pytest.raises(ConfigError, match="key 'step_size': unknown key"):
        validated(MDSettings, {"steps": 10, "step_size": 1.0}, "harness md run")


def test_an_unknown_key_names_the_closest_known_one_before_any_missing_key() -> None:
    class Data(Strict):
        n_accurate_train: int
        n_test: int = 500

    class Config(Strict):
        data: Data

    with pytest.raises(ConfigError) as caught:
        validated(Config, {"data": {"n_acurate_train": 25}}, "config.yaml")
    assert str(caught.value) == ("config.yaml: key 'data.n_acurate_train': unknown key "
                                 "(did you mean 'n_accurate_train'?)")


def test_a_key_like_none_lists_the_known_ones_inside_lists_and_unions() -> None:
    assert str(error_of({"levels": [{"name": "ccsd"}, {"zzz": 1}]})) == (
        "spec.yaml: key 'levels.1.zzz': unknown key; known: cost_ratio, name")
    assert "did you mean 'gammas'" in str(error_of({"gamas": [1.0]}))
