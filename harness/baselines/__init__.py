"""Baselines run as methods of the training engine: sGDML and ANI-1ccx (paper Table 4).

Each takes the cell's ``Splits`` and returns a ``MethodOutcome``, so a sweep lists them like any
method and they are tested on the same frames with the same metrics. They import their packages
(``sgdml``, ``torchani``) only when run.
"""

from functools import partial

from harness.baselines.ani import ani1ccx
from harness.baselines.sgdml import sgdml
from harness.train.methods import MethodRunner

BASELINE_METHODS: dict[str, MethodRunner] = {
    "sgdml": sgdml,
    "ani1ccx": partial(ani1ccx, fine_tuned=False),
    "ani1ccx_finetuned": partial(ani1ccx, fine_tuned=True),
}
