"""Exponential moving average of a model's parameters (evaluation and checkpoints use it).

The effective decay ramps up as min(decay, (1 + n) / (10 + n)) after n updates, so that the
average follows the fast early changes instead of staying near the random initialisation.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


class WeightAverage:
    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0
        self.shadow: dict[str, Tensor] = {
            name: parameter.detach().clone() for name, parameter in model.named_parameters()
        }
        # one fused update of every tensor per step (looking parameters up costs more)
        self._targets = list(self.shadow.values())
        self._sources = [parameter.detach() for _, parameter in model.named_parameters()]

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s parameters (the model it was built with)."""
        del model  # its parameters are updated in place, so the cached views follow them
        self.updates += 1
        decay = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        torch._foreach_lerp_(self._targets, self._sources, 1.0 - decay)

    def averaged_state_dict(self, model: nn.Module) -> dict[str, Tensor]:
        """The model's state dict (buffers included) with the averaged parameters."""
        state = {name: value.detach().clone() for name, value in model.state_dict().items()}
        for name, value in self.shadow.items():
            state[name] = value.clone()
        return state

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily swap the averaged parameters into ``model``."""
        originals = {name: p.detach().clone() for name, p in model.named_parameters()}
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                parameter.copy_(self.shadow[name])
        try:
            yield model
        finally:
            with torch.no_grad():
                for name, parameter in model.named_parameters():
                    parameter.copy_(originals[name])

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.decay = state["decay"]
        self.updates = state["updates"]
        for name, value in state["shadow"].items():
            self.shadow[name].copy_(value)
