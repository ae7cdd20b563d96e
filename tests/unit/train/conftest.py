"""Fixtures of the training tests (helpers live in ``train_toy``)."""

from __future__ import annotations

import pytest
from train_toy import QuadraticModel


@pytest.fixture
def quadratic_model() -> QuadraticModel:
    return QuadraticModel().double()
