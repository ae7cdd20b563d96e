"""Unit conversion into the internal units (kcal/mol, Angstrom, kcal/mol/Angstrom).

Constants come from ``ase.units`` (CODATA), never typed by hand. Unit names are matched
case-insensitively; an unknown name is a ``DataError`` naming the file and the field.
"""

from __future__ import annotations

from dataclasses import dataclass

from ase import units as ase_units

from harness.errors import DataError

KCAL_PER_MOL_IN_EV = ase_units.kcal / ase_units.mol

# Factor that multiplies a value in the named unit to give kcal/mol.
ENERGY_TO_KCAL_PER_MOL: dict[str, float] = {
    "kcal/mol": 1.0,
    "ev": 1.0 / KCAL_PER_MOL_IN_EV,
    "hartree": ase_units.Hartree / KCAL_PER_MOL_IN_EV,
    "ha": ase_units.Hartree / KCAL_PER_MOL_IN_EV,
    "kj/mol": (ase_units.kJ / ase_units.mol) / KCAL_PER_MOL_IN_EV,
}

# Factor that multiplies a value in the named unit to give Angstrom.
LENGTH_TO_ANGSTROM: dict[str, float] = {
    "angstrom": 1.0,
    "ang": 1.0,
    "bohr": ase_units.Bohr,
    "nm": 10.0,
}


def energy_factor(unit: str, source: str = "<input>", field: str = "energy_unit") -> float:
    """Factor from ``unit`` to kcal/mol."""
    return _lookup(ENERGY_TO_KCAL_PER_MOL, unit, source, field)


def length_factor(unit: str, source: str = "<input>", field: str = "length_unit") -> float:
    """Factor from ``unit`` to Angstrom."""
    return _lookup(LENGTH_TO_ANGSTROM, unit, source, field)


def force_factor(energy_unit: str, length_unit: str, source: str = "<input>") -> float:
    """Factor from ``energy_unit``/``length_unit`` to kcal/mol/Angstrom."""
    return energy_factor(energy_unit, source) / length_factor(length_unit, source)


def _lookup(table: dict[str, float], unit: str, source: str, field: str) -> float:
    key = unit.strip().lower()
    if key not in table:
        raise DataError(source, field, f"unknown unit '{unit}'; known: {sorted(table)}")
    return table[key]


@dataclass(frozen=True)
class DeclaredUnits:
    """The units a file says its values are in (names as the file spells them).

    ``force`` None means ``energy``/``length``. ``factors`` turns them into multipliers to the
    internal kcal/mol, Angstrom and kcal/mol/Angstrom; an unknown name is a ``DataError``.
    """

    energy: str = "kcal/mol"
    length: str = "Angstrom"
    force: str | None = None

    @property
    def force_name(self) -> str:
        return self.force or f"{self.energy}/{self.length}"

    def factors(self, source: str, fields: tuple[str, str, str] = ("energy_unit", "length_unit",
                                                                     "force_unit")
                ) -> tuple[float, float, float]:
        """(energy, length, force) factors; ``fields`` name the three in errors."""
        energy = energy_factor(self.energy, source, fields[0])
        length = length_factor(self.length, source, fields[1])
        if self.force is None:
            return energy, length, energy / length
        energy_part, slash, length_part = self.force.strip().rpartition("/")
        if not slash:
            raise DataError(source, fields[2], f"expected ENERGY/LENGTH such as "
                            f"'hartree/bohr', got '{self.force}'")
        return energy, length, (energy_factor(energy_part, source, fields[2])
                                / length_factor(length_part, source, fields[2]))

    def is_internal(self, source: str = "<input>") -> bool:
        return self.factors(source) == (1.0, 1.0, 1.0)

    def as_dict(self) -> dict[str, str]:
        """What ``harness data inspect`` shows as the units it converted from."""
        return {"energy": self.energy, "length": self.length, "force": self.force_name}
