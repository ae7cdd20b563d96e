"""Pydantic models of the YAML files, and their mistakes as one-line ``ConfigError``s.

Every file a user writes (training config, sweep spec, MD spec, MD settings) is validated
through ``validated`` so that a mistake reads the same everywhere: the file, the dotted key
path as written in the file, and what was expected.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from harness.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)
# The names pydantic puts into an error's location for union members and validators.
_SCALAR_TAGS = frozenset({"float", "int", "str", "bool"})
_TAG_PREFIXES = ("function-", "constrained-")


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently fall back to a default."""

    model_config = ConfigDict(extra="forbid")


def validated(model_class: type[Model], values: Any, source: str) -> Model:
    """``values`` as ``model_class``; the first problem is a ConfigError naming ``source``."""
    try:
        return model_class.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        message = ("unknown key" if first["type"] == "extra_forbidden"
                   else first["msg"].removeprefix("Value error, "))
        raise ConfigError(source, key_path(first["loc"]), message) from None


def key_path(location: tuple[int | str, ...]) -> str:
    """Pydantic's error location as the dotted key path of the file, without its tags
    (``function-after[...]``, ``literal['a']``, ``float``, ``list[int]``)."""
    parts = [str(part) for part in location if not _is_tag(part)]
    return ".".join(parts) or "<top>"


def _is_tag(part: int | str) -> bool:
    return isinstance(part, str) and (part in _SCALAR_TAGS or "[" in part
                                      or part.startswith(_TAG_PREFIXES))
