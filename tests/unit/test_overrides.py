"""``--set key.path=value``: one value of a YAML file changed from the command line."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.overrides import apply_overrides


def test_values_are_read_as_yaml_at_their_key_path_and_the_input_is_untouched() -> None:
    content = {"seeds": [0, 1], "train": {"loss": {"rho": 0.001}}}
    updated = apply_overrides(content, ["seeds=[0]", "train.loss.rho=0.01",
                                        "train.schedules.accurate.max_steps=50", "name=x y"])
    assert updated == {"seeds": [0], "name": "x y",
                       "train": {"loss": {"rho": 0.01},
                                 "schedules": {"accurate": {"max_steps": 50}}}}
    assert content == {"seeds": [0, 1], "train": {"loss": {"rho": 0.001}}}


@pytest.mark.parametrize(("override", "message"), [
    ("seeds", "expected KEY.PATH=VALUE"),
    ("=3", "expected KEY.PATH=VALUE"),
    ("train..rho=1", "expected KEY.PATH=VALUE"),
    ("seeds=[0", "is not a YAML value"),
    ("seeds.first=1", "holds list, not a mapping"),
])
def test_a_malformed_override_is_a_one_line_error(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        apply_overrides({"seeds": [0]}, [override])
    assert str(caught.value).startswith("--set: ")
