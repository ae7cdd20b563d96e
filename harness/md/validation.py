"""Pydantic validation of MD settings and specs, with mistakes as one-line ``ConfigError``s."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from harness.errors import ConfigError

Settings = TypeVar("Settings", bound=BaseModel)


def validated(settings_class: type[Settings], values: Any, source: str) -> Settings:
    """``values`` as ``settings_class``; the first problem names ``source`` and the key path."""
    try:
        return settings_class.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        key_path = ".".join(str(part) for part in first["loc"]) or "<top>"
        message = ("unknown key" if first["type"] == "extra_forbidden"
                   else first["msg"].removeprefix("Value error, "))
        raise ConfigError(source, key_path, message) from None
