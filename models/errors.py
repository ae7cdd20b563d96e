"""The one error of the model layer: a backbone asked for with settings it does not accept.

``models`` knows nothing of files or of the harness; whoever read the settings (a training
config, a model file) passes the error on naming its source.
"""

from __future__ import annotations


class HyperparameterError(ValueError):
    """An unknown model name, an unknown hyper-parameter or a value out of range."""

    def __init__(self, model_name: str, key_path: str, problem: str) -> None:
        self.model_name = model_name
        self.key_path = key_path
        self.problem = problem
        super().__init__(f"{model_name}: key '{key_path}': {problem}")
