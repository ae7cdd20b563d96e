"""Reading the project's YAML files (configs, sweep specs) with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError


def read_yaml_file(path: str | Path) -> Any:
    """The parsed content of ``path``; a missing file or malformed YAML is a ConfigError that
    names the file (and the line, where the parser knows it)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), "<file>", "no such file")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise ConfigError(str(path), "<file>", f"malformed YAML{where}") from None
