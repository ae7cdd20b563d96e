"""The ``sgdml`` package, imported behind the fixes it needs here (numpy 2.4, logging).

Training (``harness.baselines.sgdml``) and the ASE calculator (``harness.md``) both import
sGDML through this module, which depends on nothing else of the harness.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


def ensure_numpy_in1d() -> bool:
    """Alias ``numpy.in1d`` to ``numpy.isin`` when numpy lacks it; True when it added it.

    sgdml 1.0.3 calls ``numpy.in1d`` (when it subsamples training frames itself), which
    numpy 2.4 removed; ``isin`` is its documented replacement with the same arguments and
    result for 1-d input. An existing ``in1d`` is left alone.
    """
    if hasattr(np, "in1d"):
        return False
    np.in1d = np.isin
    return True


@contextmanager
def sgdml_imports() -> Iterator[None]:
    """Import from ``sgdml`` inside this block: behind the numpy shim, the logging kept.

    Importing ``sgdml`` makes its coloured logger the class of every logger created later in
    the process; the previous class is restored so other libraries keep their logging.
    """
    ensure_numpy_in1d()
    logger_class = logging.getLoggerClass()
    try:
        yield
    finally:
        logging.setLoggerClass(logger_class)


def sgdml_api() -> tuple[type, type]:
    """sGDML's ``GDMLTrain`` and ``GDMLPredict``."""
    with sgdml_imports():
        from sgdml.predict import GDMLPredict
        from sgdml.train import GDMLTrain
    return GDMLTrain, GDMLPredict


def sgdml_ase_calculator() -> type:
    """sGDML's own ASE calculator class, ``sgdml.intf.ase_calc.SGDMLCalculator``."""
    with sgdml_imports():
        from sgdml.intf.ase_calc import SGDMLCalculator
    return SGDMLCalculator
