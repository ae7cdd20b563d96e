"""The sweep spec (``sweeps/*.yaml``): pydantic models mirroring the file, and profiles.

A spec lists datasets (which level is accurate, which are inaccurate, which is unlabeled),
models, methods, budgets in accurate-label equivalents, cost ratios (numbers or ``measured``),
the gamma grid, seeds, and ``train``: a partial training config (``harness.train.config``)
applied to every trial, where stage schedules, losses and data sizes live. A profile
(``smoke``, ``default``, ``paper``) is a partial spec merged over the file before validation;
its key ``model_hyperparameters`` is merged into every model's hyper-parameters.

Every mistake becomes one ``ConfigError`` naming the file, the key path and what was expected.
Methods are checked against ``harness.train.config.Method`` when the spec is validated, so a
method added there is accepted here without change.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Annotated, Any, get_args

import yaml
from pydantic import Field, StringConstraints, field_validator, model_validator

from harness.data.budget import MEASURED
from harness.errors import ConfigError
from harness.overrides import apply_overrides
from harness.train.config import Method
from harness.validation import Strict, validated
from harness.yaml_files import read_yaml_file

DEFAULT_PROFILE = "default"
Label = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")]


class LevelSpec(Strict):
    """One level of theory: a dataset folder or file and, when it holds several, the level."""

    path: str
    level: str | None = Field(None, description="None: the file's only level")
    label: Label | None = Field(None, description="name in keys and tags; default: level")

    @property
    def name(self) -> str:
        return self.label or self.level or Path(self.path).stem

    def source(self) -> dict[str, Any]:
        """The ``data.accurate`` / ``data.inaccurate`` block of a training config."""
        return {"path": self.path, "level": self.level}


class DatasetSpec(Strict):
    """A molecule's accurate level, its labelled inaccurate levels and its unlabeled frames."""

    molecule: Label
    label: Label | None = Field(None, description="name in keys; default: molecule")
    accurate: LevelSpec
    inaccurate: list[LevelSpec] = Field(default_factory=list)
    unlabeled: LevelSpec | None = None

    @property
    def name(self) -> str:
        return self.label or self.molecule

    @model_validator(mode="after")
    def _distinct_inaccurate_names(self) -> DatasetSpec:
        names = [level.name for level in self.inaccurate]
        if len(set(names)) != len(names):
            raise ValueError(f"inaccurate levels need distinct names (label), got {names}")
        return self


class ModelSpec(Strict):
    """A backbone by registry name; ``train`` is a partial training config for this model."""

    name: str
    label: Label | None = Field(None, description="name in keys and tags; default: name")
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    train: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.label or self.name


class MethodSpec(Strict):
    """A method; ``levels`` restricts it to some inaccurate levels (by name), None: all."""

    name: str
    levels: list[str] | None = None


class SchedulingSpec(Strict):
    """Optuna heartbeats: a trial whose worker is silent for ``grace_seconds`` is retried."""

    heartbeat_seconds: int = Field(30, ge=1)
    grace_seconds: int = Field(120, ge=1)
    max_retries: int = Field(3, ge=0, description="retries of a trial whose worker died")
    poll_seconds: float = Field(2.0, gt=0, description="how often an idle worker looks for "
                                "work while other workers' trials run")

    @model_validator(mode="after")
    def _grace_exceeds_heartbeat(self) -> SchedulingSpec:
        if self.grace_seconds <= self.heartbeat_seconds:
            raise ValueError("grace_seconds must exceed heartbeat_seconds")
        return self


class TrackingSpec(Strict):
    """MLflow: None uses ``$MLFLOW_TRACKING_URI``, else ``mlflow.db`` in the project root."""

    uri: str | None = None
    artifact_location: str | None = Field(
        None, description="None: mlartifacts/ beside a SQLite database, else the server's")


