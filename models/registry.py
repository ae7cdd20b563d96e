"""Models chosen by name and hyper-parameters from YAML.

Adding a backbone is one new file in ``models/`` that decorates its class with
``@register_model("name")`` and is imported in ``models/__init__.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from models.base import ForceField
from models.errors import HyperparameterError

_REGISTRY: dict[str, type[ForceField]] = {}


def register_model(name: str) -> Callable[[type[ForceField]], type[ForceField]]:
    def decorate(cls: type[ForceField]) -> type[ForceField]:
        if name in _REGISTRY:
            raise ValueError(f"model name '{name}' registered twice")
        _REGISTRY[name] = cls
        cls.registry_name = name
        return cls

    return decorate


def available_models() -> list[str]:
    return sorted(_REGISTRY)


def installed_models() -> list[str]:
    """The registered names that can be built here: their optional packages are installed."""
    return [name for name in available_models() if missing_dependency(name) is None]


def missing_dependency(name: str) -> str | None:
    """What the registered model ``name`` needs installed before it can be built, or None."""
    return _REGISTRY[name].missing_dependency()


def build_model(name: str, hyperparameters: dict[str, Any] | None = None) -> ForceField:
    """The registered model ``name`` built with ``hyperparameters``.

    An unknown name or key, or a value the backbone refuses, is a ``HyperparameterError``.
    """
    if name not in _REGISTRY:
        raise HyperparameterError(name, "model.name",
                                  f"unknown model '{name}'; known: {available_models()}")
    cls = _REGISTRY[name]
    hyperparameters = dict(hyperparameters or {})
    accepted = inspect.signature(cls.__init__).parameters
    unknown = sorted(set(hyperparameters) - set(accepted))
    if unknown:
        raise HyperparameterError(
            name, f"model.{unknown[0]}",
            f"not a hyper-parameter of '{name}'; accepted: {sorted(set(accepted) - {'self'})}",
        )
    model = cls(**hyperparameters)
    model.hyperparameters = hyperparameters
    return model
