"""How far a training stage has got: a bar on a terminal, plain periodic lines elsewhere.

A progress bar redrawn with carriage returns floods a log file, a CI log or ``dvc repro``'s
output (tens of KB per run); there a line every ``interval_s`` seconds says the same.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm.auto import tqdm

PLAIN_INTERVAL_S = 30.0


class StepProgress:
    """Optimiser steps of one stage, out of its cap, with the last validation loss."""

    def __init__(self, name: str, total: int, initial: int, enabled: bool,
                 stream: TextIO | None = None, interval_s: float = PLAIN_INTERVAL_S) -> None:
        self.stream = stream or sys.stderr
        self.name, self.total, self.step = name, total, initial
        self.enabled, self.interval_s = enabled, interval_s
        self.validation: float | None = None
        self.bar = tqdm(total=total, initial=initial, desc=name, unit="step", leave=False,
                        file=self.stream, mininterval=1.0) \
            if enabled and self.stream.isatty() else None
        self.last_line = self.started = time.monotonic()
        self.started_step = initial

    def validated(self, validation_loss: float) -> None:
        self.validation = validation_loss
        if self.bar is not None:
            self.bar.set_postfix(validation=f"{validation_loss:.4g}", refresh=False)

    def update(self) -> None:
        self.step += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.enabled and time.monotonic() - self.last_line >= self.interval_s:
            self._line()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.step > self.started_step:
            self._line()

    def _line(self) -> None:
        now = time.monotonic()
        rate = (self.step - self.started_step) / max(now - self.started, 1e-9)
        validation = "" if self.validation is None else f", validation loss {self.validation:.4g}"
        print(f"{self.name}: step {self.step} (cap {self.total}){validation}, {rate:.1f} steps/s",
              file=self.stream, flush=True)
        self.last_line = now
