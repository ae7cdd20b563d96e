"""MD tests run torch on one thread: the machine's cores are shared, and spinning OpenMP
threads slow the many tiny model calls of an MD loop far more than they help."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
