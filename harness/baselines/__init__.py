"""Baselines run as methods of the training engine: sGDML and ANI-1ccx (paper Table 4).

Each takes the cell's ``Splits`` and returns a ``MethodOutcome``, so a sweep lists them like any
method and they are tested on the same frames with the same metrics. They import their packages
(``sgdml``, ``torchani``) only when run.
"""
