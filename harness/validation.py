"""Pydantic models of the YAML files, and their mistakes as one-line ``ConfigError``s.

Every file a user writes (training config, sweep spec, MD spec, MD settings) is validated
through ``validated`` so that a mistake reads the same everywhere: the file, the dotted key
path as written in the file, and what was expected.
"""

from __future__ import annotations

import difflib
import types
from typing import Any, TypeVar, Union, get_args, get_origin

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
    """``values`` as ``model_class``; the first problem is a ConfigError naming ``source``.

    An unknown key is reported before anything else (a misspelt key usually also leaves a
    required one missing), with the closest known key when one is close."""
    try:
        return model_class.model_validate(values)
    except ValidationError as error:
        problems = error.errors()
        unknown = [problem for problem in problems if problem["type"] == "extra_forbidden"]
        first = (unknown or problems)[0]
        if unknown:
            message = "unknown key" + _did_you_mean(model_class, first["loc"])
        else:
            message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(source, key_path(first["loc"]), message) from None


def _did_you_mean(model_class: type[BaseModel], location: tuple[int | str, ...]) -> str:
    known = _keys_at(model_class, location[:-1])
    close = difflib.get_close_matches(str(location[-1]), known, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(known)}"


def _keys_at(model_class: type[BaseModel], location: tuple[int | str, ...]) -> list[str]:
    """The keys a mapping at ``location`` accepts (as written in the file), when they can be
    told from the annotations; else none."""
    candidates: list[Any] = [model_class]
    for part in location:
        if _is_tag(part):
            continue
        following: list[Any] = []
        for annotation in candidates:
            for inner in _unwrapped(annotation):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    field = _field_named(inner, str(part))
                    if field is not None:
                        following.append(field.annotation)
                elif isinstance(part, int) or get_origin(inner) is dict:
                    following += list(get_args(inner)[-1:])
        candidates = following
    keys = {_written_name(name, field) for annotation in candidates
            for inner in _unwrapped(annotation)
            if isinstance(inner, type) and issubclass(inner, BaseModel)
            for name, field in inner.model_fields.items()}
    return sorted(keys)


def _unwrapped(annotation: Any) -> list[Any]:
    """The members of a union (``X | None``) or the annotation itself."""
    if get_origin(annotation) in (Union, types.UnionType):
        return [member for member in get_args(annotation) if member is not type(None)]
    return [annotation]


def _field_named(model_class: type[BaseModel], key: str) -> Any:
    return next((field for name, field in model_class.model_fields.items()
                 if _written_name(name, field) == key), None)


def _written_name(name: str, field: Any) -> str:
    return field.alias or name


def key_path(location: tuple[int | str, ...]) -> str:
    """Pydantic's error location as the dotted key path of the file, without its tags
    (``function-after[...]``, ``literal['a']``, ``float``, ``list[int]``)."""
    parts = [str(part) for part in location if not _is_tag(part)]
    return ".".join(parts) or "<top>"


def _is_tag(part: int | str) -> bool:
    return isinstance(part, str) and (part in _SCALAR_TAGS or "[" in part
                                      or part.startswith(_TAG_PREFIXES))
