"""Fixtures of the baseline tests (helpers live in ``baseline_toy``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from baseline_toy import RecordingTracker, baseline_config, harmonic_frames

from harness.train.config import parse_config
from harness.train.methods import MethodContext, Splits


@pytest.fixture
def toy_splits() -> Splits:
    return Splits(accurate_train=harmonic_frames(30, seed=0),
                  validation=harmonic_frames(10, seed=1), test=harmonic_frames(12, seed=2))


@pytest.fixture
def method_context(tmp_path: Path) -> Callable[..., MethodContext]:
    """``method_context(method, **config changes)``: a float64 CPU context in ``tmp_path``."""

    def make(method: str, **changes: Any) -> MethodContext:
        config = parse_config(baseline_config(method, **changes), "toy.yaml")
        return MethodContext(config, torch.device("cpu"), torch.float64, tmp_path / "checkpoints")

    return make


@pytest.fixture
def recording_tracker() -> RecordingTracker:
    return RecordingTracker()
