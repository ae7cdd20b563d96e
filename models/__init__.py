"""Force-field backbones behind one registry (``models.registry.build_model``)."""

import models.egnn  # noqa: F401  (registers "egnn")
import models.gemnet  # noqa: F401  (registers "gemnet_t")
import models.mace  # noqa: F401  (registers "mace"; mace-torch is imported when one is built)
from models.base import ForceField, energy_and_forces
from models.errors import HyperparameterError
from models.registry import (
    available_models,
    build_model,
    installed_models,
    missing_dependency,
    register_model,
)

__all__ = ["ForceField", "HyperparameterError", "energy_and_forces", "available_models",
           "build_model", "installed_models", "missing_dependency", "register_model"]
