"""Level names in the report: data slugs with a basis set read as a chemist writes them."""

import pytest

from harness.report.names import budget_name, level_name


@pytest.mark.parametrize(("slug", "name"), [
    ("xtb", "GFN2-xTB"),
    ("ccsd(t)-cc-pvdz", "CCSD(T)/cc-pVDZ"),
    ("CCSD-cc-pVTZ", "CCSD/cc-pVTZ"),
    ("ccsd(t)-aug-cc-pvqz", "CCSD(T)/aug-cc-pVQZ"),
    ("ccsd(t)-cc-pwcvtz", "CCSD(T)/cc-pwCVTZ"),
    ("pbe-def2-svp", "PBE/def2-SVP"),
])
def test_known_levels_and_basis_sets_are_named(slug, name):
    assert level_name(slug) == name


@pytest.mark.parametrize("slug", ["rmd17-pbe-def2svp", "pbe-def2svp", "mp2-6-31g*", "b3lyp"])
def test_unknown_levels_or_basis_families_are_shown_as_they_are(slug):
    assert level_name(slug) == slug


def test_a_budget_on_a_level_with_a_basis_set_names_both():
    assert budget_name(50, "ccsd(t)-cc-pvdz") == "50 CCSD(T)/cc-pVDZ-label equivalents"
