"""Errors that are part of the interface: one class per kind of user mistake.

Every message names the file (or source) and the field so that a user can fix the input
without reading a traceback; the CLI prints ``str(error)`` on one line and exits non-zero.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base class of the errors a user can cause and fix."""


class DataError(HarnessError):
    """A data file is missing a field, has the wrong shape, non-finite values or unknown units."""

    def __init__(self, source: str, field: str, problem: str) -> None:
        self.source = str(source)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.source}: field '{field}': {problem}")


UNKNOWN_CONFIG = "<config>"  # the source of an error raised where the config's file is not known


class ConfigError(HarnessError):
    """A configuration or sweep file is malformed or names something that does not exist."""

    def __init__(self, source: str, key_path: str, problem: str) -> None:
        self.source = str(source)
        self.key_path = key_path
        self.problem = problem
        super().__init__(f"{self.source}: key '{key_path}': {problem}")

    def named(self, source: str) -> ConfigError:
        """This error naming ``source`` where it was raised without knowing its file."""
        if self.source != UNKNOWN_CONFIG:
            return self
        return ConfigError(source, self.key_path, self.problem)
