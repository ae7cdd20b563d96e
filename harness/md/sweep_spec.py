"""An MD stability study's spec (``sweeps/md-stability.yaml``): pydantic models of the YAML.

An MD study trains nothing: its arms' models come from a finished training sweep
(``from_sweep``: per arm and training seed, the trial the sweep selected, found in MLflow), so
that every model is trained once, by the one experiment driver (``harness sweep run``), and the
MD table describes the same models as the accuracy tables. Every model then runs Langevin MD
at each step size for N seeds (and optionally NVE for the drift).
Every mistake is a ``ConfigError`` naming the file and the key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from harness.errors import ConfigError
from harness.md.observables import HistogramSettings
from harness.md.reference import DEFAULT_REFERENCE_LEVEL
from harness.md.stability import StabilityCriteria
from harness.validation import Strict, validated
from harness.yaml_files import read_yaml_file


class FromSweepSpec(Strict):
    """The models of a finished training sweep: per arm and seed, the trial the sweep selected
    (its gamma chosen on validation frames) at ``budget`` and ``inaccurate_level``."""

    spec: str = Field(description="the training sweep's YAML spec")
    profile: str = "default"
    budget: float = Field(gt=0, description="accurate-label equivalents, equal for every arm")
    inaccurate_level: str = "xtb"
    model: str | None = Field(None, description="the sweep's model key; None: its only model")
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)


class ArmSpec(Strict):
    """One compared method: the sweep's selected model of it at every training seed."""

    method: Literal["standard", "asteroid", "no_bat", "no_ft", "inaccurate_only"]
    label: str | None = None

    @property
    def name(self) -> str:
        return self.label or self.method


class MDSweepSettings(Strict):
    """Langevin at each step size for ``duration_ps`` (so larger steps take fewer steps);
    friction in 1/fs. ``nve_duration_ps`` > 0 adds an NVE run per seed for the energy drift."""

    step_sizes_fs: list[float] = Field(min_length=1)
    duration_ps: float = Field(gt=0)
    seeds: int = Field(ge=1, description="MD seeds 0..seeds-1 per model and step size")
    temperature_K: float = Field(500.0, gt=0)
    friction_per_fs: float = Field(0.002, gt=0)
    save_interval_fs: float = Field(10.0, gt=0)
    nve_duration_ps: float = Field(0.0, ge=0)
    start_frame: int = 0
    reference_level: str = DEFAULT_REFERENCE_LEVEL
    dtype: Literal["float32", "float64"] = "float64"
    stability: StabilityCriteria = Field(default_factory=StabilityCriteria)
    histogram: HistogramSettings = Field(default_factory=HistogramSettings)

    @model_validator(mode="after")
    def _positive_distinct_steps(self) -> MDSweepSettings:
        if any(step <= 0 for step in self.step_sizes_fs):
            raise ValueError("every step size must be positive (fs)")
        if len(set(self.step_sizes_fs)) != len(self.step_sizes_fs):
            raise ValueError("step sizes must be distinct")
        return self


class TrackingSpec(Strict):
    enabled: bool = True
    uri: str | None = Field(None, description="None: $MLFLOW_TRACKING_URI, else ./mlflow.db")


class MDSweepSpec(Strict):
    """The whole sweep; the MLflow experiment is ``name``."""

    name: str = Field(min_length=1)
    dataset: str
    runs_dir: str | None = Field(None, description="None: runs/<name>")
    results: str | None = Field(None, description="None: results/<name> (.csv and .json)")
    device: Literal["cpu", "cuda"] = "cpu"
    cpu_threads: int | None = Field(1, ge=1)
    from_sweep: FromSweepSpec
    arms: list[ArmSpec] = Field(min_length=1)
    md: MDSweepSettings
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)

    @model_validator(mode="after")
    def _arm_names_are_distinct(self) -> MDSweepSpec:
        names = [arm.name for arm in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"arm names (label, else method) must be distinct: {names}")
        return self

    @property
    def runs_path(self) -> Path:
        return Path(self.runs_dir or Path("runs") / self.name)

    @property
    def results_stem(self) -> Path:
        return Path(self.results or Path("results") / self.name)


def parse_spec(content: Any, source: str) -> MDSweepSpec:
    if not isinstance(content, dict):
        raise ConfigError(source, "<top>", "expected a mapping of keys to values")
    if "methods" in content and "datasets" in content:
        raise ConfigError(source, "<top>", "this is a training sweep spec (it has 'datasets' "
                          f"and 'methods'): run `harness sweep run {source}`")
    if "training" in content:
        raise ConfigError(source, "training", "unknown key: MD specs train nothing; run the "
                          "training sweep, then name it under from_sweep")
    return validated(MDSweepSpec, content, source)


def load_spec(path: str | Path) -> MDSweepSpec:
    """Read and validate a sweep spec; paths in it are relative to the working directory."""
    path = Path(path)
    content = read_yaml_file(path)
    spec = parse_spec(content, str(path))
    for key, value in (("dataset", spec.dataset), ("from_sweep.spec", spec.from_sweep.spec)):
        if not Path(value).exists():
            raise ConfigError(str(path), key, f"'{value}' does not exist (relative to "
                                              f"{Path.cwd()})")
    return spec
