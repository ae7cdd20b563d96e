"""GemNet's fitted scale factors: variance-preserving sums and products, fitted on real frames.

A ``ScaleFactor`` multiplies an activation by a scalar buffer (1 until fitted). Each one sits
after an operation whose output variance depends on the data rather than on the weights: a
product with a radial basis (small near the cutoff) or a sum over neighbours or triplets
(larger for denser molecules). Following the authors' fitting step, the factor is chosen so
that the scaled activation has the variance of a reference activation, the input of that
operation, on real training frames (variance of each feature over rows, averaged over
features; a factor without reference is fitted to unit variance). Factors are fitted one at a
time in the order the forward pass meets them, because each changes what the later ones see.

The factors are buffers, so ``state_dict`` round trips keep them; the owning model records
that fitting happened (``GemNetT.scaling_fitted``) and skips later fits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

Observer = Callable[["ScaleFactor", Tensor, "Tensor | None"], None]


class ScaleFactor(nn.Module):
    """``values * factor``; ``reference`` is what the fitted output's variance should match."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("factor", torch.ones(()))
        self.observer: Observer | None = None  # set only while fitting

    def forward(self, values: Tensor, reference: Tensor | None = None) -> Tensor:
        scaled = values * self.factor
        if self.observer is not None:
            self.observer(self, scaled, reference)
        return scaled


class FeatureMoments:
    """Running count, sum and sum of squares per feature (float64) of (rows, ...) tensors.

    ``observed`` counts the tensors added, empty ones (no rows) included.
    """

    def __init__(self) -> None:
        self.observed = 0
        self.count = 0
        self.total: Tensor | None = None
        self.squares: Tensor | None = None

    def add(self, values: Tensor) -> None:
        self.observed += 1
        if len(values) == 0:
            return
        rows = values.detach().reshape(len(values), -1).to(torch.float64)
        total, squares = rows.sum(dim=0), rows.pow(2).sum(dim=0)
        if self.total is None:
            self.total, self.squares = total, squares
        else:
            self.total, self.squares = self.total + total, self.squares + squares
        self.count += len(rows)

    def variance(self) -> float:
        """Population variance of each feature over all rows seen, averaged over features."""
        if self.count == 0 or self.total is None:
            return math.nan
        mean = self.total / self.count
        return float((self.squares / self.count - mean.pow(2)).clamp(min=0.0).mean())


class _StopForward(Exception):
    """Raised by the factor being fitted once observed: the rest of the pass is not needed."""


def _factors(module: nn.Module) -> dict[str, ScaleFactor]:
    return {name: child for name, child in module.named_modules()
            if isinstance(child, ScaleFactor)}


def _set_observers(module: nn.Module, observer: Observer | None) -> None:
    for factor in _factors(module).values():
        factor.observer = observer


def forward_order(module: nn.Module, run: Callable[[Any], object], batch: Any) -> list[str]:
    """Names of the ``ScaleFactor``s of ``module`` in the order one call ``run(batch)`` uses them.

    Each may be used at most once per pass (fitting relies on it).
    """
    names = {id(factor): name for name, factor in _factors(module).items()}
    order: list[str] = []

    def record(factor: ScaleFactor, scaled: Tensor, reference: Tensor | None) -> None:
        order.append(names[id(factor)])

    _set_observers(module, record)
    try:
        with torch.no_grad():
            run(batch)
    finally:
        _set_observers(module, None)
    repeated = sorted({name for name in order if order.count(name) > 1})
    if repeated:
        raise ValueError(f"scale factors used more than once per forward pass: {repeated}")
    return order


@torch.no_grad()
def fit_scale_factors(module: nn.Module, run: Callable[[Any], object],
                      batches: Sequence[Any]) -> dict[str, float]:
    """Fit every ``ScaleFactor`` of ``module`` on ``batches``; their new values by name.

    ``run(batch)`` performs the forward pass. For each factor in forward order, the pass is
    run on every batch up to that factor; the factor is then multiplied by
    sqrt(var(reference) / var(scaled output)) (var(reference) = 1 without reference), so the
    output's pooled variance over the batches equals the reference's. A factor whose output
    has zero or undefined variance (nothing to sum, e.g. no triplets) keeps its value.
    """
    if len(batches) == 0:
        raise ValueError("fitting scale factors needs at least one batch")
    factors = _factors(module)
    fitted: dict[str, float] = {}
    for name in forward_order(module, run, batches[0]):
        target = factors[name]
        output, reference_moments = FeatureMoments(), FeatureMoments()

        def observe(factor: ScaleFactor, scaled: Tensor, reference: Tensor | None,
                    target: ScaleFactor = target, output: FeatureMoments = output,
                    reference_moments: FeatureMoments = reference_moments) -> None:
            if factor is not target:
                return
            output.add(scaled)
            if reference is not None:
                reference_moments.add(reference)
            raise _StopForward

        _set_observers(module, observe)
        try:
            for batch in batches:
                try:
                    run(batch)
                except _StopForward:
                    pass
        finally:
            _set_observers(module, None)
        output_variance = output.variance()
        reference_variance = reference_moments.variance() if reference_moments.observed else 1.0
        if (math.isfinite(output_variance) and output_variance > 0
                and math.isfinite(reference_variance) and reference_variance > 0):
            target.factor.mul_(math.sqrt(reference_variance / output_variance))
        fitted[name] = float(target.factor)
    return fitted
