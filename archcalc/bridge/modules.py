"""The small torch modules a spec's composites become (no lambdas, so they print and pickle)."""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn


class Residual(nn.Module):
    """``layers(x) + shortcut(x)``; the layers sit directly under this module, by name."""

    def __init__(self, layers: OrderedDict[str, nn.Module], shortcut: nn.Module | None) -> None:
        super().__init__()
        for name, module in layers.items():
            self.add_module(name, module)
        self.main_names = tuple(layers)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        for name in self.main_names:
            y = self._modules[name](y)  # type: ignore[misc]
        return y + (self.shortcut(x) if self.shortcut is not None else x)


class Concat(nn.Module):
    """Branches on the same input, joined on dimension 1 (channels / features)."""

    def __init__(self, branches: OrderedDict[str, nn.Module]) -> None:
        super().__init__()
        for name, module in branches.items():
            self.add_module(name, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for branch in self.children()], dim=1)


class GlobalAvgPool(nn.Module):
    """Average over H×W; flattened to (N, C) unless ``flatten`` is False."""

    def __init__(self, flatten: bool = True) -> None:
        super().__init__()
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.adaptive_avg_pool2d(x, 1)
        return torch.flatten(y, 1) if self.flatten else y

    def extra_repr(self) -> str:
        return f"flatten={self.flatten}"
