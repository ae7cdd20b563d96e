"""Molecular dynamics with trained force fields: the ASE calculator, batched Langevin and NVE
integration, stability criteria, observables (h(r), energy drift, speed) and the MD sweep.

At the MD boundary everything is in ASE's units (eV, Angstrom, amu, ASE time); the models
inside still speak the harness's kcal/mol and Angstrom, converted in one place
(``harness.md.calculator``; sGDML's calculator converts sGDML's, ``harness.md.sgdml_calculator``).
Step sizes are given in fs and friction in 1/fs.
"""
