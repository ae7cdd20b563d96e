"""The tiny sweep spec of the sweep tests, with dataset paths made absolute."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.sweeps.spec import deep_merge

TINY_SPEC = Path(__file__).with_name("tiny.yaml")
PROJECT_ROOT = Path(__file__).resolve().parents[3]


def _absolute_paths(content: Any) -> Any:
    if isinstance(content, dict):
        return {key: (str(PROJECT_ROOT / value) if key == "path" else _absolute_paths(value))
                for key, value in content.items()}
    if isinstance(content, list):
        return [_absolute_paths(item) for item in content]
    return content


def tiny_spec(**changes: Any) -> dict[str, Any]:
    """The tiny spec as a mapping, with ``changes`` merged over it."""
    content = _absolute_paths(yaml.safe_load(TINY_SPEC.read_text()))
    return deep_merge(content, changes)


def write_spec(folder: Path, content: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path
