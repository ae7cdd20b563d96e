"""``constraints.txt`` pins every package ``make install`` installs, within pyproject's ranges.

The committed numbers depend on the releases that made them (``results/README.md``), so a fresh
clone must install the same ones: a requirement without a pin, or a pin outside its range,
would let a new release move the digits or break the install.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

tomllib = pytest.importorskip("tomllib")  # Python 3.11 and newer
ROOT = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pinned[canonicalize_name(name)] = version
    return pinned


def requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    named = [*project["dependencies"],
             *(entry for extra in project["optional-dependencies"].values() for entry in extra)]
    return [Requirement(entry) for entry in named]


def test_every_line_is_an_exact_pin() -> None:
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert line.count("==") == 1 and " " not in line, line


def test_every_requirement_is_pinned_within_its_range() -> None:
    pinned = pins()
    for requirement in requirements():
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{requirement.name} is not in constraints.txt"
        assert requirement.specifier.contains(pinned[name], prereleases=True), \
            f"{requirement.name}=={pinned[name]} is outside pyproject's {requirement.specifier}"


def test_torch_is_pinned_without_a_build_label() -> None:
    assert pins()["torch"] == "2.13.0"  # a CUDA build of the same release satisfies it
