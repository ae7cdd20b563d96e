"""Values of a YAML config or spec overridden from the command line: ``--set key.path=value``.

This is what ``dvc exp run -S`` and Hydra users write: one value changed for one run without
editing the file. The value is read as YAML (``2e-3``, ``[0, 1]``, ``true``, ``null``); the
key path follows the file's nesting, and a misspelt key is then caught by the file's own
validation like any other unknown key.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from harness.errors import ConfigError

FLAG = "--set"


def apply_overrides(content: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``content`` with every ``key.path=value`` of ``overrides`` set (content is untouched)."""
    updated = copy.deepcopy(content)
    for override in overrides:
        key_path, value = _parsed(override)
        *parents, last = key_path.split(".")
        node = updated
        for depth, key in enumerate(parents):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(FLAG, ".".join(parents[:depth + 1]),
                                  f"holds {type(child).__name__}, not a mapping: cannot set "
                                  f"'{key_path}'")
            node = child
        node[last] = value
    return updated


def _parsed(override: str) -> tuple[str, Any]:
    key_path, separator, text = override.partition("=")
    key_path = key_path.strip()
    if not separator or not key_path or any(not part for part in key_path.split(".")):
        raise ConfigError(FLAG, override, "expected KEY.PATH=VALUE, e.g. "
                          "schedules.accurate.max_steps=2000")
    try:
        return key_path, yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(FLAG, key_path, f"'{text}' is not a YAML value") from None