class SweepSpec(Strict):
    """One sweep: its grid and the training settings shared by every trial."""

    name: Label
    description: str = ""
    datasets: list[DatasetSpec] = Field(min_length=1)
    models: list[ModelSpec] = Field(min_length=1)
    methods: list[MethodSpec] = Field(min_length=1)
    budgets: list[float] = Field(min_length=1, description="accurate-label equivalents")
    cost_ratios: list[float | str] = Field(default_factory=lambda: [MEASURED], min_length=1)
    inaccurate_share: float = Field(
        1.0, gt=0, description="accurate-label equivalents of a budget spent on inaccurate "
        "labels (the paper: 50 of 250); the rest buys accurate frames")
    unlabeled_frames: int = Field(1000, ge=1, description="score matching: unlabeled frames "
                                  "(free: every method samples the same trajectory)")
    gammas: list[float] = Field(default_factory=lambda: [0.1, 0.5, 1.0, 2.0], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    train: dict[str, Any] = Field(default_factory=dict)
    scheduling: SchedulingSpec = Field(default_factory=SchedulingSpec)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    profile: str = Field(DEFAULT_PROFILE, description="set by load_spec, not in the file")

    @field_validator("methods", mode="before")
    @classmethod
    def _method_names_as_entries(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return [{"name": entry} if isinstance(entry, str) else entry for entry in value]

    @field_validator("methods")
    @classmethod
    def _known_methods(cls, value: list[MethodSpec]) -> list[MethodSpec]:
        known = get_args(Method)
        for index, entry in enumerate(value):
            if entry.name not in known:
                raise ValueError(f"[{index}]: unknown method '{entry.name}'; known: "
                                 f"{', '.join(known)}")
        names = [entry.name for entry in value]
        if len(set(names)) != len(names):
            raise ValueError(f"each method once, got {names}")
        return value

    @field_validator("budgets", "gammas")
    @classmethod
    def _positive(cls, value: list[float]) -> list[float]:
        if any(number <= 0 for number in value):
            raise ValueError(f"every value must be positive, got {value}")
        return value

    @field_validator("cost_ratios")
    @classmethod
    def _numbers_or_measured(cls, value: list[float | str]) -> list[float | str]:
        for ratio in value:
            if isinstance(ratio, str) and ratio != MEASURED:
                raise ValueError(f"'{ratio}' is neither a positive number nor '{MEASURED}'")
            if not isinstance(ratio, str) and ratio <= 0:
                raise ValueError(f"cost ratios must be positive, got {ratio}")
        return value

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value) or any(seed < 0 for seed in value):
            raise ValueError(f"seeds must be distinct and non-negative, got {value}")
        return value

    @model_validator(mode="after")
    def _distinct_names(self) -> SweepSpec:
        for what, names in (("datasets", [dataset.name for dataset in self.datasets]),
                            ("models", [model.key for model in self.models])):
            if len(set(names)) != len(names):
                raise ValueError(f"{what} need distinct names (label), got {names}")
        return self


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: mappings merge key by key, anything else is replaced.

    Hand-made on purpose: of the libraries dvc installs, OmegaConf refuses a mapping over a
    list and turns tuples into lists, and dpath fails on int keys and tuples.
    """
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_profile(content: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """The spec with a profile merged over it (``model_hyperparameters`` into every model)."""
    profile = dict(profile)
    hyperparameters = profile.pop("model_hyperparameters", None) or {}
    merged = deep_merge(content, profile)
    if hyperparameters and isinstance(merged.get("models"), list):
        merged["models"] = [
            deep_merge(model, {"hyperparameters": hyperparameters})
            if isinstance(model, dict) else model for model in merged["models"]]
    return merged


def parse_spec(content: Any, source: str, profile: str = DEFAULT_PROFILE,
               overrides: list[str] | None = None) -> SweepSpec:
    """Validate a spec mapping with ``profile`` and then the ``--set`` ``overrides`` applied;
    the first problem is a ConfigError."""
    if not isinstance(content, dict):
        raise ConfigError(source, "<top>", "expected a mapping of keys to values")
    content = dict(content)
    if "arms" in content and "md" in content:
        raise ConfigError(source, "<top>", "this is an MD spec (it has 'arms' and 'md'): run "
                          f"`harness md sweep {source}`")
    if "profile" in content:
        raise ConfigError(source, "profile", "choose the profile on the command line "
                          "(--profile); define profiles under 'profiles'")
    profiles = content.pop("profiles", None) or {}
    if not isinstance(profiles, dict) or not all(isinstance(overrides, dict | type(None))
                                                 for overrides in profiles.values()):
        raise ConfigError(source, "profiles", "expected a mapping of profile names to "
                          "partial specs")
    if profile not in profiles and profile != DEFAULT_PROFILE:
        raise ConfigError(source, "profiles", f"no profile '{profile}'; the spec has "
                          f"{sorted({DEFAULT_PROFILE, *profiles})}")
    merged = apply_overrides(apply_profile(content, profiles.get(profile) or {}),
                             overrides or [])
    try:
        return validated(SweepSpec, {**merged, "profile": profile}, source)
    except ConfigError as error:
        if profile not in profiles:
            raise
        raise ConfigError(source, error.key_path,
                          f"{error.problem} (with profile '{profile}' applied)") from None


def load_spec(path: str | Path, profile: str = DEFAULT_PROFILE,
              overrides: list[str] | None = None) -> SweepSpec:
    """Read and validate a YAML sweep spec under ``profile``, with ``--set`` overrides."""
    path = Path(path)
    content = read_yaml_file(path)
    return parse_spec(content, str(path), profile, overrides)


def profile_names(path: str | Path) -> list[str]:
    """The profiles a spec file defines, ``default`` always among them."""
    content = yaml.safe_load(Path(path).read_text()) or {}
    return sorted({DEFAULT_PROFILE, *(content.get("profiles") or {})})
